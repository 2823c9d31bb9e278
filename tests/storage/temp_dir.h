#pragma once
// A fresh scratch path for the storage tests, under the build tree.

#include <filesystem>
#include <string>

namespace sipdex::testing {

// SIPDEX_BINARY_DIR/test-tmp/NAME, removed first; its parent exists.
inline std::string TempDir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(SIPDEX_BINARY_DIR) / "test-tmp" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p.parent_path());
  return p.string();
}

}  // namespace sipdex::testing
