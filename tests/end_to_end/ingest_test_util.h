#pragma once
// Helpers of the ingest end-to-end tests: a generated corpus (sipdex-gen),
// fresh directories, the decompressed content of an input file.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "indexer/reader.h"

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

// The decompressed bytes of a logical input file.
inline std::string Content(const LogicalFile& f) {
  auto reader = OpenLogicalFile(f);
  REQUIRE(reader.ok());
  std::string out;
  REQUIRE(ReadAll(reader->get(), &out).ok());
  return out;
}

}  // namespace sipdex::testing
