// The facts of a segment (storage/facts.h) against the parser: on generated
// corpora, every record's facts hold exactly what IndexSnapshot::Parse gives
// for every field IsFactField names; damaged facts are a Corruption naming the
// segment, never a crash; a facts read reads no text.

#include "storage/facts.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "corpus/generator.h"
#include "indexer/ingest.h"
#include "storage/coding.h"
#include "storage/index.h"
#include "tests/storage/temp_dir.h"

using namespace sipdex;
using namespace sipdex::storage;
using sipdex::testing::TempDir;

namespace {

namespace fs = std::filesystem;

// Every value of the fact fields of a record, one per line, named. What the
// snapshot gives (`stored`: server, file id) is included.
std::string FactsText(const StoredRecord& s, const Record& r) {
  std::ostringstream o;
  o << "id " << s.id << "\nkind " << static_cast<int>(r.kind) << "\nmalformed " << r.malformed << "\ntime "
    << r.time << " " << r.has_time << "\nserver " << s.server << "\nfile " << s.file_id << "\nlevel " << r.level
    << "\nflag " << r.flag << "\ncomponent " << r.component << "\ndirection " << r.direction << "\ntype "
    << static_cast<int>(r.type) << "\nmethod " << r.method << "\nruri " << r.ruri << "\nstatus " << r.status
    << "\nreason " << r.reason_phrase;
  for (const NameAddr* a : {&r.from, &r.to}) {
    o << "\nname-addr " << a->present << " [" << a->display << "] [" << a->uri << "] [" << a->user << "] ["
      << a->host << "]";
  }
  o << "\ncall_id " << (r.call_id.empty() ? r.sip_call_id : r.call_id) << "\nCall-ID " << r.call_id
    << "\ncseq " << r.cseq << " " << r.cseq_method << "\nevent " << r.event << "\nexpires " << r.expires
    << "\ncontent_type " << r.content_type << "\nuser_agent " << r.user_agent << "\nserver_hdr " << r.server_hdr
    << "\nseverity " << r.severity << "\nresult " << r.result_code << " " << r.result_text;
  for (const Diagnostic& d : r.diagnostics) {
    o << "\ndiag " << static_cast<int>(d.variant) << " " << d.code << "." << d.subcode << " [" << d.reason << "] ["
      << d.source << "]";
  }
  for (const ResourceInstance& x : r.resources) {
    o << "\nresource [" << x.uri << "] [" << x.state << "] [" << x.reason << "] " << x.status << " " << x.diag;
  }
  return o.str();
}

struct Corpus {
  std::unique_ptr<Index> index;
  std::unique_ptr<IndexSnapshot> snap;
};

// Generates ~`size` bytes of seed `seed` into a scratch folder and ingests it
// on 2 threads in segments of `segment_bytes`.
Corpus MakeCorpus(const std::string& name, std::uint64_t seed, std::uint64_t size, std::size_t segment_bytes) {
  std::string logs = TempDir(name + "-logs");
  std::string dir = TempDir(name + "-index");
  corpus::GenOptions g;
  g.size_bytes = size;
  g.seed = seed;
  g.days = 2;
  g.threads = 1;
  g.roll_bytes = 1u << 20;
  g.out_dir = logs;
  REQUIRE(corpus::GenerateCorpus(g).ok());
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(logs)) {
    if (e.path().filename() != "ground-truth.json") paths.push_back(e.path().string());
  }
  IndexOptions io;
  io.parser = MakeRecordParser();
  auto index = Index::Open(dir, io);
  REQUIRE(index.ok());
  IngestOptions options;
  options.threads = 2;
  options.segment_bytes = segment_bytes;
  REQUIRE(Ingest(index->get(), paths, options).ok());
  Corpus c;
  c.index = std::move(*index);
  auto snap = c.index->Snapshot();
  REQUIRE(snap.ok());
  c.snap = std::move(*snap);
  return c;
}

// The facts of every record as Parse gives them, in id order.
std::vector<std::string> ParsedFacts(const IndexSnapshot& snap) {
  std::vector<std::string> out;
  Record parsed;
  for (const SegmentInfo& s : snap.time_map()) {
    REQUIRE(snap.ReadSegment(s.first_id, [&](const StoredRecord& r) {
                  REQUIRE(snap.Parse(r, &parsed).ok());
                  out.push_back(FactsText(r, parsed));
                }).ok());
  }
  return out;
}

