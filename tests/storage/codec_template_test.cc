// The templated segment codec on real inputs: every fixture of corpus/fixtures
// and a generated corpus, cut into segments the way ingest cuts them (framer
// batches parsed for record times), must come back byte for byte, whole and
// one record at a time, and smaller than the column codec.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "corpus/generator.h"
#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"
#include "storage/segment.h"
#include "tests/storage/segments_of_file.h"
#include "tests/corpus/test_util.h"

using namespace sipdex;
using namespace sipdex::storage;

namespace {


struct Sizes {
  std::uint64_t raw = 0;
  std::uint64_t columns = 0;
  std::uint64_t templates = 0;
};

// Encodes d with chunks of chunk_bytes, checks the whole decode and every
// record's point read, and adds the sizes to *sizes.
void CheckSegment(const SegmentData& d, std::size_t chunk_bytes, Sizes* sizes) {
  std::string payload = EncodeSegment(d, TextCodec::kTemplates, 3, chunk_bytes);
  SegmentDecoder decoder;
  SegmentData out;
  REQUIRE(decoder.Decode(payload, &out).ok());
  REQUIRE(out.text == d.text);
  REQUIRE(out.records.size() == d.records.size());
  std::uint64_t offset = 0;
  std::uint32_t line = d.start_line;
  SegmentData one;
  for (std::uint32_t i = 0; i < d.records.size(); ++i) {
    std::string_view expected = std::string_view(d.text).substr(offset, d.records[i].size);
    REQUIRE(decoder.DecodeRecords(payload, i, 1, &one).ok());
    REQUIRE(one.text == expected);
    REQUIRE(one.start_offset == d.start_offset + offset);
    REQUIRE(one.start_line == line);
    REQUIRE(one.records[0].time == d.records[i].time);
    offset += d.records[i].size;
    line += static_cast<std::uint32_t>(std::count(expected.begin(), expected.end(), '\n'));
  }
  sizes->raw += d.text.size();
  sizes->columns += EncodeSegment(d, TextCodec::kColumns, 3).size();
  sizes->templates += payload.size();
}

}  // namespace

TEST_CASE("Every fixture round-trips through the templated codec, whole and record by record",
          "[storage][codec][fixtures]") {
  auto files = ExpandInputs({std::string(SIPDEX_SOURCE_DIR) + "/corpus/fixtures"});
  REQUIRE(files.ok());
  REQUIRE(files->size() >= 20);
  for (const LogicalFile& f : *files) {
    INFO(f.name);
    Sizes sizes;
    for (const SegmentData& d : testing::SegmentsOfFile(f, 4096)) CheckSegment(d, 1024, &sizes);
    for (const SegmentData& d : testing::SegmentsOfFile(f, 8u << 20)) CheckSegment(d, kDefaultChunkBytes, &sizes);
  }
}

TEST_CASE("A generated corpus round-trips through the templated codec in much less than the column codec",
          "[storage][codec][generated]") {
  corpus::testing::ScratchDir dir("codec_template_test");
  corpus::GenOptions options;
  options.size_bytes = 6u << 20;
  options.seed = 5;
  options.days = 2;
  options.threads = 1;
  options.out_dir = dir.path();
  REQUIRE(corpus::GenerateCorpus(options).ok());
  auto files = ExpandInputs({dir.path()});
  REQUIRE(files.ok());
  REQUIRE(files->size() >= 2);
  Sizes sizes;
  for (const LogicalFile& f : *files) {
    INFO(f.name);
    for (const SegmentData& d : testing::SegmentsOfFile(f, 2u << 20)) CheckSegment(d, 256u << 10, &sizes);
  }
  INFO("raw " << sizes.raw << " columns " << sizes.columns << " templates " << sizes.templates);
  CHECK(sizes.raw > (5u << 20));
  CHECK(sizes.templates * 100 < sizes.columns * 85);
}
