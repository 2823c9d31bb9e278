#include "indexer/framer.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/indexer/fixture_util.h"

using namespace sipdex;
using sipdex::testing::FrameAndParse;
using sipdex::testing::ReadFixture;

namespace {

const std::vector<std::string> kAllFixtures = {
    "bad_binary_junk.log", "bad_header_line.log", "bad_impossible_date.log", "bad_sip_line.log",
    "bad_truncated.log", "batch_subscribe.log", "bom.log", "compact_forms.log", "crlf.log",
    "diagnostic_record.log", "diagnostics_spellings.log", "empty.log", "folded_headers.log",
    "long_line.log.gz", "lookalike_foreign.log", "machine_forms.log", "multipart_rlmi.log",
    "old_variant_no_start_line.log", "repeated_headers.log", "seed_records.log", "seed_report.txt",
    "several_searches.log", "tail_free_text.log", "tail_marker_glued.log", "tail_none_instance_id.log",
    "ucma_uppercase.log"};

// Checks that spans are contiguous, start at 0, and concatenate to `bytes`,
// and that each span's line number is 1 + the newlines before it.
void CheckCoverage(const std::string& bytes, const sipdex::testing::Framed& f) {
  std::string joined;
  std::uint64_t expect_offset = 0;
  for (const RecordBatch& b : f.batches) {
    REQUIRE(b.offset == expect_offset);
    for (std::size_t i = 0; i < b.spans.size(); ++i) {
      const FramedSpan& s = b.spans[i];
      REQUIRE(s.offset == expect_offset);
      REQUIRE(s.size > 0);
      std::uint32_t line = 1;
      for (std::size_t k = 0; k < s.offset; ++k) line += bytes[k] == '\n';
      REQUIRE(s.line == line);
      joined += b.Text(i);
      expect_offset += s.size;
    }
    REQUIRE(b.data.size() == expect_offset - b.offset);
  }
  REQUIRE(joined == bytes);
}

std::vector<std::tuple<std::uint64_t, std::uint32_t, std::uint32_t, int, std::uint32_t>> Shape(
    const sipdex::testing::Framed& f) {
  std::vector<std::tuple<std::uint64_t, std::uint32_t, std::uint32_t, int, std::uint32_t>> out;
  for (const FramedSpan& s : f.Spans()) out.emplace_back(s.offset, s.line, s.size, static_cast<int>(s.kind), s.malformed);
  return out;
}

}  // namespace

TEST_CASE("Framing spans concatenate to the input of every fixture at every chunk size", "[indexer][framer]") {
  for (const std::string& name : kAllFixtures) {
    INFO(name);
    std::string bytes = ReadFixture(name);
    auto whole = FrameAndParse(bytes, bytes.size() + 1);
    CheckCoverage(bytes, *whole);
    for (std::size_t chunk : {1, 2, 3, 13, 511, 4096}) {
      if (bytes.size() > 200000 && chunk < 511) continue;  // the 1 MB fixture: see the byte-by-byte test
      INFO("chunk " << chunk);
      auto f = FrameAndParse(bytes, chunk);
      CheckCoverage(bytes, *f);
      REQUIRE(Shape(*f) == Shape(*whole));
    }
  }
}

TEST_CASE("Small batches hold whole spans and keep their order", "[indexer][framer]") {
  std::string bytes = ReadFixture("multipart_rlmi.log") + ReadFixture("tail_free_text.log");
  FramerOptions options;
  options.batch_bytes = 1;
  auto f = FrameAndParse(bytes, 100, options);
  CheckCoverage(bytes, *f);
  REQUIRE(f->batches.size() == 5);
  for (std::size_t i = 0; i < f->batches.size(); ++i) {
    REQUIRE(f->batches[i].sequence == i);
    REQUIRE(f->batches[i].spans.size() == 1);
  }
  REQUIRE(f->batches[2].line == 36);
}

TEST_CASE("An empty file yields no span", "[indexer][framer]") {
  auto f = FrameAndParse("", 1);
  REQUIRE(f->batches.empty());
}

TEST_CASE("A file that is only a BOM is one unflagged junk span", "[indexer][framer]") {
  auto f = FrameAndParse("\xEF\xBB\xBF", 1);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 1);
  REQUIRE(spans[0].kind == RecordKind::kJunk);
  REQUIRE(spans[0].malformed == kMalformedNone);
  REQUIRE(spans[0].size == 3);
}

TEST_CASE("A BOM starts the file as its own junk span and the record follows on line 1", "[indexer][framer]") {
  auto f = sipdex::testing::ParseFixture("bom.log", 2);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 3);
  REQUIRE(spans[0].kind == RecordKind::kJunk);
  REQUIRE(spans[0].malformed == kMalformedNone);
  REQUIRE(spans[0].size == 3);
  REQUIRE(spans[1].offset == 3);
  REQUIRE(spans[1].line == 1);
  REQUIRE(spans[2].line == 13);
}

