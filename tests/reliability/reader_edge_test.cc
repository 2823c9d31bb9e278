// Folder walks never drop an input silently: a log file that cannot be read
// is listed with its error, so ingest and inspect count it and name it.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "indexer/reader.h"

using namespace sipdex;
namespace fs = std::filesystem;

namespace {

std::string FreshDir(const std::string& name) {
  fs::path p = fs::path(SIPDEX_BINARY_DIR) / "test-tmp" / ("reader-edge-" + std::to_string(getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

}  // namespace

TEST_CASE("A dangling symlink in a folder is listed and fails to open with a message naming it",
          "[reliability][reader]") {
  std::string dir = FreshDir("dangling");
  std::ofstream(dir + "/FE01_20140716_1.log") << "TL_INFO(TF_PROTOCOL) x\n";
  fs::create_symlink(dir + "/missing-target.log", dir + "/FE01_20140716_2.log");
  std::vector<std::string> warnings;
  Result<std::vector<LogicalFile>> files = ExpandInputs({dir}, &warnings);
  REQUIRE(files.ok());
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].open_error.empty());
  const LogicalFile& bad = (*files)[1];
  CHECK(bad.name == dir + "/FE01_20140716_2.log");
  CHECK_FALSE(bad.open_error.empty());
  Result<std::unique_ptr<LogReader>> reader = OpenLogicalFile(bad);
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.status().message().find("FE01_20140716_2.log") != std::string::npos);
  CHECK(reader.status().message().find("No such file") != std::string::npos);
}

TEST_CASE("Without a warnings list, a folder with an unreadable log file is an error naming it",
          "[reliability][reader]") {
  std::string dir = FreshDir("strict");
  fs::create_symlink(dir + "/missing-target.log", dir + "/FE01_20140716_1.log");
  Result<std::vector<LogicalFile>> files = ExpandInputs({dir});
  REQUIRE_FALSE(files.ok());
  CHECK(files.status().message().find("FE01_20140716_1.log") != std::string::npos);
}

TEST_CASE("A file without read permission in a folder is listed with its error (skipped as root)",
          "[reliability][reader]") {
  if (geteuid() == 0) {
    WARN("running as root: permissions do not stop root from reading; case skipped");
    return;
  }
  std::string dir = FreshDir("no-permission");
  std::string path = dir + "/FE01_20140716_1.log";
  std::ofstream(path) << "TL_INFO(TF_PROTOCOL) x\n";
  fs::permissions(path, fs::perms::none);
  std::vector<std::string> warnings;
  Result<std::vector<LogicalFile>> files = ExpandInputs({dir}, &warnings);
  REQUIRE(files.ok());
  REQUIRE(files->size() == 1);
  CHECK((*files)[0].open_error.find("Permission denied") != std::string::npos);
  fs::permissions(path, fs::perms::owner_all);
}
