#pragma once
// Test helpers: read a fixture through the readers, frame it with a given
// chunk size, parse every span in place.

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"
#include "storage/record.h"

namespace sipdex::testing {

inline std::string FixturePath(const std::string& name) {
  return std::string(SIPDEX_SOURCE_DIR) + "/corpus/fixtures/" + name;
}

// The decompressed bytes of a fixture (fails the test if it cannot be read).
std::string ReadFixture(const std::string& name);

struct Framed {
  std::vector<RecordBatch> batches;
  std::deque<Record> records;  // parsed in place: views stay valid while `batches` lives

  // All spans of all batches, in order.
  std::vector<FramedSpan> Spans() const;
  // Records that are not whitespace-only junk.
  std::vector<const Record*> Visible() const;
};

// Frames `bytes` feeding `chunk` bytes at a time, then parses every span.
std::unique_ptr<Framed> FrameAndParse(const std::string& bytes, std::size_t chunk = 1u << 20,
                                      FramerOptions options = FramerOptions());

// Frames and parses a fixture file.
std::unique_ptr<Framed> ParseFixture(const std::string& name, std::size_t chunk = 1u << 20);

}  // namespace sipdex::testing
