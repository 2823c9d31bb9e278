// Crash safety: `sipdex ingest` killed with SIGKILL at random moments, then
// checked: the index opens, verifies, every visible file holds all of its
// records (never part of them), and finishing the ingest gives exactly the
// records of an uninterrupted run and of the generator's ground truth.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fcntl.h>
#include <map>
#include <random>
#include <thread>

#include "indexer/ingest.h"
#include "storage/index.h"
#include "tests/end_to_end/ingest_test_util.h"

using namespace sipdex;
using namespace sipdex::testing;

namespace {

// Runs `sipdex ingest --index idx corpus`; kills it after `delay` unless it ended. Returns true if killed.
bool RunAndKill(const std::string& idx, const std::string& corpus, std::chrono::milliseconds delay) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::string bin = std::string(SIPDEX_BINARY_DIR) + "/cli/sipdex";
    // Small commit groups: kills land between commits, during postings
    // tables being added and during data file writes.
    execl(bin.c_str(), bin.c_str(), "ingest", "--commit-mb", "2", "--index", idx.c_str(), corpus.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto until = std::chrono::steady_clock::now() + delay;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return true;
}

std::map<std::string, std::uint64_t> RecordsPerFile(const storage::IndexSnapshot& snap) {
  std::map<std::string, std::uint64_t> out;
  for (const storage::FileInfo& f : snap.manifest().files) out[f.name] = f.counts.records;
  return out;
}

}  // namespace

TEST_CASE("Ingest killed at random moments leaves a consistent index and finishes with exactly the right records",
          "[end_to_end][ingest][kill]") {
  std::string root = TestDir("ingest-kill");
  std::string corpus = root + "/gen";
  Generate(corpus, "16MB", 13);
  nlohmann::json truth = GroundTruth(corpus);

  // The reference: one uninterrupted ingest.
  std::map<std::string, std::uint64_t> reference;
  auto start = std::chrono::steady_clock::now();
  {
    auto index = storage::Index::Open(root + "/ref", storage::IndexOptions{});
    REQUIRE(index.ok());
    IngestOptions options;
    options.commit_bytes = 2u << 20;
    auto summary = Ingest(index->get(), {corpus}, options);
    REQUIRE(summary.ok());
    auto snap = (*index)->Snapshot();
    REQUIRE(snap.ok());
    reference = RecordsPerFile(**snap);
  }
  auto full = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::uint64_t reference_total = 0;
  for (const auto& [name, n] : reference) reference_total += n;

  std::mt19937 rng(20140716);
  std::string idx = root + "/idx";
  int kills = 0;
  for (int round = 0; round < 200 && kills < 22; ++round) {
    // Kill anywhere from the start to a little past the expected end of a
    // whole ingest. A round after a kill resumes and ends sooner, so a wider
    // range would let most rounds finish on a fast machine.
    auto delay = std::chrono::milliseconds(10 + rng() % static_cast<unsigned>(full.count() + 50));
    bool killed = RunAndKill(idx, corpus, delay);
    if (killed) ++kills;
    auto index = storage::Index::Open(idx, storage::IndexOptions{.read_only = true, .parser = {}});
    if (!index.ok() && index.status().code() == Status::Code::kNotFound) continue;  // killed before creating it
    INFO(index.status().ToString());
    REQUIRE(index.ok());
    auto snap = (*index)->Snapshot();
    REQUIRE(snap.ok());
    std::vector<std::string> problems;
    REQUIRE((*snap)->Verify(&problems).ok());
    INFO("round " << round << " after " << delay.count() << " ms");
    CHECK(problems.empty());
    // Every visible file is whole.
    for (const auto& [name, n] : RecordsPerFile(**snap)) {
      INFO(name);
      CHECK(n == reference[name]);
    }
    if (!killed) {
      // It finished: start again from nothing so that the next kills land mid-ingest.
      CHECK(RecordsPerFile(**snap) == reference);
      snap->reset();  // a snapshot must not outlive its index
      index->reset();
      std::filesystem::remove_all(idx);
    }
  }
  CHECK(kills >= 20);

  REQUIRE_FALSE(RunAndKill(idx, corpus, std::chrono::milliseconds(600000)));
  auto index = storage::Index::Open(idx, storage::IndexOptions{.read_only = true, .parser = {}});
  REQUIRE(index.ok());
  auto snap = (*index)->Snapshot();
  REQUIRE(snap.ok());
  CHECK(RecordsPerFile(**snap) == reference);
  CHECK((*snap)->manifest().record_count == reference_total);
  const auto& by_kind = truth["records"]["by_kind"];
  const auto& counts = (*snap)->manifest().counts;
  CHECK(counts.by_kind[static_cast<int>(RecordKind::kProtocol)] == by_kind["protocol"].get<std::uint64_t>());
  CHECK(counts.by_kind[static_cast<int>(RecordKind::kDiagnostic)] == by_kind["diagnostic"].get<std::uint64_t>());
  CHECK(counts.by_kind[static_cast<int>(RecordKind::kOther)] == by_kind["other"].get<std::uint64_t>());
  std::vector<std::string> problems;
  REQUIRE((*snap)->Verify(&problems).ok());
  CHECK(problems.empty());
}
