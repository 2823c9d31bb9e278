// End to end: generated corpus -> Ingest -> export, re-ingest, appends,
// refusals, counts against the generator's ground truth.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "indexer/ingest.h"
#include "indexer/reader.h"
#include "storage/index.h"
#include "tests/end_to_end/ingest_test_util.h"

using namespace sipdex;
using namespace sipdex::testing;

namespace {

std::string Export(const storage::IndexSnapshot& snap, std::uint32_t id) {
  std::string out;
  REQUIRE(snap.ExportFile(id, [&](std::string_view b) {
                out.append(b);
                return Status::Ok();
              }).ok());
  return out;
}

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("A generated corpus exports byte-exact, matches the ground truth and re-ingests as nothing",
          "[end_to_end][ingest]") {
  std::string root = TestDir("ingest-corpus");
  std::string corpus = root + "/gen";
  Generate(corpus, "12MB", 11);
  nlohmann::json truth = GroundTruth(corpus);

  auto index = storage::Index::Open(root + "/idx", storage::IndexOptions{});
  REQUIRE(index.ok());
  IngestOptions options;
  options.threads = 2;
  options.segment_bytes = 1u << 20;  // several segments per file
  auto summary = Ingest(index->get(), {corpus}, options);
  REQUIRE(summary.ok());
  CHECK(summary->problems.empty());
  CHECK(summary->files_refused == 0);
  CHECK(summary->files_failed == 0);

  auto files = ExpandInputs({corpus});
  REQUIRE(files.ok());
  std::size_t logs = 0;
  bool saw_gz = false;
  {
    auto snap = (*index)->Snapshot();
    REQUIRE(snap.ok());
    const storage::Manifest& m = (*snap)->manifest();
    for (const LogicalFile& f : *files) {
      if (f.name.ends_with("ground-truth.json")) continue;
      ++logs;
      saw_gz = saw_gz || f.compression == Compression::kGzip;
      const storage::FileInfo* info = m.FindFile(f.name);
      REQUIRE(info != nullptr);
      INFO(f.name);
      CHECK(Export(**snap, info->file_id) == Content(f));
    }
    CHECK(saw_gz);
    // Every protocol, diagnostic and other record of the ground truth, once.
    const auto& by_kind = truth["records"]["by_kind"];
    CHECK(m.counts.by_kind[static_cast<int>(RecordKind::kProtocol)] == by_kind["protocol"].get<std::uint64_t>());
    CHECK(m.counts.by_kind[static_cast<int>(RecordKind::kDiagnostic)] == by_kind["diagnostic"].get<std::uint64_t>());
    CHECK(m.counts.by_kind[static_cast<int>(RecordKind::kOther)] == by_kind["other"].get<std::uint64_t>());
    CHECK(m.counts.by_kind[static_cast<int>(RecordKind::kForeign)] == by_kind["foreign"].get<std::uint64_t>());
    std::vector<std::string> problems;
    REQUIRE((*snap)->Verify(&problems).ok());
    CHECK(problems.empty());

    // Postings agree with the ground truth's counts.
    auto diag = (*snap)->Lookup(FieldId::kResourceDiag, "2157");
    REQUIRE(diag.ok());
    CHECK(!diag->empty());
    std::map<std::string, std::uint64_t> by_status;
    REQUIRE((*snap)->ListValues(FieldId::kStatus, [&](std::string_view v, std::uint64_t n) {
                     by_status[std::string(v)] = n;
                   }).ok());
    for (const auto& [status, n] : truth["responses_by_status"].items()) {
      if (status == "none") continue;
      INFO("status " << status);
      CHECK(by_status[status] == n.get<std::uint64_t>());
    }
  }

  // The same files again add nothing.
  auto again = Ingest(index->get(), {corpus}, options);
  REQUIRE(again.ok());
  CHECK(again->counts.records == 0);
  CHECK(again->files_new == 0);
  CHECK(again->files_unchanged + again->empty_files >= logs - again->empty_files);
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  CHECK((*snap)->manifest().counts.records == summary->counts.records);
}

TEST_CASE("A file that grew ingests only its new records; a changed one is refused", "[end_to_end][ingest]") {
  std::string root = TestDir("ingest-append");
  std::string corpus = root + "/gen";
  Generate(corpus, "3MB", 12);
  auto files = ExpandInputs({corpus});
  REQUIRE(files.ok());
  const LogicalFile* big = nullptr;
  for (const LogicalFile& f : *files) {
    if (f.compression == Compression::kNone && f.name.ends_with(".log") && (big == nullptr || f.disk_size > big->disk_size)) {
      big = &f;
    }
  }
  REQUIRE(big != nullptr);
  std::string whole = Content(*big);
  // Cut in the middle of a record, as a CLS append would leave it.
  std::size_t cut = whole.find("\nTL_", whole.size() / 2) + 20;
  std::string dir = root + "/in";
  std::filesystem::create_directories(dir);
  std::string path = dir + "/FE01_20140716_1.log";
  WriteFile(path, std::string_view(whole).substr(0, cut));

  auto index = storage::Index::Open(root + "/idx", storage::IndexOptions{});
  REQUIRE(index.ok());
  IngestOptions options;
  options.threads = 2;
  options.segment_bytes = 256u << 10;
  auto first = Ingest(index->get(), {dir}, options);
  REQUIRE(first.ok());
  CHECK(first->files_new == 1);

  WriteFile(path, whole);
  auto second = Ingest(index->get(), {dir}, options);
  REQUIRE(second.ok());
  CHECK(second->files_appended == 1);
  CHECK(second->bytes_in == whole.size() - cut);
  {
    auto snap = (*index)->Snapshot();
    REQUIRE(snap.ok());
    REQUIRE((*snap)->manifest().files.size() == 1);
    CHECK((*snap)->manifest().files[0].parts.size() == 2);
    CHECK(Export(**snap, 0) == whole);
    std::vector<std::string> problems;
    REQUIRE((*snap)->Verify(&problems).ok());
    CHECK(problems.empty());
  }

  std::string changed = whole;
  changed[100] = changed[100] == 'x' ? 'y' : 'x';
  WriteFile(path, changed);
  auto third = Ingest(index->get(), {dir}, options);
  REQUIRE(third.ok());
  CHECK(third->files_refused == 1);
  CHECK(third->counts.records == 0);
  REQUIRE(third->problems.size() == 1);
  CHECK(third->problems[0] == dir + "/FE01_20140716_1.log: refused: its first " + std::to_string(whole.size()) +
                                  " bytes changed since they were ingested (only appends can be added)");

  WriteFile(path, std::string_view(whole).substr(0, 1000));
  auto fourth = Ingest(index->get(), {dir}, options);
  REQUIRE(fourth.ok());
  CHECK(fourth->files_refused == 1);
}

TEST_CASE("A corrupt gzip input is one problem line that names the file once", "[end_to_end][ingest]") {
  std::string root = TestDir("ingest-corrupt-gz");
  std::string dir = root + "/in";
  std::filesystem::create_directories(dir);
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i * 7919 % 100003) + " of a log that is not SIP\n";
  std::string path = dir + "/x.log";
  WriteFile(path, text);
  REQUIRE(std::system(("gzip -f " + path).c_str()) == 0);
  std::string gz_path = path + ".gz";
  std::string gz;
  {
    std::ifstream in(gz_path, std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  REQUIRE(gz.size() > 100);
  for (std::size_t i = gz.size() / 2; i < gz.size() / 2 + 8; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
  WriteFile(gz_path, gz);

  auto index = storage::Index::Open(root + "/idx", storage::IndexOptions{});
  REQUIRE(index.ok());
  IngestOptions options;
  options.threads = 2;
  Result<IngestSummary> summary = Ingest(index->get(), {gz_path}, options);
  REQUIRE(summary.ok());
  CHECK(summary->files_failed == 1);
  REQUIRE(summary->problems.size() == 1);
  const std::string& line = summary->problems[0];
  CHECK(line.rfind(gz_path + ": ", 0) == 0);
  CHECK(line.find(gz_path, 1) == std::string::npos);  // not "x.gz: x.gz: ..."
  CHECK(line.find("corrupt gzip data") != std::string::npos);
}
