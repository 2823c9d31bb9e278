// libFuzzer target: the segment codecs. The first byte picks what the rest is:
//   0: a segment payload; its checksum is recomputed so that the damage reaches
//      the parsers. Decoding must refuse it or produce text of exactly the
//      recorded size; a point read must agree with the whole decode. When the
//      whole decode succeeds, a selective decode of ordinals chosen from the
//      input (SegmentDecoder::DecodeSelected) must equal slicing it, and the
//      table-only decode (SegmentDecoder::DecodeTable, fed growing prefixes as
//      it asks) must equal its table; when it fails, both must fail or succeed
//      without crashing. Ordinals out of range or out of order must be refused.
//      (Lines of point reads are compared in mode 1 only: see CheckSelected.)
//   1: text, cut into records at 0x1e bytes, encoded with every codec and a
//      chunk size taken from the second byte: it must decode byte for byte,
//      whole, one record at a time, selectively (DecodeSelected) and table
//      only (DecodeTable), with the checks of mode 0; then, with one byte
//      changed, through mode 0.
//   2: a raw chunk of the templated codec: varint(dictionary size) dictionary
//      body, decoded into a text of (second byte * 16) bytes cut into three
//      records. The decoder must refuse it or fill the text exactly (every
//      byte written: two decodes into differently filled buffers agree).
//      The same bytes, as encoded facts of (second byte) records, must be
//      refused by FactsDecoder::Reset or fill every record.
// Search (SegmentDecoder::Search) runs beside the partial decoders: on a
// payload that decodes it must find exactly the records holding a literal
// taken from one of them.
// Facts (storage/facts.h): in mode 1 each record also gets facts made from its
// bytes; the templated payload must give them back exactly
// (SegmentDecoder::DecodeFacts from growing prefixes, FactsDecoder field by
// field). In mode 0 DecodeFacts and FactsFrameSize must refuse the payload or
// agree with each other, and decoded facts must be refused or fill every record.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/codec_template.h"
#include "storage/coding.h"
#include "storage/facts.h"
#include "storage/segment.h"

namespace {

using sipdex::storage::RecordPosition;
using sipdex::storage::SegmentData;
using sipdex::storage::SegmentDecoder;
using sipdex::storage::SegmentRecordMeta;

// CHECK(condition): aborts naming the line when the condition is false.
void CheckAt(bool ok, int line) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_segment.cc:%d: check failed\n", line);
  std::abort();
}
#define CHECK(condition) CheckAt((condition), __LINE__)

// Decoders kept across inputs, so their buffers hold earlier inputs' bytes:
// a byte a decoder forgets to write shows up as a difference between them.
SegmentDecoder& WholeDecoder() {
  static SegmentDecoder d;
  return d;
}
SegmentDecoder& PartDecoder() {
  static SegmentDecoder d;
  return d;
}

bool SameMeta(const SegmentRecordMeta& a, const SegmentRecordMeta& b) {
  return a.size == b.size && a.kind == b.kind && a.malformed == b.malformed && a.time == b.time &&
         a.has_time == b.has_time && a.server == b.server;
}

bool SameTable(const SegmentData& a, const SegmentData& b) {
  if (a.records.size() != b.records.size() || a.servers != b.servers || a.start_offset != b.start_offset ||
      a.start_line != b.start_line) {
    return false;
  }
  for (std::size_t i = 0; i < a.records.size(); ++i) {
    if (!SameMeta(a.records[i], b.records[i])) return false;
  }
  return true;
}

