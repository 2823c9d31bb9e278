#include "storage/index.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/coding.h"
#include "tests/storage/temp_dir.h"

using namespace sipdex;
using namespace sipdex::storage;
using sipdex::testing::TempDir;

namespace {

namespace fs = std::filesystem;


// A file of `n` protocol-looking records, each with its own call id; every
// third is a 403 with ms-diagnostics 2157. Records are hand-"parsed" here so
// that storage is tested without the indexer.
struct FakeFile {
  std::string bytes;
  std::vector<Record> records;
  std::vector<std::string> call_ids;
};

FakeFile MakeFile(int n, int first_call, TimeMs t0, std::string_view ending = "\r\n") {
  FakeFile f;
  std::vector<std::size_t> starts;
  for (int i = 0; i < n; ++i) {
    starts.push_back(f.bytes.size());
    std::string call = "c" + std::to_string(first_call + i) + "deadbeef";
    f.call_ids.push_back(call);
    f.bytes += "TL_INFO(TF_PROTOCOL) [0]1A2B.3C4D::07/16/2014-10:17:57.003.0000000" + std::to_string(i % 10);
    f.bytes += ending;
    f.bytes += "Start-Line: SIP/2.0 403 Forbidden";
    f.bytes += ending;
    f.bytes += "Call-ID: " + call;
    f.bytes += ending;
    f.bytes += "$$end_record";
    f.bytes += ending;
  }
  starts.push_back(f.bytes.size());
  f.records.resize(static_cast<std::size_t>(n));
  std::uint32_t line = 1;
  for (int i = 0; i < n; ++i) {
    Record& r = f.records[static_cast<std::size_t>(i)];
    r.kind = RecordKind::kProtocol;
    r.offset = starts[static_cast<std::size_t>(i)];
    r.line = line;
    line += 4;
    r.text = std::string_view(f.bytes).substr(starts[static_cast<std::size_t>(i)],
                                              starts[static_cast<std::size_t>(i) + 1] - starts[static_cast<std::size_t>(i)]);
    r.time = t0 + i * 10;
    r.has_time = true;
    r.method = "SUBSCRIBE";
    r.type = MessageType::kResponse;
    r.call_id = f.call_ids[static_cast<std::size_t>(i)];
    if (i % 3 == 0) {
      r.status = 403;
      r.diagnostics.push_back(Diagnostic{DiagVariant::kMsDiagnostics, 2157, -1, "x", "sip.contoso.com"});
    } else {
      r.status = 200;
    }
  }
  return f;
}

// Ingests `f` as `name` in segments of `per_segment` records.
void Ingest(Index* index, const std::string& name, const FakeFile& f, int per_segment, bool commit = true) {
  auto writer = index->NewWriter();
  REQUIRE(writer.ok());
  FileHeader h;
  h.name = name;
  h.source_path = "/logs/" + name;
  h.server = "fe01";
  REQUIRE((*writer)->BeginFile(h).ok());
  SegmentBuilder b(name);
  for (std::size_t i = 0; i < f.records.size(); ++i) {
    b.Add(f.records[i], "fe01");
    if (b.count() == static_cast<std::uint32_t>(per_segment)) REQUIRE((*writer)->AppendSegment(b.Finish()).ok());
  }
  if (b.count() > 0) REQUIRE((*writer)->AppendSegment(b.Finish()).ok());
  if (commit) REQUIRE((*writer)->CommitFile(f.bytes.size(), Hash64(f.bytes)).ok());
  if (commit) REQUIRE((*writer)->Flush().ok());
}

std::string Export(const IndexSnapshot& snap, std::uint32_t file_id) {
  std::string out;
  REQUIRE(snap.ExportFile(file_id, [&](std::string_view b) {
                out.append(b);
                return Status::Ok();
              }).ok());
  return out;
}

}  // namespace

