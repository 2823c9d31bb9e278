// libFuzzer target: the query parser and binder on arbitrary bytes.
// Invariants: never crash; a query that parses prints (ToString) to a text that
// parses again to the same text; binding never crashes, whatever it answers;
// a bound query evaluates over a record without crashing.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "query/binder.h"
#include "query/evaluator.h"
#include "query/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sipdex::query::QueryError error;
  sipdex::Result<sipdex::query::Query> q = sipdex::query::Parse(text, &error);
  if (!q.ok()) {
    if (error.offset > text.size() && text.size() <= sipdex::query::kMaxQueryBytes) std::abort();
    return 0;
  }
  std::string canon = q->ToString();
  sipdex::Result<sipdex::query::Query> again = sipdex::query::Parse(canon);
  if (!again.ok() || again->ToString() != canon) std::abort();

  sipdex::query::BindOptions options;
  options.newest_time = 1405505877003;
  sipdex::Result<sipdex::query::BoundQuery> bound = sipdex::query::Bind(*q, options);
  if (!bound.ok()) return 0;
  (void)bound->ToString();

  sipdex::Record r;
  r.kind = sipdex::RecordKind::kProtocol;
  r.type = sipdex::MessageType::kResponse;
  r.method = "SUBSCRIBE";
  r.status = 403;
  r.time = 1405505877003;
  r.has_time = true;
  r.text = "TL_INFO(TF_PROTOCOL) [4]2078.379C::07/16/2014-10:17:57.003.00534084\n";
  r.from.uri = "sip:ucma-app@contoso.com";
  r.diagnostics.push_back({sipdex::DiagVariant::kMsDiagnostics, 2157, -1, "reason", "source"});
  r.resources.push_back({"sip:a@contoso.com", "terminated", "forbidden", 403, 2157});
  r.headers.push_back({"CSeq", "9 SUBSCRIBE"});
  sipdex::query::Evaluator ev;
  std::vector<int> rows;
  (void)ev.Match(*bound, sipdex::query::RowInput{&r, "fe01.log", "fe01"}, &rows);
  return 0;
}