// splitmix64: a stream of choices drawn from the input's hash.
std::uint64_t Next(std::uint64_t* s) {
  std::uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// DecodeSelected against the whole decode `whole` (nullptr: it failed).
// `exact_lines`: the payload is as encoded. A damaged one with a recomputed
// checksum may hold chunk line counts its text does not bear out; point reads
// trust them (the checksum covers them), so their lines are not compared.
void CheckSelected(std::string_view payload, const SegmentData* whole, std::size_t nrecords, std::uint64_t seed,
                   bool exact_lines) {
  SegmentDecoder& d = PartDecoder();
  SegmentData out;
  std::vector<RecordPosition> positions;
  std::vector<std::uint32_t> ordinals;
  // A few ascending ordinals, each record picked with a probability of 1/2^k.
  const unsigned k = static_cast<unsigned>(Next(&seed) % 4);
  for (std::size_t i = 0; i < nrecords; ++i) {
    if ((Next(&seed) & ((1u << k) - 1)) == 0) ordinals.push_back(static_cast<std::uint32_t>(i));
  }
  sipdex::Status st = d.DecodeSelected(payload, ordinals, &out, &positions);
  if (whole == nullptr) {
    if (st.ok()) {
      CHECK(positions.size() == ordinals.size() && out.records.size() == ordinals.size());
      std::uint64_t total = 0;
      for (const SegmentRecordMeta& r : out.records) total += r.size;
      CHECK(out.text.size() == total);
    }
  } else {
    CHECK(st.ok());
    CHECK(positions.size() == ordinals.size() && out.records.size() == ordinals.size());
    CHECK(out.servers == whole->servers);
    std::uint64_t before = 0;
    std::uint64_t feeds = 0;
    std::size_t i = 0;
    std::size_t at = 0;  // in out.text
    for (std::size_t k2 = 0; k2 < ordinals.size(); ++k2) {
      for (; i < ordinals[k2]; ++i) before += whole->records[i].size;
      feeds = static_cast<std::uint64_t>(std::count(whole->text.data(), whole->text.data() + before, '\n'));
      const SegmentRecordMeta& r = whole->records[ordinals[k2]];
      CHECK(SameMeta(out.records[k2], r));
      CHECK(positions[k2].offset == whole->start_offset + before);
      std::uint64_t line = whole->start_line + feeds;
      if (exact_lines) CHECK(positions[k2].line == (line > 0xffffffffu ? 0xffffffffu : line));
      CHECK(std::string_view(out.text).substr(at, r.size) == std::string_view(whole->text).substr(before, r.size));
      at += r.size;
    }
    CHECK(at == out.text.size());
    if (!ordinals.empty()) {
      CHECK(out.start_offset == positions.front().offset);
      CHECK(out.start_line == positions.front().line);
    }
  }
  // Bad ordinal lists are refused, whatever the payload.
  if (whole != nullptr) {
    std::vector<std::uint32_t> past = {static_cast<std::uint32_t>(nrecords)};
    CHECK(d.DecodeSelected(payload, past, &out, &positions).code() == sipdex::Status::Code::kInvalidArgument);
    if (nrecords >= 2) {
      std::vector<std::uint32_t> backwards = {1, 0};
      CHECK(d.DecodeSelected(payload, backwards, &out, &positions).code() == sipdex::Status::Code::kInvalidArgument);
      std::vector<std::uint32_t> twice = {1, 1};
      CHECK(d.DecodeSelected(payload, twice, &out, &positions).code() == sipdex::Status::Code::kInvalidArgument);
    }
  }
}

// DecodeTable from a prefix chosen by the seed, growing it as asked.
void CheckTable(std::string_view payload, const SegmentData* whole, std::uint64_t seed) {
  SegmentDecoder& d = PartDecoder();
  std::size_t head = static_cast<std::size_t>(Next(&seed) % (payload.size() + 1));
  SegmentData table;
  table.text = "left over";
  for (int round = 0;; ++round) {
    CHECK(round < 64);
    std::size_t needed = 0;
    sipdex::Status st = d.DecodeTable(payload.substr(0, head), payload.size(), &table, &needed);
    if (!st.ok()) {
      CHECK(whole == nullptr);
      return;
    }
    if (needed == 0) break;
    CHECK(needed > head && needed <= payload.size());
    head = needed;
  }
  CHECK(table.text.empty());
  if (whole != nullptr) CHECK(SameTable(table, *whole));
}

// DecodeFacts from a growing prefix; FactsFrameSize agrees; decoded facts are
// refused or fill every record. `want` (when not null) is what was encoded.
void CheckFacts(std::string_view payload, std::uint64_t seed, const std::string* want) {
  SegmentDecoder& d = PartDecoder();
  std::size_t head = static_cast<std::size_t>(Next(&seed) % (payload.size() + 1));
  SegmentData table;
  std::string_view facts;
  sipdex::Status st;
  for (int round = 0;; ++round) {
    CHECK(round < 64);
    std::size_t needed = 0;
    st = d.DecodeFacts(payload.substr(0, head), payload.size(), &table, &facts, &needed);
    if (!st.ok() || needed == 0) break;
    CHECK(needed > head && needed <= payload.size());
    head = needed;
  }
  std::uint64_t frame = 0;
  std::size_t needed = 0;
  std::size_t size_head = std::min<std::size_t>(payload.size(), 5);
  sipdex::Status sized;
  for (int round = 0;; ++round) {
    CHECK(round < 64);
    sized = sipdex::storage::FactsFrameSize(payload.substr(0, size_head), payload.size(), &frame, &needed);
    if (!sized.ok() || needed == 0) break;
    CHECK(needed > size_head && needed <= payload.size());
    size_head = needed;
  }
  if (want != nullptr) {
    CHECK(st.ok() && sized.ok());
    CHECK(facts == *want);
    CHECK(want->empty() || frame > 0);
  }
  if (!st.ok() || facts.empty()) return;
  std::string copy(facts);  // the decoder below reuses PartDecoder's buffers
  static sipdex::storage::FactsDecoder fd;
  if (!fd.Reset(copy, static_cast<std::uint32_t>(table.records.size())).ok()) {
    CHECK(want == nullptr);
    return;
  }
  sipdex::Record r;
  for (std::uint32_t i = 0; i < fd.count(); ++i) fd.Fill(i, &r);
}

// SegmentDecoder::Search for a literal taken from one record (chosen by the
// seed): on a payload that decodes whole, it reports exactly the records
// whose own text holds the literal, in order, with their text; on any other
// bytes it fails or reports, never reads out of bounds.
void CheckSearch(std::string_view payload, const SegmentData* whole, std::uint64_t seed) {
  static SegmentDecoder d;
  std::vector<std::string_view> texts;
  std::string literal(1, static_cast<char>('0' + Next(&seed) % 75));
  if (whole != nullptr) {
    std::size_t at = 0;
    for (const auto& m : whole->records) {
      texts.push_back(std::string_view(whole->text).substr(at, m.size));
      at += m.size;
    }
    if (!texts.empty()) {
      std::string_view t = texts[Next(&seed) % texts.size()];
      std::size_t from = t.empty() ? 0 : static_cast<std::size_t>(Next(&seed) % t.size());
      std::size_t len = static_cast<std::size_t>(Next(&seed) % 17);
      literal.assign(t.substr(from, len));
    }
  }
  const std::vector<std::string> literals = {literal};
  SegmentData table;
  std::vector<std::uint32_t> found;
  sipdex::Status st = d.Search(payload, literals, {}, &table, [&](const SegmentDecoder::Found& f) {
    found.push_back(f.ordinal);
    if (whole != nullptr) CHECK(f.ordinal < texts.size() && f.text == texts[f.ordinal]);
  });
  if (whole == nullptr) return;
  CHECK(st.ok());
  std::vector<std::uint32_t> expected;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].find(literal) != std::string_view::npos) expected.push_back(static_cast<std::uint32_t>(i));
  }
  CHECK(found == expected);
}