TEST_CASE("An ingested file exports byte for byte and its postings find its records", "[storage][index]") {
  std::string dir = TempDir("index-roundtrip");
  auto index = Index::Open(dir, IndexOptions{});
  REQUIRE(index.ok());
  FakeFile f = MakeFile(100, 0, 1405505877003);
  Ingest(index->get(), "FE01_20140716_1.log", f, 7);

  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  const Manifest& m = (*snap)->manifest();
  REQUIRE(m.files.size() == 1);
  CHECK(m.record_count == 100);
  CHECK(m.files[0].counts.by_kind[static_cast<int>(RecordKind::kProtocol)] == 100);
  CHECK(m.min_time == 1405505877003);
  CHECK(m.max_time == 1405505877003 + 990);
  CHECK((*snap)->time_map().size() == 15);
  CHECK(Export(**snap, 0) == f.bytes);

  auto refused = (*snap)->Lookup(FieldId::kDiag, "2157");
  REQUIRE(refused.ok());
  CHECK(refused->size() == 34);
  CHECK(refused->front() == 0);
  CHECK(refused->back() == 99);
  auto status = (*snap)->Lookup(FieldId::kStatus, "200");
  REQUIRE(status.ok());
  CHECK(status->size() == 66);
  auto by_method = (*snap)->Lookup(FieldId::kMethod, "subscribe");
  REQUIRE(by_method.ok());
  CHECK(by_method->size() == 100);

  auto call = (*snap)->Lookup(FieldId::kCallId, f.call_ids[42]);
  REQUIRE(call.ok());
  REQUIRE(call->size() >= 1);
  std::vector<std::string> texts;
  std::vector<std::uint32_t> lines;
  REQUIRE((*snap)->ReadRecords(*call, [&](const StoredRecord& r) {
                    if (r.text.find(f.call_ids[42] + "\r\n") != std::string_view::npos) {
                      texts.emplace_back(r.text);
                      lines.push_back(r.line);
                      CHECK(r.offset == f.records[42].offset);
                      CHECK(r.server == "fe01");
                    }
                  }).ok());
  REQUIRE(texts.size() == 1);
  CHECK(texts[0] == f.records[42].text);
  CHECK(lines[0] == f.records[42].line);

  std::vector<std::string> problems;
  REQUIRE((*snap)->Verify(&problems).ok());
  CHECK(problems.empty());
}

TEST_CASE("Lookup values are compared after lower-casing and trimming", "[storage][index]") {
  CHECK(NormalizePostingValue(FieldId::kMethod, "  SUBSCRIBE ") == "subscribe");
  CHECK(NormalizePostingValue(FieldId::kToHost, "Contoso.COM") == "contoso.com");
  CHECK(NormalizePostingValue(FieldId::kToUri, std::string(500, 'A')).size() == kMaxPostingValueBytes);
  CHECK(CanonicalPostingField(FieldId::kFrom) == FieldId::kFromUri);
  CHECK(IsHashedField(FieldId::kCallId));
  CHECK_FALSE(IsHashedField(FieldId::kToUri));
}

TEST_CASE("ListValues lists each stored value of a field once with its record count", "[storage][index]") {
  std::string dir = TempDir("index-values");
  auto index = Index::Open(dir, IndexOptions{});
  REQUIRE(index.ok());
  FakeFile f = MakeFile(30, 0, 1405505877003);
  Ingest(index->get(), "a.log", f, 4);
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  std::vector<std::pair<std::string, std::uint64_t>> values;
  REQUIRE((*snap)->ListValues(FieldId::kStatus, [&](std::string_view v, std::uint64_t n) {
                   values.emplace_back(std::string(v), n);
                 }).ok());
  REQUIRE(values.size() == 2);
  CHECK(values[0] == std::make_pair(std::string("200"), std::uint64_t{20}));
  CHECK(values[1] == std::make_pair(std::string("403"), std::uint64_t{10}));
  CHECK_FALSE((*snap)->Lookup(FieldId::kCseq, "1").ok());
}

TEST_CASE("A file that grew is stored as a second part and exports whole", "[storage][index]") {
  std::string dir = TempDir("index-append");
  auto index = Index::Open(dir, IndexOptions{});
  REQUIRE(index.ok());
  FakeFile whole = MakeFile(20, 0, 1405505877003, "\n");
  FakeFile first = MakeFile(12, 0, 1405505877003, "\n");
  REQUIRE(whole.bytes.starts_with(first.bytes));
  Ingest(index->get(), "grow.log", first, 5);
  {
    auto writer = (*index)->NewWriter();
    REQUIRE(writer.ok());
    auto st = (*writer)->GetFileState("grow.log");
    REQUIRE(st.ok());
    CHECK(st->known);
    CHECK(st->size == first.bytes.size());
    CHECK(st->prefix_hash == Hash64(first.bytes));
    FileHeader h;
    h.name = "grow.log";
    h.start_offset = st->size;
    REQUIRE((*writer)->BeginFile(h).ok());
    SegmentBuilder b("grow.log");
    for (std::size_t i = 12; i < whole.records.size(); ++i) b.Add(whole.records[i], "fe01");
    REQUIRE((*writer)->AppendSegment(b.Finish()).ok());
    REQUIRE((*writer)->CommitFile(whole.bytes.size(), Hash64(whole.bytes)).ok());
  }
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  REQUIRE((*snap)->manifest().files.size() == 1);
  CHECK((*snap)->manifest().files[0].parts.size() == 2);
  CHECK((*snap)->manifest().record_count == 20);
  CHECK(Export(**snap, 0) == whole.bytes);
  std::vector<std::uint32_t> lines;
  REQUIRE((*snap)->ScanAll([&](const StoredRecord& r) {
                    lines.push_back(r.line);
                    return true;
                  }).ok());
  REQUIRE(lines.size() == 20);
  CHECK(lines[12] == whole.records[12].line);
  std::vector<std::string> problems;
  REQUIRE((*snap)->Verify(&problems).ok());
  CHECK(problems.empty());
}

