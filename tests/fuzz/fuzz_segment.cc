// libFuzzer target: the segment codecs. The first byte picks what the rest is:
//   0: a segment payload; its checksum is recomputed so that the damage reaches
//      the parsers. Decoding must refuse it or produce text of exactly the
//      recorded size; a point read must agree with the whole decode.
//   1: text, cut into records at 0x1e bytes, encoded with every codec and a
//      chunk size taken from the second byte: it must decode byte for byte,
//      whole and one record at a time.
//   2: a raw chunk of the templated codec: varint(dictionary size) dictionary
//      body, decoded into a text of (second byte * 16) bytes cut into three
//      records. The decoder must refuse it or fill the text exactly.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "storage/codec_template.h"
#include "storage/coding.h"
#include "storage/segment.h"

namespace {

using sipdex::storage::SegmentData;
using sipdex::storage::SegmentRecordMeta;

void Check(bool ok) {
  if (!ok) std::abort();
}

void FuzzPayload(std::string_view in) {
  std::string payload(in);
  if (payload.size() >= 13) {
    std::string sum;
    sipdex::storage::PutFixed64BE(&sum, sipdex::storage::Hash64(std::string_view(payload).substr(13)));
    payload.replace(5, 8, sum);
  }
  SegmentData out;
  if (!sipdex::storage::DecodeSegment(payload, &out).ok()) return;
  std::uint64_t total = 0;
  for (const SegmentRecordMeta& r : out.records) total += r.size;
  Check(out.text.size() == total);
  if (out.records.empty()) return;
  SegmentData one;
  auto last = static_cast<std::uint32_t>(out.records.size() - 1);
  Check(sipdex::storage::DecodeSegmentRecords(payload, last, 1, &one).ok());
  Check(one.text == std::string_view(out.text).substr(out.text.size() - out.records[last].size));
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
  for (auto codec : {sipdex::storage::TextCodec::kPlain, sipdex::storage::TextCodec::kColumns,
                     sipdex::storage::TextCodec::kTemplates}) {
    std::string payload = sipdex::storage::EncodeSegment(d, codec, 1, chunk);
    SegmentData out;
    Check(sipdex::storage::DecodeSegment(payload, &out).ok());
    Check(out.text == d.text);
    Check(out.records.size() == d.records.size());
    std::uint64_t offset = 0;
    for (std::uint32_t i = 0; i < d.records.size(); ++i) {
      SegmentData one;
      Check(sipdex::storage::DecodeSegmentRecords(payload, i, 1, &one).ok());
      Check(one.text == std::string_view(d.text).substr(offset, d.records[i].size));
      offset += d.records[i].size;
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
  std::string out(size, '\0');
  (void)decoder.Decode(body, names, records, out.data(), out.size());
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