void CheckPartialDecoders(std::string_view payload, std::uint64_t seed, bool exact_lines) {
  SegmentData whole;
  bool ok = WholeDecoder().Decode(payload, &whole).ok();
  std::size_t nrecords = ok ? whole.records.size() : 1 + static_cast<std::size_t>(Next(&seed) % 64);
  CheckSelected(payload, ok ? &whole : nullptr, nrecords, seed, exact_lines);
  CheckTable(payload, ok ? &whole : nullptr, seed + 1);
  CheckSearch(payload, ok ? &whole : nullptr, seed + 3);
  if (!exact_lines) CheckFacts(payload, seed + 2, nullptr);
}

// Facts made from a record's bytes: its ';'-separated pieces go to the string
// fields in turn, integers and counts come from its hash.
void MakeRecordFacts(std::string_view text, sipdex::Record* r) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ';') {
      pieces.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  std::size_t k = 0;
  auto next = [&]() { return pieces[k++ % pieces.size()]; };
  std::uint64_t h = sipdex::storage::Hash64(text);
  r->Clear();
  for (std::string_view* f : {&r->level, &r->flag, &r->component, &r->direction, &r->method, &r->ruri,
                              &r->reason_phrase, &r->from.display, &r->from.uri, &r->from.user, &r->from.host,
                              &r->to.display, &r->to.uri, &r->to.user, &r->to.host, &r->cseq_method, &r->event,
                              &r->content_type, &r->user_agent, &r->server_hdr, &r->severity, &r->result_code,
                              &r->result_text}) {
    *f = next();
  }
  if (h & 1) r->call_id = next(); else r->sip_call_id = next();
  r->from.present = (h & 2) != 0;
  r->to.present = (h & 4) != 0;
  r->type = static_cast<sipdex::MessageType>((h >> 3) % 3);
  r->status = static_cast<std::int32_t>((h >> 5) % 700) - 1;
  r->cseq = static_cast<std::int64_t>(h >> 20) - 1;
  r->expires = -static_cast<std::int64_t>(h % 5);
  for (std::uint64_t i = 0; i < (h >> 12) % 3; ++i) {
    r->diagnostics.push_back(sipdex::Diagnostic{static_cast<sipdex::DiagVariant>(i % 3),
                                                static_cast<std::int32_t>(h % 70000) - 1, -1, next(), next()});
  }
  for (std::uint64_t i = 0; i < (h >> 14) % 4; ++i) {
    r->resources.push_back(sipdex::ResourceInstance{next(), next(), next(), static_cast<std::int32_t>(i) - 1, 2157});
  }
}

