// libFuzzer target: framing + parsing over arbitrary bytes.
//
// Invariants checked on every input:
//   - the spans of all batches are contiguous and concatenate to the input,
//     whatever the chunking (the input is fed in pieces whose sizes come from
//     its first byte) and with a small max_span_bytes so cutting is exercised;
//   - every span's line number is 1 + the newlines before it;
//   - every string_view of a parsed Record lies inside the record's text or
//     inside its scratch strings.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/framer.h"
#include "indexer/parser.h"
#include "storage/record.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view v, const sipdex::Record& r) {
  if (v.empty()) return true;
  auto in = [&](std::string_view outer) {
    return v.data() >= outer.data() && v.data() + v.size() <= outer.data() + outer.size();
  };
  if (in(r.text)) return true;
  for (const std::string& s : r.scratch) {
    if (in(s)) return true;
  }
  return false;
}

void CheckViews(const sipdex::Record& r) {
  for (std::string_view v : {r.level, r.flag, r.machine, r.component, r.function, r.tail, r.instance_id, r.direction,
                             r.direction_params, r.peer, r.start_line, r.method, r.ruri, r.reason_phrase, r.call_id,
                             r.cseq_method, r.event, r.content_type, r.user_agent, r.server_hdr, r.body, r.severity,
                             r.diag_text, r.result_code, r.result_text, r.sip_start_line, r.sip_call_id, r.sip_cseq}) {
    Check(Inside(v, r));
  }
  for (const sipdex::NameAddr* n : {&r.from, &r.to}) {
    for (std::string_view v : {n->display, n->uri, n->user, n->host, n->tag, n->epid}) Check(Inside(v, r));
  }
  for (std::string_view v : r.record_route) Check(Inside(v, r));
  for (const sipdex::Header& h : r.headers) Check(Inside(h.name, r) && Inside(h.value, r));
  for (const sipdex::Diagnostic& d : r.diagnostics) Check(Inside(d.reason, r) && Inside(d.source, r));
  for (const sipdex::ResourceInstance& ri : r.resources) {
    Check(Inside(ri.uri, r) && Inside(ri.state, r) && Inside(ri.reason, r));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t chunk = size == 0 ? 1 : 1 + (data[0] % 64);
  sipdex::FramerOptions options;
  options.batch_bytes = 256;
  options.max_span_bytes = 1024;
  sipdex::RecordFramer framer(options);
  std::vector<sipdex::RecordBatch> batches;
  sipdex::RecordBatch batch;
  for (std::size_t pos = 0; pos < size; pos += chunk) {
    framer.Feed(input.substr(pos, chunk));
    while (framer.NextBatch(&batch)) batches.push_back(std::move(batch));
  }
  framer.Finish();
  while (framer.NextBatch(&batch)) batches.push_back(std::move(batch));
  Check(framer.bytes_fed() == size);

  std::string joined;
  std::uint64_t offset = 0;
  std::uint32_t line = 1;
  sipdex::Record record;
  for (const sipdex::RecordBatch& b : batches) {
    Check(b.offset == offset);
    for (std::size_t i = 0; i < b.spans.size(); ++i) {
      const sipdex::FramedSpan& s = b.spans[i];
      Check(s.offset == offset && s.size > 0 && s.line == line);
      Check(s.size <= options.max_span_bytes);
      std::string_view text = b.Text(i);
      for (char c : text) line += c == '\n';
      joined.append(text);
      offset += s.size;
      sipdex::ParseRecord(text, s, &record);
      Check(record.text.data() == text.data() && record.text.size() == text.size());
      Check((record.malformed & s.malformed) == s.malformed);
      CheckViews(record);
    }
  }
  Check(joined == input);
  return 0;
}