TEST_CASE("Records of an uncommitted file stay invisible and are cleaned up by the next writer", "[storage][index]") {
  std::string dir = TempDir("index-crash");
  FakeFile a = MakeFile(10, 0, 1405505877003);
  FakeFile b = MakeFile(10, 100, 1405505878003);
  {
    auto index = Index::Open(dir, IndexOptions{});
    REQUIRE(index.ok());
    Ingest(index->get(), "a.log", a, 4);
  }
  // A child process writes b's segments and dies before committing.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto index = Index::Open(dir, IndexOptions{});
    if (!index.ok()) _exit(3);
    auto writer = (*index)->NewWriter();
    if (!writer.ok()) _exit(4);
    FileHeader h;
    h.name = "b.log";
    if (!(*writer)->BeginFile(h).ok()) _exit(5);
    SegmentBuilder sb("b.log");
    for (const Record& r : b.records) sb.Add(r, "fe01");
    if (!(*writer)->AppendSegment(sb.Finish()).ok()) _exit(6);
    _exit(0);  // no commit, no destructors: like kill -9
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  auto ro = Index::Open(dir, IndexOptions{.read_only = true, .parser = {}});
  REQUIRE(ro.ok());
  {
    auto snap = (*ro)->Snapshot();
    REQUIRE(snap.ok());
    CHECK((*snap)->manifest().record_count == 10);
    auto hits = (*snap)->Lookup(FieldId::kCallId, b.call_ids[3]);
    REQUIRE(hits.ok());
    CHECK(hits->empty());
    std::vector<std::string> problems;
    REQUIRE((*snap)->Verify(&problems).ok());
    CHECK(problems.empty());
  }
  ro->reset();
  auto index = Index::Open(dir, IndexOptions{});
  REQUIRE(index.ok());
  Ingest(index->get(), "b.log", b, 3);
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  CHECK((*snap)->manifest().record_count == 20);
  auto hits = (*snap)->Lookup(FieldId::kDiag, "2157");
  REQUIRE(hits.ok());
  CHECK(hits->size() == 8);
  CHECK(Export(**snap, 1) == b.bytes);
  std::vector<std::string> problems;
  REQUIRE((*snap)->Verify(&problems).ok());
  CHECK(problems.empty());
}

TEST_CASE("A second writer on the same index is refused as busy", "[storage][index]") {
  std::string dir = TempDir("index-lock");
  auto index = Index::Open(dir, IndexOptions{});
  REQUIRE(index.ok());
  auto w1 = (*index)->NewWriter();
  REQUIRE(w1.ok());
  auto w2 = (*index)->NewWriter();
  REQUIRE_FALSE(w2.ok());
  CHECK(w2.status().code() == Status::Code::kBusy);
  auto other = Index::Open(dir, IndexOptions{});
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().code() == Status::Code::kBusy);
}

TEST_CASE("Opening a missing index read-only says there is no index", "[storage][index]") {
  std::string dir = TempDir("index-missing");
  auto index = Index::Open(dir, IndexOptions{.read_only = true, .parser = {}});
  REQUIRE_FALSE(index.ok());
  CHECK(index.status().code() == Status::Code::kNotFound);
  CHECK(index.status().message() == "no index at " + dir + " (run sipdex ingest first)");
}

