#pragma once
// The segments ingest would make of a generated file, for the codec and
// search tests: framed in batches, parsed, one SegmentData per batch.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"
#include "storage/segment.h"

namespace sipdex::testing {

// The segments of `file` with batches of `batch_bytes`: servers {"", "fe01"},
// a record with a time of its own on server 1. Their texts, joined, are the
// file's bytes (checked).
inline std::vector<storage::SegmentData> SegmentsOfFile(const LogicalFile& file, std::size_t batch_bytes) {
  std::vector<storage::SegmentData> out;
  auto reader = OpenLogicalFile(file);
  REQUIRE(reader.ok());
  std::string content;
  REQUIRE(ReadAll(reader->get(), &content).ok());
  FramerOptions fo;
  fo.batch_bytes = batch_bytes;
  RecordFramer framer(fo);
  framer.Feed(content);
  framer.Finish();
  RecordBatch batch;
  TimeMs carry = 0;
  Record record;
  while (framer.NextBatch(&batch)) {
    storage::SegmentData d;
    d.start_offset = batch.offset;
    d.start_line = batch.line;
    d.servers = {"", "fe01"};
    ParseBatch(batch, &record, &carry, [&](const Record& r) {
      storage::SegmentRecordMeta m;
      m.size = static_cast<std::uint32_t>(r.text.size());
      m.kind = r.kind;
      m.malformed = r.malformed;
      m.time = r.time;
      m.has_time = r.has_time;
      m.server = r.has_time ? 1 : 0;
      d.records.push_back(m);
      d.text.append(r.text);
    });
    out.push_back(std::move(d));
  }
  std::string joined;
  for (const storage::SegmentData& d : out) joined += d.text;
  REQUIRE(joined == content);
  return out;
}

}  // namespace sipdex::testing