TEST_CASE("A BOM before an appended search is split off and the next record starts after it", "[indexer][framer]") {
  auto f = sipdex::testing::ParseFixture("several_searches.log", 5);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 5);
  REQUIRE(spans[2].kind == RecordKind::kJunk);
  REQUIRE(spans[2].offset == 286);
  REQUIRE(spans[2].size == 3);
  REQUIRE(spans[2].line == 8);
  REQUIRE(spans[2].malformed == kMalformedNone);
  REQUIRE(spans[3].offset == 289);
  REQUIRE(spans[3].line == 8);
  REQUIRE(spans[3].malformed == kMalformedNone);
}

TEST_CASE("Text before the first header and after the last record is flagged junk", "[indexer][framer]") {
  auto f = sipdex::testing::ParseFixture("seed_report.txt");
  auto spans = f->Spans();
  REQUIRE(spans.size() == 4);
  REQUIRE(spans[0].kind == RecordKind::kJunk);
  REQUIRE(spans[0].malformed == kMalformedJunk);
  REQUIRE(spans[0].line == 1);
  REQUIRE(spans[1].line == 11);
  REQUIRE(spans[2].line == 26);
  REQUIRE(spans[3].kind == RecordKind::kJunk);
  REQUIRE(spans[3].line == 39);
  REQUIRE(spans[3].malformed == kMalformedJunk);
}

TEST_CASE("Blank lines between records are kept as unflagged junk", "[indexer][framer]") {
  std::string rec = ReadFixture("diagnostic_record.log");
  std::string bytes = rec + "\r\n\n" + rec;
  auto f = FrameAndParse(bytes, 7);
  CheckCoverage(bytes, *f);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 3);
  REQUIRE(spans[1].kind == RecordKind::kJunk);
  REQUIRE(spans[1].malformed == kMalformedNone);
  REQUIRE(spans[1].line == 12);
  REQUIRE(spans[2].line == 14);
  REQUIRE(spans[2].malformed == kMalformedNone);
}

TEST_CASE("A garbled TL_ line starts a record flagged header-line instead of joining the previous one",
          "[indexer][framer]") {
  auto f = sipdex::testing::ParseFixture("bad_header_line.log", 3);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 3);
  REQUIRE(spans[0].malformed == kMalformedNone);
  REQUIRE(spans[1].line == 8);
  REQUIRE(spans[1].malformed == kMalformedHeaderLine);
  REQUIRE(spans[2].line == 15);
  REQUIRE(spans[2].malformed == kMalformedNone);
}

TEST_CASE("A record cut by the end of the file is flagged truncated", "[indexer][framer]") {
  auto f = sipdex::testing::ParseFixture("bad_truncated.log", 1);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 2);
  REQUIRE(spans[1].line == 8);
  REQUIRE(spans[1].malformed == kMalformedTruncated);
}

TEST_CASE("A file ending in $$end_record without a final newline is not truncated", "[indexer][framer]") {
  std::string bytes = ReadFixture("diagnostic_record.log");
  bytes.pop_back();  // drop the last LF
  for (std::size_t chunk : {1, 3, 1000}) {
    auto f = FrameAndParse(bytes, chunk);
    CheckCoverage(bytes, *f);
    auto spans = f->Spans();
    REQUIRE(spans.size() == 1);
    REQUIRE(spans[0].malformed == kMalformedNone);
  }
}

TEST_CASE("A protocol record cut by the next header is flagged truncated", "[indexer][framer]") {
  std::string a = ReadFixture("machine_forms.log");
  std::string cut = a.substr(0, a.find("$$end_record"));  // first record without its end marker
  std::string bytes = cut + a;
  auto f = FrameAndParse(bytes, 64);
  CheckCoverage(bytes, *f);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 4);
  REQUIRE(spans[0].malformed == kMalformedTruncated);
  REQUIRE(spans[1].line == 7);
  REQUIRE(spans[1].malformed == kMalformedNone);
}

TEST_CASE("One-line traces without a marker end at the next header without being truncated", "[indexer][framer]") {
  auto f = sipdex::testing::ParseFixture("tail_free_text.log", 9);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 3);
  REQUIRE(spans[0].malformed == kMalformedNone);
  REQUIRE(spans[1].line == 2);
  REQUIRE(spans[1].malformed == kMalformedNone);
  REQUIRE(spans[2].line == 4);
  REQUIRE(spans[2].malformed == kMalformedNone);
}

TEST_CASE("Look-alike records from another product are foreign spans", "[indexer][framer]") {
  auto f = sipdex::testing::ParseFixture("lookalike_foreign.log", 4);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 3);
  REQUIRE(spans[0].kind == RecordKind::kForeign);
  REQUIRE(spans[0].malformed == kMalformedForeign);
  REQUIRE(spans[0].line == 1);
  REQUIRE(spans[1].kind == RecordKind::kForeign);
  REQUIRE(spans[1].line == 6);
  REQUIRE(spans[2].kind == RecordKind::kOther);  // a TL_ record, refined by the parser
  REQUIRE(spans[2].line == 10);
}

