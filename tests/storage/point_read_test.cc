// Point reads: SegmentDecoder::DecodeSelected and IndexSnapshot::ReadRecords
// decode only the chunks holding the wanted records and must give exactly
// what a whole decode gives.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "storage/coding.h"
#include "storage/index.h"
#include "storage/segment.h"
#include "tests/storage/temp_dir.h"

using namespace sipdex;
using namespace sipdex::storage;
using sipdex::testing::TempDir;

namespace {

namespace fs = std::filesystem;


// Protocol-looking records of varied sizes and line counts (some without a
// final line feed), with their times, servers and kinds varied too.
SegmentData MakeSegment(std::size_t n, std::mt19937* rng) {
  SegmentData d;
  d.servers = {"fe01", "fe02", "edge1"};
  d.start_offset = 4096;
  d.start_line = 33;
  for (std::size_t i = 0; i < n; ++i) {
    std::string t = "TL_INFO(TF_PROTOCOL) [0]1A2B.3C4D::07/16/2014-10:17:" + std::to_string(10 + i % 50) + ".003\r\n";
    std::size_t headers = (*rng)() % 12;
    for (std::size_t h = 0; h < headers; ++h) {
      t += "X-Header-" + std::to_string(h) + ": value " + std::to_string((*rng)() % 100000) + "\r\n";
    }
    t += "Call-ID: " + std::to_string((*rng)()) + "abc\r\n";
    if ((*rng)() % 7 != 0) t += "$$end_record\r\n";
    SegmentRecordMeta m;
    m.size = static_cast<std::uint32_t>(t.size());
    m.kind = static_cast<RecordKind>(i % kRecordKindCount);
    m.malformed = static_cast<std::uint32_t>(i % 5);
    m.time = 1405505877003 + static_cast<TimeMs>(i) * 7;
    m.has_time = i % 9 != 0;
    m.server = static_cast<std::uint32_t>(i % 3);
    d.records.push_back(m);
    d.text += t;
  }
  return d;
}

}  // namespace

TEST_CASE("Decoding a selection of records equals slicing the whole decode, for every codec and chunk size",
          "[storage][segment][point]") {
  std::mt19937 rng(7);
  SegmentData d = MakeSegment(800, &rng);
  std::vector<std::uint64_t> offsets(d.records.size() + 1, 0);
  std::vector<std::uint32_t> lines(d.records.size() + 1, d.start_line);
  for (std::size_t i = 0; i < d.records.size(); ++i) {
    std::string_view t = std::string_view(d.text).substr(offsets[i], d.records[i].size);
    offsets[i + 1] = offsets[i] + t.size();
    lines[i + 1] = lines[i] + static_cast<std::uint32_t>(std::count(t.begin(), t.end(), '\n'));
  }
  struct Case {
    TextCodec codec;
    std::size_t chunk_bytes;
  };
  for (Case c : {Case{TextCodec::kTemplates, 2048}, Case{TextCodec::kTemplates, 30000},
                 Case{TextCodec::kTemplates, 0}, Case{TextCodec::kPlain, 0}, Case{TextCodec::kColumns, 0}}) {
    std::string payload = EncodeSegment(d, c.codec, 3, c.chunk_bytes);
    SegmentDecoder decoder;
    SegmentData part;
    std::vector<RecordPosition> pos;
    for (int round = 0; round < 40; ++round) {
      std::vector<std::uint32_t> ords;
      std::size_t want = round == 0 ? d.records.size() : 1 + rng() % (round < 20 ? 4 : 60);
      for (std::uint32_t i = 0; i < d.records.size(); ++i) {
        if (rng() % d.records.size() < want) ords.push_back(i);
      }
      if (round == 1) ords = {0};
      if (round == 2) ords = {static_cast<std::uint32_t>(d.records.size() - 1)};
      REQUIRE(decoder.DecodeSelected(payload, ords, &part, &pos).ok());
      REQUIRE(part.records.size() == ords.size());
      REQUIRE(pos.size() == ords.size());
      CHECK(part.servers == d.servers);
      std::string expected;
      for (std::size_t k = 0; k < ords.size(); ++k) {
        std::uint32_t o = ords[k];
        expected += d.text.substr(offsets[o], d.records[o].size);
        CHECK(pos[k].offset == d.start_offset + offsets[o]);
        CHECK(pos[k].line == lines[o]);
        CHECK(part.records[k].time == d.records[o].time);
        CHECK(part.records[k].has_time == d.records[o].has_time);
        CHECK(part.records[k].kind == d.records[o].kind);
        CHECK(part.records[k].server == d.records[o].server);
        CHECK(part.records[k].size == d.records[o].size);
      }
      CHECK(part.text == expected);
      if (!ords.empty()) {
        CHECK(part.start_offset == pos[0].offset);
        CHECK(part.start_line == pos[0].line);
      }
    }
    std::vector<std::uint32_t> unsorted = {5, 3};
    CHECK(decoder.DecodeSelected(payload, unsorted, &part, &pos).code() == Status::Code::kInvalidArgument);
    std::vector<std::uint32_t> twice = {5, 5};
    CHECK(decoder.DecodeSelected(payload, twice, &part, &pos).code() == Status::Code::kInvalidArgument);
    std::vector<std::uint32_t> outside = {800};
    CHECK(decoder.DecodeSelected(payload, outside, &part, &pos).code() == Status::Code::kInvalidArgument);
  }
}