// The byte range of segment `index`'s facts frame in its data file (one data
// file, segments back to back in id order).
std::pair<std::uint64_t, std::uint64_t> FactsFrameRange(const std::string& dir, const IndexSnapshot& snap,
                                                        std::size_t index) {
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < index; ++i) at += snap.time_map()[i].stored_bytes;
  std::ifstream in(dir + "/seg-000001.dat", std::ios::binary);
  std::string head(256 << 10, '\0');
  in.seekg(static_cast<std::streamoff>(at));
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  std::string_view p(head);
  p.remove_prefix(5 + 8);  // magic, codec, checksum
  std::uint64_t meta_size = 0, meta_frame = 0, facts_sum = 0, facts_size = 0, facts_frame = 0;
  REQUIRE(GetVarint64(&p, &meta_size));
  REQUIRE(GetVarint64(&p, &meta_frame));
  REQUIRE(p.size() > meta_frame);
  p.remove_prefix(static_cast<std::size_t>(meta_frame));
  REQUIRE(GetFixed64BE(&p, &facts_sum));
  REQUIRE(GetVarint64(&p, &facts_size));
  REQUIRE(GetVarint64(&p, &facts_frame));
  std::uint64_t begin = at + (head.size() - p.size());
  return {begin, begin + facts_frame};
}

void FlipByte(const std::string& path, std::uint64_t offset) {
  std::FILE* fp = std::fopen(path.c_str(), "r+b");
  REQUIRE(fp != nullptr);
  std::fseek(fp, static_cast<long>(offset), SEEK_SET);
  int c = std::fgetc(fp);
  std::fseek(fp, static_cast<long>(offset), SEEK_SET);
  std::fputc(c ^ 0x5a, fp);
  std::fclose(fp);
}

}  // namespace

TEST_CASE("Every record's facts equal what Parse gives, field by field, on corpora of three seeds",
          "[storage][facts][generated]") {
  for (std::uint64_t seed : {3, 17, 29}) {
    INFO("seed " << seed);
    Corpus c = MakeCorpus("facts-seed-" + std::to_string(seed), seed, 3u << 20, 256u << 10);
    const IndexSnapshot& snap = *c.snap;
    REQUIRE(snap.time_map().size() >= 8);
    std::vector<std::string> want = ParsedFacts(snap);
    REQUIRE(want.size() == snap.manifest().record_count);

    // Whole segments.
    std::vector<std::string> got;
    for (const SegmentInfo& s : snap.time_map()) {
      REQUIRE(snap.ReadSegmentFacts(s.first_id, [&](const StoredRecord& r, const Record& f) {
                    got.push_back(FactsText(r, f));
                  }).ok());
    }
    REQUIRE(got.size() == want.size());
    std::size_t diagnostics = 0, resources = 0, differ = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (got[i] != want[i] && ++differ <= 3) {
        INFO("record " << i);
        CHECK(got[i] == want[i]);
      }
      diagnostics += want[i].find("\ndiag ") != std::string::npos;
      resources += want[i].find("\nresource ") != std::string::npos;
    }
    CHECK(differ == 0);
    // The corpus exercises the multi-valued columns.
    CHECK(diagnostics > 20);
    CHECK(resources > 5);

    // Picked records, across segments, with gaps.
    std::vector<RecordId> ids;
    for (RecordId id = 1; id < want.size(); id += 7) ids.push_back(id);
    std::size_t k = 0;
    REQUIRE(snap.ReadFacts(ids, [&](const StoredRecord& r, const Record& f) {
                  REQUIRE(k < ids.size());
                  CHECK(r.id == ids[k]);
                  CHECK(FactsText(r, f) == want[static_cast<std::size_t>(ids[k])]);
                  ++k;
                }).ok());
    CHECK(k == ids.size());

    // Verify finds nothing wrong, and stats-like sizes see the facts.
    std::vector<std::string> problems;
    REQUIRE(snap.Verify(&problems).ok());
    CHECK(problems.empty());
    auto space = snap.Space();
    REQUIRE(space.ok());
    CHECK(space->facts_bytes > 0);
    CHECK(space->facts_bytes < space->segment_bytes / 2);  // small segments: dictionaries repeat
  }
}

TEST_CASE("A facts read decodes no text: a damaged text chunk leaves it whole while reading the records fails",
          "[storage][facts]") {
  Corpus c = MakeCorpus("facts-text-damage", 5, 1u << 20, 256u << 10);
  const std::string dir = c.index->dir();
  std::vector<std::string> want;
  const SegmentInfo s0 = c.snap->time_map()[0];
  REQUIRE(c.snap->ReadSegmentFacts(s0.first_id, [&](const StoredRecord& r, const Record& f) {
                want.push_back(FactsText(r, f));
              }).ok());
  c.snap.reset();
  c.index.reset();
  // The payload's last bytes are its last text chunk.
  FlipByte(dir + "/seg-000001.dat", s0.stored_bytes - 20);
  auto index = Index::Open(dir, IndexOptions{.read_only = true, .parser = MakeRecordParser()});
  REQUIRE(index.ok());
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  std::vector<std::string> got;
  REQUIRE((*snap)->ReadSegmentFacts(s0.first_id, [&](const StoredRecord& r, const Record& f) {
                got.push_back(FactsText(r, f));
              }).ok());
  CHECK(got == want);
  Status text = (*snap)->ReadSegment(s0.first_id, [](const StoredRecord&) {});
  CHECK(text.code() == Status::Code::kCorruption);
}

