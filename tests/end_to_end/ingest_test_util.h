#pragma once
// Helpers of the end-to-end tests: a generated corpus (sipdex-gen), fresh
// directories, a corpus ingested into an index, the decompressed content of an
// input file.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "indexer/ingest.h"
#include "indexer/reader.h"
#include "storage/index.h"

namespace sipdex::testing {

inline std::string TestDir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(SIPDEX_BINARY_DIR) / "test-tmp" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// Generates a corpus of about `size` into `dir` (deterministic for a seed).
inline void Generate(const std::string& dir, const std::string& size, int seed) {
  std::string cmd = std::string(SIPDEX_BINARY_DIR) + "/corpus/sipdex-gen -q --size " + size +
                    " --seed " + std::to_string(seed) + " --days 3 --roll-size 2MB --out " + dir;
  REQUIRE(std::system(cmd.c_str()) == 0);
}

inline nlohmann::json GroundTruth(const std::string& dir) {
  std::ifstream in(dir + "/ground-truth.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

// A corpus ingested into an index, and a snapshot of it.
struct IngestedCorpus {
  std::unique_ptr<storage::Index> index;
  std::unique_ptr<storage::IndexSnapshot> snapshot;
};

// Ingests every log of `logs_dir` (not its ground truth) into a new index at
// `index_dir`, on 2 threads in segments of `segment_bytes`, and snapshots it.
inline IngestedCorpus IngestCorpus(const std::string& logs_dir, const std::string& index_dir,
                                   std::size_t segment_bytes = 1u << 20) {
  std::vector<std::string> logs;
  for (const auto& e : std::filesystem::directory_iterator(logs_dir)) {
    if (e.path().filename() != "ground-truth.json") logs.push_back(e.path().string());
  }
  storage::IndexOptions io;
  io.parser = MakeRecordParser();
  auto index = storage::Index::Open(index_dir, io);
  REQUIRE(index.ok());
  IngestOptions options;
  options.threads = 2;
  options.segment_bytes = segment_bytes;
  REQUIRE(Ingest(index->get(), logs, options).ok());
  IngestedCorpus c;
  c.index = std::move(*index);
  auto snapshot = c.index->Snapshot();
  REQUIRE(snapshot.ok());
  c.snapshot = std::move(*snapshot);
  return c;
}

// The decompressed bytes of a logical input file.
inline std::string Content(const LogicalFile& f) {
  auto reader = OpenLogicalFile(f);
  REQUIRE(reader.ok());
  std::string out;
  REQUIRE(ReadAll(reader->get(), &out).ok());
  return out;
}

}  // namespace sipdex::testing