TEST_CASE("Records of several files come back in time order", "[storage][index]") {
  std::string dir = TempDir("index-timeorder");
  auto index = Index::Open(dir, IndexOptions{});
  REQUIRE(index.ok());
  FakeFile a = MakeFile(50, 0, 1405505877000);
  FakeFile b = MakeFile(50, 1000, 1405505877005);
  Ingest(index->get(), "a.log", a, 6);
  Ingest(index->get(), "b.log", b, 9);
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  std::vector<TimeMs> times;
  std::vector<std::uint32_t> files;
  REQUIRE((*snap)->ScanTimeOrder(0, 1405505877000 + 10000, [&](const StoredRecord& r) {
                    times.push_back(r.time);
                    files.push_back(r.file_id);
                    return true;
                  }).ok());
  REQUIRE(times.size() == 100);
  CHECK(std::is_sorted(times.begin(), times.end()));
  CHECK(files[0] == 0);
  CHECK(files[1] == 1);
  times.clear();
  REQUIRE((*snap)->ScanTimeOrder(1405505877100, 1405505877200, [&](const StoredRecord& r) {
                    times.push_back(r.time);
                    return true;
                  }).ok());
  CHECK(times.size() == 21);
}

TEST_CASE("Verify names a damaged segment", "[storage][index]") {
  std::string dir = TempDir("index-damage");
  FakeFile f = MakeFile(40, 0, 1405505877003);
  {
    auto index = Index::Open(dir, IndexOptions{});
    REQUIRE(index.ok());
    Ingest(index->get(), "a.log", f, 40);
  }
  // Flip a byte in the middle of every data file (the segment payloads).
  int damaged = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".dat") continue;
    std::FILE* fp = std::fopen(e.path().c_str(), "r+b");
    REQUIRE(fp != nullptr);
    std::fseek(fp, static_cast<long>(e.file_size() / 2), SEEK_SET);
    int c = std::fgetc(fp);
    std::fseek(fp, static_cast<long>(e.file_size() / 2), SEEK_SET);
    std::fputc(c ^ 0xff, fp);
    std::fclose(fp);
    ++damaged;
  }
  REQUIRE(damaged > 0);
  auto index = Index::Open(dir, IndexOptions{.read_only = true, .parser = {}});
  REQUIRE(index.ok());
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  std::vector<std::string> problems;
  REQUIRE((*snap)->Verify(&problems).ok());
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].starts_with("segment 0 (records 0..40 of a.log, bytes 0.." + std::to_string(f.bytes.size()) +
                                "; seg-000001.dat at offset 0, "));
  CHECK(problems[0].ends_with("bytes): segment: checksum mismatch"));
  // Reading the damaged records fails with the same message; the postings still answer.
  auto ids = (*snap)->Lookup(FieldId::kDiag, "2157");
  REQUIRE(ids.ok());
  CHECK(ids->size() == 14);
  Status read = (*snap)->ReadRecords(*ids, [](const StoredRecord&) {});
  CHECK(read.message() == problems[0]);
}

TEST_CASE("Verify names the field of a damaged postings block and other fields still answer", "[storage][index]") {
  std::string dir = TempDir("index-postings-damage");
  FakeFile f = MakeFile(3000, 0, 1405505877003);
  {
    auto index = Index::Open(dir, IndexOptions{});
    REQUIRE(index.ok());
    Ingest(index->get(), "a.log", f, 1000);
  }
  // The postings table: flip bytes a little into its first data block (the
  // call_id buckets come first: call_id is the lowest indexed field id).
  int damaged = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".sst") continue;
    std::FILE* fp = std::fopen(e.path().c_str(), "r+b");
    REQUIRE(fp != nullptr);
    char buf[4096];
    std::size_t n = std::fread(buf, 1, sizeof buf, fp);
    std::string head(buf, n);
    std::fclose(fp);
    if (head.find("rocksdb") != std::string::npos) continue;  // not a postings table
    fp = std::fopen(e.path().c_str(), "r+b");
    std::fseek(fp, 40, SEEK_SET);
    for (int i = 0; i < 8; ++i) std::fputc(0x55 + i, fp);
    std::fclose(fp);
    ++damaged;
  }
  auto index = Index::Open(dir, IndexOptions{.read_only = true, .parser = {}});
  REQUIRE(index.ok());
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  std::vector<std::string> problems;
  REQUIRE((*snap)->Verify(&problems).ok());
  INFO("damaged tables: " << damaged);
  REQUIRE_FALSE(problems.empty());
  CHECK(problems[0].starts_with("postings of field '"));
  CHECK(problems[0].find("' in run 0 (records 0..3000): ") != std::string::npos);
}
