// Segment codec benchmark: cuts trace logs into segments the way ingest does
// (framer batches of --segment bytes, parsed for record times and kinds),
// encodes each with the chosen codec, decodes it whole and reads single
// records, checking every result against the input. Prints sizes, CPU
// throughput (thread CPU time, so other processes do not count) and point-read
// latency.
//
// usage: codec_bench [--codec 0|1|2] [--level N] [--chunk BYTES] [--segment BYTES]
//                    [--points N] [--repeat N] PATH...
// --repeat N encodes and decodes each segment N times and counts the fastest
// run (steady state, buffers warm).

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"
#include "storage/coding.h"
#include "storage/segment.h"

namespace {

using sipdex::Record;
using sipdex::RecordBatch;
using sipdex::RecordFramer;
using sipdex::Status;
using sipdex::TimeMs;
namespace storage = sipdex::storage;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Totals {
  std::uint64_t raw = 0;
  std::uint64_t stored = 0;
  std::uint64_t meta = 0;  // codec 2: compressed table + column names + skeleton dictionary
  std::uint64_t segments = 0;
  std::uint64_t records = 0;
  double encode_cpu = 0;
  double decode_cpu = 0;
  std::vector<double> point_ms;
  std::uint64_t mismatches = 0;
};

bool SameData(const storage::SegmentData& a, const storage::SegmentData& b) {
  if (a.text != b.text || a.servers != b.servers || a.start_offset != b.start_offset ||
      a.start_line != b.start_line || a.records.size() != b.records.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.records.size(); ++i) {
    const auto& x = a.records[i];
    const auto& y = b.records[i];
    if (x.size != y.size || x.kind != y.kind || x.malformed != y.malformed || x.time != y.time ||
        x.has_time != y.has_time || x.server != y.server) {
      return false;
    }
  }
  return true;
}

void RunSegment(const storage::SegmentData& data, storage::TextCodec codec, int level, std::size_t chunk,
                int repeat, int points, std::mt19937* rng, storage::SegmentDecoder* decoder, storage::SegmentData* out,
                storage::SegmentData* part, Totals* t) {
  // Each step runs `repeat` times; the fastest run counts (steady state:
  // buffers warm, as in a long ingest or query).
  std::string payload;
  Status s;
  double encode = 1e9, decode = 1e9;
  for (int k = 0; k < repeat; ++k) {
    double c0 = ThreadCpuSeconds();
    payload = storage::EncodeSegment(data, codec, level, chunk);
    double c1 = ThreadCpuSeconds();
    s = decoder->Decode(payload, out);
    double c2 = ThreadCpuSeconds();
    encode = std::min(encode, c1 - c0);
    decode = std::min(decode, c2 - c1);
  }
  t->encode_cpu += encode;
  t->decode_cpu += decode;
  t->raw += data.text.size();
  t->stored += payload.size();
  if (codec == storage::TextCodec::kTemplates && payload.size() > 13) {
    std::string_view p = std::string_view(payload).substr(13);
    std::uint64_t meta_size = 0;
    std::string_view frame;
    if (storage::GetVarint64(&p, &meta_size) && storage::GetLengthPrefixed(&p, &frame)) t->meta += frame.size();
  }
  t->records += data.records.size();
  ++t->segments;
  if (!s.ok() || !SameData(data, *out)) {
    ++t->mismatches;
    std::fprintf(stderr, "segment %llu differs: %s\n", static_cast<unsigned long long>(t->segments),
                 s.ToString().c_str());
  }
  if (data.records.empty()) return;
  std::vector<std::uint64_t> offsets(data.records.size() + 1, 0);
  for (std::size_t i = 0; i < data.records.size(); ++i) offsets[i + 1] = offsets[i] + data.records[i].size;
  for (int k = 0; k < points; ++k) {
    auto i = static_cast<std::uint32_t>((*rng)() % data.records.size());
    double p0 = ThreadCpuSeconds();
    s = decoder->DecodeRecords(payload, i, 1, part);
    double p1 = ThreadCpuSeconds();
    t->point_ms.push_back((p1 - p0) * 1e3);
    if (!s.ok() || part->text != std::string_view(data.text).substr(offsets[i], data.records[i].size) ||
        part->start_offset != data.start_offset + offsets[i]) {
      ++t->mismatches;
      std::fprintf(stderr, "point read %u differs: %s\n", i, s.ToString().c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int codec = 2;
  int level = 3;
  std::size_t chunk = storage::kDefaultChunkBytes;
  std::size_t segment = 8u << 20;
  int points = 20;
  int repeat = 1;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> long long {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      return std::atoll(argv[++i]);
    };
    if (a == "--codec") {
      codec = static_cast<int>(next());
    } else if (a == "--level") {
      level = static_cast<int>(next());
    } else if (a == "--chunk") {
      chunk = static_cast<std::size_t>(next());
    } else if (a == "--segment") {
      segment = static_cast<std::size_t>(next());
    } else if (a == "--repeat") {
      repeat = std::max(1, static_cast<int>(next()));
    } else if (a == "--points") {
      points = static_cast<int>(next());
    } else {
      paths.emplace_back(a);
    }
  }
  if (paths.empty() || codec < 0 || codec > 2) {
    std::fprintf(stderr,
                 "usage: codec_bench [--codec 0|1|2] [--level N] [--chunk BYTES] [--segment BYTES] "
                 "[--points N] [--repeat N] PATH...\n");
    return 2;
  }
  auto files = sipdex::ExpandInputs(paths);
  if (!files.ok()) {
    std::fprintf(stderr, "%s\n", files.status().ToString().c_str());
    return 1;
  }
  Totals t;
  std::mt19937 rng(1);
  storage::SegmentDecoder decoder;
  storage::SegmentData out;
  storage::SegmentData part;
  std::string content;
  Record record;
  for (const sipdex::LogicalFile& f : *files) {
    auto reader = sipdex::OpenLogicalFile(f);
    if (!reader.ok()) {
      std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
      return 1;
    }
    content.clear();
    Status s = sipdex::ReadAll(reader->get(), &content);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    sipdex::FramerOptions fo;
    fo.batch_bytes = segment;
    RecordFramer framer(fo);
    framer.Feed(content);
    framer.Finish();
    RecordBatch batch;
    TimeMs carry = 0;
    while (framer.NextBatch(&batch)) {
      storage::SegmentData data;
      data.start_offset = batch.offset;
      data.start_line = batch.line;
      sipdex::ParseBatch(batch, &record, &carry, [&](const Record& r) {
        std::string server(sipdex::ServerName(f.name, r));
        auto it = std::find(data.servers.begin(), data.servers.end(), server);
        if (it == data.servers.end()) it = data.servers.insert(data.servers.end(), server);
        storage::SegmentRecordMeta m;
        m.size = static_cast<std::uint32_t>(r.text.size());
        m.kind = r.kind;
        m.malformed = r.malformed;
        m.time = r.time;
        m.has_time = r.has_time;
        m.server = static_cast<std::uint32_t>(it - data.servers.begin());
        data.records.push_back(m);
        data.text.append(r.text);
      });
      RunSegment(data, static_cast<storage::TextCodec>(codec), level, chunk, repeat, points, &rng, &decoder, &out, &part, &t);
    }
  }
  std::sort(t.point_ms.begin(), t.point_ms.end());
  auto pct = [&](double q) {
    return t.point_ms.empty() ? 0.0 : t.point_ms[static_cast<std::size_t>(q * (t.point_ms.size() - 1))];
  };
  double mb = static_cast<double>(t.raw) / 1e6;
  std::printf("codec %d level %d chunk %zu segment %zu: %llu segments, %llu records\n", codec, level, chunk,
              segment, static_cast<unsigned long long>(t.segments), static_cast<unsigned long long>(t.records));
  std::printf("raw %.1f MB, stored %.3f MB (ratio %.2f)\n", mb, static_cast<double>(t.stored) / 1e6,
              static_cast<double>(t.raw) / static_cast<double>(std::max<std::uint64_t>(t.stored, 1)));
  if (codec == 2) std::printf("of which table + names + skeleton dictionary %.3f MB\n", static_cast<double>(t.meta) / 1e6);
  std::printf("encode %.2f s cpu (%.0f MB/s), decode %.2f s cpu (%.0f MB/s)\n", t.encode_cpu, mb / t.encode_cpu,
              t.decode_cpu, mb / t.decode_cpu);
  std::printf("point read of one record: p50 %.3f ms, p99 %.3f ms, max %.3f ms cpu (%zu reads)\n", pct(0.5),
              pct(0.99), pct(1.0), t.point_ms.size());
  std::printf("mismatches %llu\n", static_cast<unsigned long long>(t.mismatches));
  return t.mismatches == 0 ? 0 : 1;
}
