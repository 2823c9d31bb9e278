#include "tests/indexer/fixture_util.h"

#include <catch2/catch.hpp>

namespace sipdex::testing {

std::string ReadFixture(const std::string& name) {
  std::vector<std::string> warnings;
  Result<std::vector<LogicalFile>> files = ExpandInputs({FixturePath(name)}, &warnings);
  REQUIRE(files.ok());
  REQUIRE(files->size() == 1);
  Result<std::unique_ptr<LogReader>> reader = OpenLogicalFile(files->front());
  REQUIRE(reader.ok());
  std::string out;
  Status s = ReadAll(reader->get(), &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

std::vector<FramedSpan> Framed::Spans() const {
  std::vector<FramedSpan> out;
  for (const RecordBatch& b : batches) out.insert(out.end(), b.spans.begin(), b.spans.end());
  return out;
}

std::vector<const Record*> Framed::Visible() const {
  std::vector<const Record*> out;
  for (const Record& r : records) {
    if (r.kind == RecordKind::kJunk && r.malformed == kMalformedNone) continue;
    out.push_back(&r);
  }
  return out;
}

std::unique_ptr<Framed> FrameAndParse(const std::string& bytes, std::size_t chunk, FramerOptions options) {
  auto out = std::make_unique<Framed>();
  RecordFramer framer(options);
  RecordBatch batch;
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
    framer.Feed(std::string_view(bytes).substr(pos, chunk));
    while (framer.NextBatch(&batch)) out->batches.push_back(std::move(batch));
  }
  framer.Finish();
  while (framer.NextBatch(&batch)) out->batches.push_back(std::move(batch));
  for (const RecordBatch& b : out->batches) {
    for (std::size_t i = 0; i < b.spans.size(); ++i) {
      out->records.emplace_back();
      ParseRecord(b.Text(i), b.spans[i], &out->records.back());
    }
  }
  return out;
}

std::unique_ptr<Framed> ParseFixture(const std::string& name, std::size_t chunk) {
  return FrameAndParse(ReadFixture(name), chunk);
}

}  // namespace sipdex::testing
