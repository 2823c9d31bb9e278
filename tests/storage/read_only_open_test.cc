// Read-only opens (every query, show, stats): they must cost as little as the
// answer needs. A read-only database never flushes or compacts, so opening
// one, taking a snapshot and reading records starts no thread.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/coding.h"
#include "storage/index.h"
#include "tests/storage/temp_dir.h"

using namespace sipdex;
using namespace sipdex::storage;
using sipdex::testing::TempDir;

namespace {

namespace fs = std::filesystem;

// The number of threads of this process.
std::size_t ThreadCount() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Creates an index in `dir` holding one file of `n` records, each with its
// own Call-ID "cNdeadbeef", in segments of 10 records. Runs in a child
// process, so the writer's background threads never exist in this one.
void CreateIndexInChild(const std::string& dir, int n) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::string bytes;
    std::vector<std::size_t> starts;
    for (int i = 0; i < n; ++i) {
      starts.push_back(bytes.size());
      bytes += "TL_INFO(TF_PROTOCOL) [0]1A2B.3C4D::07/16/2014-10:17:57.003\r\nCall-ID: c" + std::to_string(i) +
               "deadbeef\r\n$$end_record\r\n";
    }
    starts.push_back(bytes.size());
    auto index = Index::Open(dir, IndexOptions{});
    if (!index.ok()) ::_exit(2);
    auto writer = (*index)->NewWriter();
    if (!writer.ok()) ::_exit(3);
    FileHeader h;
    h.name = "fe01.log";
    h.source_path = "/logs/fe01.log";
    h.server = "fe01";
    if (!(*writer)->BeginFile(h).ok()) ::_exit(4);
    SegmentBuilder b(h.name);
    std::vector<std::string> call_ids;
    for (int i = 0; i < n; ++i) call_ids.push_back("c" + std::to_string(i) + "deadbeef");
    for (int i = 0; i < n; ++i) {
      Record r;
      r.kind = RecordKind::kProtocol;
      r.offset = starts[static_cast<std::size_t>(i)];
      r.line = 1 + 3 * static_cast<std::uint32_t>(i);
      r.text = std::string_view(bytes).substr(starts[static_cast<std::size_t>(i)],
                                              starts[static_cast<std::size_t>(i) + 1] - starts[static_cast<std::size_t>(i)]);
      r.time = 1405505877003 + i;
      r.has_time = true;
      r.call_id = call_ids[static_cast<std::size_t>(i)];
      b.Add(r, "fe01");
      if (b.count() == 10 && !(*writer)->AppendSegment(b.Finish()).ok()) ::_exit(5);
    }
    if (b.count() > 0 && !(*writer)->AppendSegment(b.Finish()).ok()) ::_exit(5);
    if (!(*writer)->CommitFile(bytes.size(), Hash64(bytes)).ok()) ::_exit(6);
    if (!(*writer)->Flush().ok()) ::_exit(7);
    writer->reset();
    index->reset();
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

}  // namespace

TEST_CASE("A read-only open, its snapshot and a point read start no thread", "[storage][index][open]") {
  const std::string dir = TempDir("read_only_open_threads");
  CreateIndexInChild(dir, 35);
  const std::size_t before = ThreadCount();

  IndexOptions options;
  options.read_only = true;
  auto index = Index::Open(dir, options);
  REQUIRE(index.ok());
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  CHECK((*snap)->manifest().record_count == 35);
  auto ids = (*snap)->Lookup(FieldId::kCallId, "c23deadbeef");
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 1);
  std::string text;
  REQUIRE((*snap)->ReadRecords(*ids, [&](const StoredRecord& r) { text = std::string(r.text); }).ok());
  CHECK(text.find("Call-ID: c23deadbeef\r\n") != std::string::npos);

  CHECK(ThreadCount() == before);
}

TEST_CASE("A read-only open writes nothing into the index directory", "[storage][index][open]") {
  const std::string dir = TempDir("read_only_open_writes");
  CreateIndexInChild(dir, 12);
  auto listing = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) {
      names.push_back(e.path().filename().string() + " " + std::to_string(e.file_size()));
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> before = listing();
  {
    IndexOptions options;
  options.read_only = true;
  auto index = Index::Open(dir, options);
    REQUIRE(index.ok());
    auto snap = (*index)->Snapshot();
    REQUIRE(snap.ok());
    auto ids = (*snap)->Lookup(FieldId::kCallId, "c3deadbeef");
    REQUIRE(ids.ok());
    CHECK(ids->size() == 1);
  }
  CHECK(listing() == before);
}
