// libFuzzer target: the rlmi body parser (ParseRlmiResources) on arbitrary
// bytes, as the body of a NOTIFY or of a batched SUBSCRIBE's 200/403 answer.
//
// Invariants checked on every input:
//   - never crash, never read outside the body;
//   - every string_view of every ResourceInstance lies inside the body;
//   - at most one instance per "<instance" in the body, none without one;
//   - status and diag are -1 or non-negative;
//   - only kMalformedBody is ever set, and parsing twice gives the same
//     instances (the parser keeps no state between bodies).

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

std::size_t Occurrences(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t p = text.find(needle); p != std::string_view::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  sipdex::Record first;
  sipdex::ParseRlmiResources(body, &first);
  Check((first.malformed & ~sipdex::kMalformedBody) == 0);
  Check(first.resources.size() <= Occurrences(body, "<instance"));
  for (const sipdex::ResourceInstance& ri : first.resources) {
    Check(Inside(ri.uri, body) && Inside(ri.state, body) && Inside(ri.reason, body));
    Check(ri.status >= -1 && ri.diag >= -1);
  }
  sipdex::Record second;
  sipdex::ParseRlmiResources(body, &second);
  Check(second.malformed == first.malformed && second.resources.size() == first.resources.size());
  for (std::size_t i = 0; i < first.resources.size(); ++i) {
    const sipdex::ResourceInstance& a = first.resources[i];
    const sipdex::ResourceInstance& b = second.resources[i];
    Check(a.uri == b.uri && a.state == b.state && a.reason == b.reason && a.status == b.status && a.diag == b.diag);
  }
  return 0;
}