TEST_CASE("Binary junk between records is one flagged junk span with its line", "[indexer][framer]") {
  auto f = sipdex::testing::ParseFixture("bad_binary_junk.log", 16);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 3);
  REQUIRE(spans[1].kind == RecordKind::kJunk);
  REQUIRE(spans[1].malformed == kMalformedJunk);
  REQUIRE(spans[1].line == 8);
  REQUIRE(spans[1].size == 270);
  REQUIRE(spans[2].line == 11);
}

TEST_CASE("A span longer than max_span_bytes is cut into a truncated record and junk", "[indexer][framer]") {
  std::string header =
      "TL_INFO(TF_PROTOCOL) [4]2078.379C::07/16/2014-10:17:57.003.00534084\nMessage-Body: ";
  std::string bytes = header + std::string(5000, 'x') + "\n$$end_record\n" + ReadFixture("diagnostic_record.log");
  FramerOptions options;
  options.max_span_bytes = 1024;
  auto f = FrameAndParse(bytes, 100, options);
  CheckCoverage(bytes, *f);
  auto spans = f->Spans();
  REQUIRE(spans.size() >= 3);
  REQUIRE(spans[0].size == 1024);
  REQUIRE(spans[0].malformed == (kMalformedTruncated | kMalformedLongLine));
  for (std::size_t i = 1; i + 1 < spans.size(); ++i) {
    REQUIRE(spans[i].kind == RecordKind::kJunk);
    REQUIRE(spans[i].malformed == kMalformedJunk);
    REQUIRE(spans[i].size <= 1024);
  }
  REQUIRE(spans.back().kind == RecordKind::kOther);
  REQUIRE(spans.back().line == 4);
  REQUIRE(spans.back().malformed == kMalformedNone);
}

TEST_CASE("A megabyte line fed one byte at a time is framed whole", "[indexer][framer]") {
  std::string bytes = ReadFixture("long_line.log.gz");
  REQUIRE(bytes.size() > (1u << 20));
  auto f = FrameAndParse(bytes, 1);
  CheckCoverage(bytes, *f);
  auto spans = f->Spans();
  REQUIRE(spans.size() == 2);
  REQUIRE(spans[0].size > (1u << 20));
  REQUIRE(spans[1].line == 10);
}

TEST_CASE("NULs, lone CRs and invalid UTF-8 never break framing", "[indexer][framer]") {
  std::string bytes("TL_\0\r\r\n\xff\xfe$$end_record\r\n$$begin_record\n\x80TL_INFO(TF_X) [\n", 50);
  bytes += std::string(1000, '\0');
  for (std::size_t chunk : {1, 5, 64}) {
    auto f = FrameAndParse(bytes, chunk);
    CheckCoverage(bytes, *f);
  }
}

TEST_CASE("IsHeaderLine accepts the four tail shapes and rejects near misses", "[indexer][framer]") {
  REQUIRE(IsHeaderLine("TL_INFO(TF_PROTOCOL) [4]2078.379C::07/16/2014-10:17:57.003.00534084"));
  REQUIRE(IsHeaderLine("TL_INFO(TF_PROTOCOL) [2]2078.4C38::07/16/2014-10:17:57.137.005363bd Instance-Id: 1B54A30"));
  REQUIRE(IsHeaderLine("TL_WARN(TF_DIAG) [fe01\\fe01]0A1C.0F3C::03/02/2017-07:10:46.230.0000773E (SIPStack,"
                       "SIPAdminLog::WriteDiagnosticEvent:SIPAdminLog.cpp(830)) [987654321] $$begin_record"));
  REQUIRE(IsHeaderLine("TL_INFO(TF_SHOW_ALLREQUESTS) [0]0A1C.0F3C::03/02/2017-07:10:45.120.0000772A (x)$$begin_record"));
  REQUIRE_FALSE(IsHeaderLine("TL_INFO(TF_PROTOCOL [4]2078.379C::07/16/2014-10:17:57.003.00534084"));
  REQUIRE_FALSE(IsHeaderLine("TL_info(TF_PROTOCOL) [4]2078.379C::07/16/2014-10:17:57.003.00534084"));
  REQUIRE_FALSE(IsHeaderLine("TL_INFO(TF_PROTOCOL) [4]2078.379C::07/16/2014-10:17:57.00.00534084"));
  REQUIRE_FALSE(IsHeaderLine("TL_INFO(TF_PROTOCOL) [4]2078.379C::07/16/2014-10:17:57.003.005340841"));
  REQUIRE_FALSE(IsHeaderLine("TL_INFO(TF_PROTOCOL) []2078.379C::07/16/2014-10:17:57.003.00534084"));
  REQUIRE_FALSE(IsHeaderLine(""));
}