bool SameFacts(const sipdex::Record& a, const sipdex::Record& b) {
  bool same = a.level == b.level && a.flag == b.flag && a.component == b.component && a.direction == b.direction &&
              a.method == b.method && a.ruri == b.ruri && a.reason_phrase == b.reason_phrase &&
              a.from.display == b.from.display && a.from.uri == b.from.uri && a.from.user == b.from.user &&
              a.from.host == b.from.host && a.from.present == b.from.present && a.to.display == b.to.display &&
              a.to.uri == b.to.uri && a.to.user == b.to.user && a.to.host == b.to.host &&
              a.to.present == b.to.present && a.call_id == b.call_id && a.sip_call_id == b.sip_call_id &&
              a.cseq == b.cseq && a.cseq_method == b.cseq_method && a.event == b.event && a.expires == b.expires &&
              a.content_type == b.content_type && a.user_agent == b.user_agent && a.server_hdr == b.server_hdr &&
              a.severity == b.severity && a.result_code == b.result_code && a.result_text == b.result_text &&
              a.type == b.type && a.status == b.status && a.diagnostics.size() == b.diagnostics.size() &&
              a.resources.size() == b.resources.size();
  for (std::size_t i = 0; same && i < a.diagnostics.size(); ++i) {
    const sipdex::Diagnostic &x = a.diagnostics[i], &y = b.diagnostics[i];
    same = x.variant == y.variant && x.code == y.code && x.subcode == y.subcode && x.reason == y.reason &&
           x.source == y.source;
  }
  for (std::size_t i = 0; same && i < a.resources.size(); ++i) {
    const sipdex::ResourceInstance &x = a.resources[i], &y = b.resources[i];
    same = x.uri == y.uri && x.state == y.state && x.reason == y.reason && x.status == y.status && x.diag == y.diag;
  }
  return same;
}

void FuzzPayload(std::string_view in) {
  std::string payload(in);
  if (payload.size() >= 13) {
    // kTemplates payloads hash what follows the checksum, the others their
    // zstd frame (after the body size varint).
    std::string_view covered = std::string_view(payload).substr(13);
    if (payload[4] != static_cast<char>(sipdex::storage::TextCodec::kTemplates)) {
      std::uint64_t body_size = 0;
      if (!sipdex::storage::GetVarint64(&covered, &body_size)) covered = {};
    }
    std::string sum;
    sipdex::storage::PutFixed64BE(&sum, sipdex::storage::Hash64(covered));
    payload.replace(5, 8, sum);
  }
  CheckPartialDecoders(payload, sipdex::storage::Hash64(in), /*exact_lines=*/false);
  SegmentData out;
  if (!sipdex::storage::DecodeSegment(payload, &out).ok()) return;
  std::uint64_t total = 0;
  for (const SegmentRecordMeta& r : out.records) total += r.size;
  CHECK(out.text.size() == total);
  if (out.records.empty()) return;
  SegmentData one;
  auto last = static_cast<std::uint32_t>(out.records.size() - 1);
  CHECK(sipdex::storage::DecodeSegmentRecords(payload, last, 1, &one).ok());
  CHECK(one.text == std::string_view(out.text).substr(out.text.size() - out.records[last].size));
}

