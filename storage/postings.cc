#include "storage/postings.h"

#include <string>

#include "storage/coding.h"

namespace sipdex::storage {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsHashedField(FieldId field) {
  switch (field) {
    case FieldId::kCallId:
    case FieldId::kFromTag:
    case FieldId::kFromEpid:
    case FieldId::kToTag:
    case FieldId::kToEpid:
    case FieldId::kCorrelationId:
    case FieldId::kInstanceId:
      return true;
    default:
      return false;
  }
}

FieldId CanonicalPostingField(FieldId field) {
  switch (field) {
    case FieldId::kFrom: return FieldId::kFromUri;
    case FieldId::kTo: return FieldId::kToUri;
    case FieldId::kResource: return FieldId::kResourceUri;
    default: return field;
  }
}

std::string NormalizePostingValue(FieldId field, std::string_view value) {
  (void)field;
  value = Trim(value);
  if (value.size() > kMaxPostingValueBytes) value = value.substr(0, kMaxPostingValueBytes);
  std::string out(value);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string PostingValueKey(FieldId field, std::string_view raw_value) {
  field = CanonicalPostingField(field);
  std::string norm = NormalizePostingValue(field, raw_value);
  std::string key;
  key.push_back(static_cast<char>(field));
  if (IsHashedField(field)) {
    std::string h;
    PutFixed32BE(&h, static_cast<std::uint32_t>(Hash64(norm)));
    PutLengthPrefixed(&key, h);
  } else {
    PutLengthPrefixed(&key, norm);
  }
  return key;
}

bool ParsePostingKey(std::string_view key, FieldId* field, std::string_view* value, RecordId* run) {
  if (key.empty()) return false;
  auto f = static_cast<std::uint8_t>(key[0]);
  if (f >= static_cast<std::uint8_t>(FieldId::kCount_)) return false;
  key.remove_prefix(1);
  if (!GetLengthPrefixed(&key, value) || !GetFixed64BE(&key, run) || !key.empty()) return false;
  *field = static_cast<FieldId>(f);
  return true;
}

void ExtractPostings(const Record& r, std::string_view server, std::string_view file_name,
                     const std::function<void(std::string&& key)>& emit) {
  auto put = [&](FieldId f, std::string_view v) {
    if (!Trim(v).empty()) emit(PostingValueKey(f, v));
  };
  auto put_int = [&](FieldId f, std::int64_t v) {
    if (v >= 0) emit(PostingValueKey(f, std::to_string(v)));
  };
  put(FieldId::kServer, server);
  put(FieldId::kFile, file_name);
  put(FieldId::kKind, RecordKindName(r.kind));
  put(FieldId::kMalformed, r.malformed != kMalformedNone ? "true" : "false");
  if (r.kind == RecordKind::kForeign || r.kind == RecordKind::kJunk) return;
  put(FieldId::kLevel, r.level);
  put(FieldId::kFlag, r.flag);
  put(FieldId::kComponent, r.component);
  put_int(FieldId::kCorrelationId, r.correlation_id);
  put(FieldId::kInstanceId, r.instance_id);
  put(FieldId::kDirection, r.direction);
  put(FieldId::kPeer, r.peer);
  if (r.type == MessageType::kRequest) put(FieldId::kType, "request");
  if (r.type == MessageType::kResponse) put(FieldId::kType, "response");
  put(FieldId::kMethod, r.method);
  put(FieldId::kRuri, r.ruri);
  put_int(FieldId::kStatus, r.status);
  for (const NameAddr* na : {&r.from, &r.to}) {
    bool from = na == &r.from;
    if (!na->present) continue;
    put(from ? FieldId::kFromUri : FieldId::kToUri, na->uri);
    put(from ? FieldId::kFromUser : FieldId::kToUser, na->user);
    put(from ? FieldId::kFromHost : FieldId::kToHost, na->host);
    put(from ? FieldId::kFromTag : FieldId::kToTag, na->tag);
    put(from ? FieldId::kFromEpid : FieldId::kToEpid, na->epid);
  }
  put(FieldId::kCallId, r.call_id.empty() ? r.sip_call_id : r.call_id);
  put(FieldId::kCseqMethod, r.cseq_method);
  put(FieldId::kEvent, r.event);
  put(FieldId::kContentType, r.content_type);
  // Also the bare media type, so `content_type = multipart/related` finds
  // "multipart/related; type=...".
  if (std::size_t semi = r.content_type.find(';'); semi != std::string_view::npos) {
    put(FieldId::kContentType, r.content_type.substr(0, semi));
  }
  put(FieldId::kUserAgent, r.user_agent);
  put(FieldId::kServerHdr, r.server_hdr);
  for (const Diagnostic& d : r.diagnostics) {
    put_int(FieldId::kDiag, d.code);
    put(FieldId::kDiagSource, d.source);
  }
  for (const ResourceInstance& ri : r.resources) {
    put(FieldId::kResourceUri, ri.uri);
    put(FieldId::kResourceState, ri.state);
    put(FieldId::kResourceReason, ri.reason);
    put_int(FieldId::kResourceStatus, ri.status);
    put_int(FieldId::kResourceDiag, ri.diag);
  }
  put(FieldId::kSeverity, r.severity);
  put(FieldId::kResultCode, r.result_code);
  put(FieldId::kResultText, r.result_text);
}

void EncodePostingList(const std::vector<std::uint32_t>& ordinals, std::string* out) {
  PutVarint64(out, ordinals.size());
  std::uint32_t prev = 0;
  for (std::size_t i = 0; i < ordinals.size(); ++i) {
    PutVarint64(out, i == 0 ? ordinals[i] : ordinals[i] - prev);
    prev = ordinals[i];
  }
}

bool DecodePostingList(std::string_view in, std::vector<std::uint32_t>* ordinals) {
  std::uint64_t n = 0;
  if (!GetVarint64(&in, &n) || n > in.size()) return false;
  ordinals->clear();
  ordinals->reserve(static_cast<std::size_t>(n));
  std::uint64_t cur = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t d = 0;
    if (!GetVarint64(&in, &d)) return false;
    if (i > 0 && d == 0) return false;  // strictly increasing
    cur = (i == 0) ? d : cur + d;
    if (cur > 0xffffffffu) return false;
    ordinals->push_back(static_cast<std::uint32_t>(cur));
  }
  return in.empty();
}

}  // namespace sipdex::storage
