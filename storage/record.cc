#include "storage/record.h"

namespace sipdex {

std::string_view RecordKindName(RecordKind k) {
  switch (k) {
    case RecordKind::kProtocol: return "protocol";
    case RecordKind::kDiagnostic: return "diagnostic";
    case RecordKind::kOther: return "other";
    case RecordKind::kForeign: return "foreign";
    case RecordKind::kJunk: return "junk";
  }
  return "unknown";
}

std::string_view DiagHeaderName(DiagVariant v) {
  switch (v) {
    case DiagVariant::kMsDiagnostics: return "ms-diagnostics";
    case DiagVariant::kPublic: return "ms-diagnostics-public";
    case DiagVariant::kClient: return "ms-client-diagnostics";
  }
  return "";
}

std::string_view MalformedBitName(std::uint32_t bit) {
  switch (bit) {
    case kMalformedTruncated: return "truncated";
    case kMalformedHeaderLine: return "header-line";
    case kMalformedTime: return "time";
    case kMalformedSipLine: return "sip-line";
    case kMalformedBinary: return "binary";
    case kMalformedLongLine: return "long-line";
    case kMalformedDiagnostics: return "diagnostics";
    case kMalformedBody: return "body";
    case kMalformedForeign: return "foreign";
    case kMalformedJunk: return "junk";
    case kMalformedEmptyFile: return "empty-file";
    default: return "unknown";
  }
}

std::string MalformedReasons(std::uint32_t bits) {
  std::string out;
  for (int i = 0; i < kMalformedBitCount; ++i) {
    std::uint32_t bit = 1u << i;
    if (bits & bit) {
      if (!out.empty()) out += ',';
      out += MalformedBitName(bit);
    }
  }
  return out;
}

void Record::Clear() {
  std::vector<std::string_view> rr = std::move(record_route);
  std::vector<Header> hs = std::move(headers);
  std::vector<Diagnostic> ds = std::move(diagnostics);
  std::vector<ResourceInstance> rs = std::move(resources);
  std::deque<std::string> sc = std::move(scratch);
  *this = Record();
  rr.clear();
  hs.clear();
  ds.clear();
  rs.clear();
  sc.clear();
  record_route = std::move(rr);
  headers = std::move(hs);
  diagnostics = std::move(ds);
  resources = std::move(rs);
  scratch = std::move(sc);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    if ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z') return false;
  }
  return true;
}

std::string_view Record::FindHeader(std::string_view name) const {
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return {};
}

}  // namespace sipdex