void FuzzText(std::string_view in) {
  if (in.empty()) return;
  std::size_t chunk = static_cast<std::uint8_t>(in[0]) * 64;
  in.remove_prefix(1);
  SegmentData d;
  d.servers = {"fe01"};
  d.start_offset = 7;
  d.start_line = 3;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\x1e') {
      std::size_t end = i == in.size() ? i : i + 1;
      SegmentRecordMeta m;
      m.size = static_cast<std::uint32_t>(end - start);
      m.time = 1405505877003 + static_cast<std::int64_t>(start) * 1000;
      m.has_time = true;
      d.records.push_back(m);
      start = end;
    }
  }
  d.text.assign(in);
  // Facts from the records' bytes.
  std::vector<sipdex::Record> facts(d.records.size());
  {
    sipdex::storage::FactsEncoder encoder;
    std::size_t at = 0;
    for (std::size_t i = 0; i < d.records.size(); ++i) {
      MakeRecordFacts(std::string_view(d.text).substr(at, d.records[i].size), &facts[i]);
      at += d.records[i].size;
      encoder.Add(facts[i]);
    }
    encoder.Finish(&d.facts);
    sipdex::storage::FactsDecoder decoder;
    CHECK(decoder.Reset(d.facts, static_cast<std::uint32_t>(d.records.size())).ok());
    sipdex::Record r;
    for (std::uint32_t i = 0; i < d.records.size(); ++i) {
      decoder.Fill(i, &r);
      CHECK(SameFacts(r, facts[i]));
    }
  }
  for (auto codec : {sipdex::storage::TextCodec::kPlain, sipdex::storage::TextCodec::kColumns,
                     sipdex::storage::TextCodec::kTemplates}) {
    std::string payload = sipdex::storage::EncodeSegment(d, codec, 1, chunk);
    SegmentData out;
    CHECK(sipdex::storage::DecodeSegment(payload, &out).ok());
    CHECK(out.text == d.text);
    CHECK(out.records.size() == d.records.size());
    std::uint64_t offset = 0;
    for (std::uint32_t i = 0; i < d.records.size(); ++i) {
      SegmentData one;
      CHECK(sipdex::storage::DecodeSegmentRecords(payload, i, 1, &one).ok());
      CHECK(one.text == std::string_view(d.text).substr(offset, d.records[i].size));
      offset += d.records[i].size;
    }
    CheckPartialDecoders(payload, sipdex::storage::Hash64(payload) ^ chunk, /*exact_lines=*/true);
    const std::string no_facts;
    CheckFacts(payload, sipdex::storage::Hash64(payload) + chunk,
               codec == sipdex::storage::TextCodec::kTemplates ? &d.facts : &no_facts);
    // The same payload with one byte changed (its checksum recomputed): the
    // damage lands in a well-formed, possibly many-chunk payload.
    std::uint64_t seed = sipdex::storage::Hash64(in) + static_cast<std::uint64_t>(codec);
    if (payload.size() > 13) {
      std::size_t at = 13 + static_cast<std::size_t>(Next(&seed) % (payload.size() - 13));
      payload[at] = static_cast<char>(payload[at] ^ static_cast<char>(Next(&seed) % 255 + 1));
      FuzzPayload(payload);
    }
  }
}

void FuzzChunk(std::string_view in) {
  if (in.empty()) return;
  std::size_t size = static_cast<std::uint8_t>(in[0]) * 16;
  in.remove_prefix(1);
  std::uint64_t dict_size = 0;
  if (!sipdex::storage::GetVarint64(&in, &dict_size) || dict_size > in.size()) return;
  std::string_view dictionary = in.substr(0, dict_size);
  std::string_view body = in.substr(dict_size);
  static const std::vector<std::string_view> names = {"", "From: ", "TL_INFO(TF_PROTOCOL) [", "Via: "};
  std::vector<SegmentRecordMeta> records(3);
  records[0].size = static_cast<std::uint32_t>(size / 3);
  records[1].size = static_cast<std::uint32_t>(size / 3);
  records[2].size = static_cast<std::uint32_t>(size - 2 * (size / 3));
  records[1].time = 1405505877003;
  records[2].time = -1;
  sipdex::storage::TemplateChunkDecoder decoder;
  if (!decoder.SetDictionary(dictionary, names.size()).ok()) return;
  // Decoded twice into buffers of different fill: a byte the decoder does
  // not write (decode buffers are never zero-filled) shows as a difference.
  std::string out(size, '\0');
  sipdex::Status first = decoder.Decode(body, names, records, out.data(), out.size());
  std::string again(size, '\xa5');
  sipdex::Status second = decoder.Decode(body, names, records, again.data(), again.size());
  CHECK(first.ok() == second.ok());
  if (first.ok()) CHECK(out == again);
  // The same bytes as the facts of (size / 16) records.
  static sipdex::storage::FactsDecoder facts;
  if (facts.Reset(in, static_cast<std::uint32_t>(size / 16)).ok()) {
    sipdex::Record r;
    for (std::uint32_t i = 0; i < facts.count(); ++i) facts.Fill(i, &r);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: FuzzPayload(in); break;
    case 1: FuzzText(in); break;
    default: FuzzChunk(in); break;
  }
  return 0;
}
