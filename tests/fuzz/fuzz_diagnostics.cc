// libFuzzer target: the header value parsers of indexer/parser.h,
// ParseDiagnosticValue (ms-diagnostics, ms-diagnostics-public,
// ms-client-diagnostics values) and ParseNameAddr (From/To), on arbitrary bytes.
//
// Invariants checked on every input:
//   - never crash, never read outside the value;
//   - every string_view of the result lies inside the value;
//   - ParseDiagnosticValue returns true exactly when it found a code (>= 0);
//     code and subcode are -1 or non-negative;
//   - the result does not depend on what *out held before (a reused struct
//     gives the same fields as a fresh one).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "indexer/parser.h"
#include "storage/record.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view v, std::string_view outer) {
  return v.empty() || (v.data() >= outer.data() && v.data() + v.size() <= outer.data() + outer.size());
}

bool Same(const sipdex::Diagnostic& a, const sipdex::Diagnostic& b) {
  return a.code == b.code && a.subcode == b.subcode && a.reason == b.reason && a.source == b.source;
}

bool Same(const sipdex::NameAddr& a, const sipdex::NameAddr& b) {
  return a.display == b.display && a.uri == b.uri && a.user == b.user && a.host == b.host && a.tag == b.tag &&
         a.epid == b.epid;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view value(reinterpret_cast<const char*>(data), size);

  sipdex::Diagnostic fresh;
  bool found = sipdex::ParseDiagnosticValue(value, &fresh);
  Check(found == (fresh.code >= 0));
  Check(fresh.code >= -1 && fresh.subcode >= -1);
  Check(found || fresh.subcode == -1);
  Check(Inside(fresh.reason, value) && Inside(fresh.source, value));

  // A struct that held another value's fields first.
  static const char kOther[] = "2157.3;reason=\"other reason\";source=\"other.contoso.com\"";
  sipdex::Diagnostic reused;
  sipdex::ParseDiagnosticValue(kOther, &reused);
  Check(sipdex::ParseDiagnosticValue(value, &reused) == found);
  Check(Same(reused, fresh));

  sipdex::NameAddr addr;
  sipdex::ParseNameAddr(value, &addr);
  Check(addr.present);
  for (std::string_view v : {addr.display, addr.uri, addr.user, addr.host, addr.tag, addr.epid}) {
    Check(Inside(v, value));
  }
  Check(Inside(addr.user, addr.uri) && Inside(addr.host, addr.uri));
  sipdex::NameAddr again;
  sipdex::ParseNameAddr("\"Other\" <sip:other@fabrikam.com>;tag=1;epid=2", &again);
  sipdex::ParseNameAddr(value, &again);
  Check(Same(addr, again));
  return 0;
}