TEST_CASE("Decoding a selection from a damaged payload fails without crashing", "[storage][segment][point]") {
  std::mt19937 rng(11);
  SegmentData d = MakeSegment(200, &rng);
  std::string payload = EncodeSegment(d, TextCodec::kTemplates, 3, 4096);
  SegmentDecoder decoder;
  SegmentData part;
  std::vector<RecordPosition> pos;
  std::vector<std::uint32_t> ords = {3, 77, 150};
  for (int round = 0; round < 200; ++round) {
    std::string bad = payload;
    if (round % 2 == 0) {
      bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    } else {
      bad.resize(rng() % bad.size());
    }
    CHECK_FALSE(decoder.DecodeSelected(bad, ords, &part, &pos).ok());
  }
  REQUIRE(decoder.DecodeSelected(payload, ords, &part, &pos).ok());
}

TEST_CASE("ReadRecords of ids spread over segments and chunks equals a full scan", "[storage][index][point]") {
  std::string dir = TempDir("point-read");
  auto index = Index::Open(dir, IndexOptions{});
  REQUIRE(index.ok());
  // About 2.6 MB of records in segments of 9000 records: several 1 MB chunks each.
  std::mt19937 rng(3);
  std::string bytes;
  std::vector<Record> records;
  std::vector<std::size_t> starts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    starts.push_back(bytes.size());
    bytes += "TL_INFO(TF_PROTOCOL) [0]1A2B.3C4D::07/16/2014-10:17:57.003\r\nCall-ID: c" + std::to_string(i) + "\r\n";
    for (unsigned h = 0; h < rng() % 4; ++h) bytes += "Via: SIP/2.0/TLS 10.0.0." + std::to_string(rng() % 255) + "\r\n";
    bytes += "$$end_record\r\n";
  }
  starts.push_back(bytes.size());
  std::uint32_t line = 1;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.kind = RecordKind::kProtocol;
    r.offset = starts[static_cast<std::size_t>(i)];
    r.line = line;
    r.text = std::string_view(bytes).substr(starts[static_cast<std::size_t>(i)],
                                            starts[static_cast<std::size_t>(i) + 1] - starts[static_cast<std::size_t>(i)]);
    line += static_cast<std::uint32_t>(std::count(r.text.begin(), r.text.end(), '\n'));
    r.time = 1405505877003 + i;
    r.has_time = true;
    records.push_back(r);
  }
  {
    auto writer = (*index)->NewWriter();
    REQUIRE(writer.ok());
    FileHeader h;
    h.name = "fe01.log";
    h.source_path = "/logs/fe01.log";
    h.server = "fe01";
    REQUIRE((*writer)->BeginFile(h).ok());
    SegmentBuilder b(h.name);
    for (const Record& r : records) {
      b.Add(r, "fe01");
      if (b.count() == 9000) REQUIRE((*writer)->AppendSegment(b.Finish()).ok());
    }
    if (b.count() > 0) REQUIRE((*writer)->AppendSegment(b.Finish()).ok());
    REQUIRE((*writer)->CommitFile(bytes.size(), Hash64(bytes)).ok());
    REQUIRE((*writer)->Flush().ok());
  }
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  REQUIRE((*snap)->time_map().size() == 3);
  struct Seen {
    RecordId id;
    std::string text;
    std::uint64_t offset;
    std::uint32_t line;
    TimeMs time;
    std::string server;
  };
  std::vector<Seen> all;
  REQUIRE((*snap)->ScanAll([&](const StoredRecord& r) {
                    all.push_back(Seen{r.id, std::string(r.text), r.offset, r.line, r.time, std::string(r.server)});
                    return true;
                  }).ok());
  REQUIRE(all.size() == static_cast<std::size_t>(n));
  CHECK(all[12345].text == records[12345].text);
  CHECK(all[12345].line == records[12345].line);

  for (int round = 0; round < 30; ++round) {
    std::vector<RecordId> ids;
    for (int k = 0; k < 1 + round * 3; ++k) ids.push_back(rng() % n);
    if (round % 3 != 2) {  // sorted (round % 3 == 2: unsorted, with repeats)
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    }
    std::size_t k = 0;
    REQUIRE((*snap)->ReadRecords(ids, [&](const StoredRecord& r) {
                      REQUIRE(k < ids.size());
                      REQUIRE(r.id == ids[k]);
                      const Seen& s = all[static_cast<std::size_t>(r.id)];
                      CHECK(r.text == s.text);
                      CHECK(r.offset == s.offset);
                      CHECK(r.line == s.line);
                      CHECK(r.time == s.time);
                      CHECK(r.server == s.server);
                      ++k;
                    }).ok());
    CHECK(k == ids.size());
  }
  std::vector<RecordId> missing = {5, static_cast<RecordId>(n)};
  CHECK((*snap)->ReadRecords(missing, [](const StoredRecord&) {}).code() == Status::Code::kNotFound);
}