TEST_CASE("Damaged facts bytes give a Corruption naming the segment, in reads and in verify, never a crash",
          "[storage][facts]") {
  Corpus c = MakeCorpus("facts-damage", 7, 1u << 20, 256u << 10);
  const std::string dir = c.index->dir();
  REQUIRE(c.snap->time_map().size() >= 2);
  const std::size_t seg = 1;
  const SegmentInfo info = c.snap->time_map()[seg];
  auto [begin, end] = FactsFrameRange(dir, *c.snap, seg);
  REQUIRE(end > begin + 16);
  c.snap.reset();
  c.index.reset();
  const std::string data = dir + "/seg-000001.dat";
  const std::string prefix = "segment " + std::to_string(info.first_id) + " (records " +
                             std::to_string(info.first_id) + ".." + std::to_string(info.first_id + info.count);
  // Every 97th byte of the frame, and the checksum before it, one at a time.
  std::vector<std::uint64_t> offsets;
  for (std::uint64_t o = begin; o < end; o += 97) offsets.push_back(o);
  offsets.push_back(end - 1);
  offsets.push_back(begin - 20);  // inside the section's checksum (8 bytes, then two short varints)
  for (std::uint64_t o : offsets) {
    INFO("byte " << o << " of facts frame " << begin << ".." << end);
    FlipByte(data, o);
    auto index = Index::Open(dir, IndexOptions{.read_only = true, .parser = MakeRecordParser()});
    REQUIRE(index.ok());
    auto snap = (*index)->Snapshot();
    REQUIRE(snap.ok());
    Status s = (*snap)->ReadSegmentFacts(info.first_id, [](const StoredRecord&, const Record&) {});
    CHECK(s.code() == Status::Code::kCorruption);
    CHECK(s.message().starts_with(prefix));
    CHECK(s.message().find("facts") != std::string::npos);
    std::vector<RecordId> ids = {info.first_id + 1};
    CHECK((*snap)->ReadFacts(ids, [](const StoredRecord&, const Record&) {}).code() == Status::Code::kCorruption);
    // The other segments still answer.
    CHECK((*snap)->ReadSegmentFacts(0, [](const StoredRecord&, const Record&) {}).ok());
    std::vector<std::string> problems;
    REQUIRE((*snap)->Verify(&problems).ok());
    REQUIRE(!problems.empty());
    CHECK(problems[0].starts_with(prefix));
    FlipByte(data, o);  // undo
  }
}

TEST_CASE("FactsDecoder refuses every cut of valid facts and a wrong record count", "[storage][facts]") {
  Corpus c = MakeCorpus("facts-cut", 11, 1u << 20, 1u << 20);
  // Re-encode the first segment's parsed records.
  FactsEncoder encoder;
  Record parsed;
  const SegmentInfo s0 = c.snap->time_map()[0];
  REQUIRE(c.snap->ReadSegment(s0.first_id, [&](const StoredRecord& r) {
                REQUIRE(c.snap->Parse(r, &parsed).ok());
                encoder.Add(parsed);
              }).ok());
  std::string facts;
  encoder.Finish(&facts);
  CHECK(encoder.count() == 0);
  FactsDecoder decoder;
  REQUIRE(decoder.Reset(facts, s0.count).ok());
  CHECK(decoder.count() == s0.count);
  Status wrong = decoder.Reset(facts, s0.count + 1);
  CHECK(wrong.message() == "facts: " + std::to_string(s0.count) + " records, the segment has " +
                               std::to_string(s0.count + 1));
  for (std::size_t n = 0; n < facts.size(); n += 1 + n / 16) {
    Status s = decoder.Reset(std::string_view(facts).substr(0, n), s0.count);
    CHECK(s.code() == Status::Code::kCorruption);
  }
  std::vector<FactsColumnSize> sizes;
  REQUIRE(AddFactsColumnSizes(facts, 9, &sizes).ok());
  std::uint64_t raw = 0;
  for (const FactsColumnSize& z : sizes) raw += z.raw_bytes;
  CHECK(raw < facts.size());
  CHECK(raw + sizes.size() * 3 + 2 >= facts.size());
}
