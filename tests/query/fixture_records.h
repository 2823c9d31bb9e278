#pragma once
// Test helper: the records of a fixture file under corpus/fixtures/, framed
// and parsed by the indexer (tests may use indexer/; sipdex_query may not).

#include <deque>
#include <fstream>
#include <sstream>
#include <string>

#include "indexer/framer.h"
#include "indexer/parser.h"
#include "storage/record.h"

namespace sipdex::testing {

struct FixtureRecords {
  std::deque<RecordBatch> batches;  // own the bytes the records point into
  std::deque<Record> records;
};

// Reads corpus/fixtures/<name> and parses every record. An unreadable file
// gives no records (the caller's REQUIREs then fail).
inline void LoadFixture(const std::string& name, FixtureRecords* out) {
  std::ifstream in(std::string(SIPDEX_SOURCE_DIR) + "/corpus/fixtures/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  RecordFramer framer;
  framer.Feed(ss.str());
  framer.Finish();
  RecordBatch batch;
  while (framer.NextBatch(&batch)) {
    out->batches.push_back(std::move(batch));
    const RecordBatch& b = out->batches.back();
    for (std::size_t i = 0; i < b.spans.size(); ++i) {
      out->records.emplace_back();
      ParseRecord(b.Text(i), b.spans[i], &out->records.back());
    }
    batch = RecordBatch();
  }
}

}  // namespace sipdex::testing
