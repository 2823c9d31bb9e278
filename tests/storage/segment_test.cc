#include "storage/segment.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using namespace sipdex;
using namespace sipdex::storage;

namespace {

const char* kProtocol =
    "TL_INFO(TF_PROTOCOL) [4]2078.379C::07/16/2014-10:17:57.003.00534084\r\n"
    "Direction: incoming\r\n"
    "Message-Type: request\r\n"
    "FROM: \"UCMA Application\"<sip:ucma-app@thoughtstuff.co.uk>;epid=732E4388A6;tag=3337a42636\r\n"
    "TO: <sip:O365User@thoughtstuff.co.uk>\r\n"
    "CALL-ID: 55e99a32b7f940efa49ca37e876645d6\r\n"
    "CSEQ: 9 SUBSCRIBE\r\n"
    "Message-Body:\r\n"
    "<batchSub uri=\"sip:ucma-app@thoughtstuff.co.uk\">\r\n"
    "$$end_record\r\n";

SegmentData MakeData(const std::vector<std::string>& texts) {
  SegmentData d;
  d.servers = {"fe01", "fe02"};
  d.start_offset = 1000;
  d.start_line = 17;
  TimeMs t = 1405505877003;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SegmentRecordMeta m;
    m.size = static_cast<std::uint32_t>(texts[i].size());
    m.kind = static_cast<RecordKind>(i % kRecordKindCount);
    m.malformed = static_cast<std::uint32_t>(i * 7 % 2048);
    m.time = t + static_cast<TimeMs>(i % 3) * 1000 - 500;
    m.has_time = i % 4 != 0;
    m.server = static_cast<std::uint32_t>(i % 2);
    d.records.push_back(m);
    d.text += texts[i];
  }
  return d;
}

void CheckRoundTrip(const SegmentData& d, TextCodec codec) {
  std::string payload = EncodeSegment(d, codec, 3);
  SegmentData out;
  REQUIRE(DecodeSegment(payload, &out).ok());
  CHECK(out.text == d.text);
  CHECK(out.servers == d.servers);
  CHECK(out.start_offset == d.start_offset);
  CHECK(out.start_line == d.start_line);
  REQUIRE(out.records.size() == d.records.size());
  for (std::size_t i = 0; i < d.records.size(); ++i) {
    CHECK(out.records[i].size == d.records[i].size);
    CHECK(out.records[i].kind == d.records[i].kind);
    CHECK(out.records[i].malformed == d.records[i].malformed);
    CHECK(out.records[i].time == d.records[i].time);
    CHECK(out.records[i].has_time == d.records[i].has_time);
    CHECK(out.records[i].server == d.records[i].server);
  }
}

}  // namespace

TEST_CASE("Segments round-trip protocol records with CRLF line endings in both codecs", "[storage][segment]") {
  SegmentData d = MakeData({kProtocol, kProtocol, std::string(kProtocol) + "junk without newline"});
  CheckRoundTrip(d, TextCodec::kPlain);
  CheckRoundTrip(d, TextCodec::kColumns);
}

TEST_CASE("Column encoding keeps mixed endings, stray CRs, NULs and an unterminated last line", "[storage][segment]") {
  const std::vector<std::string> texts = {
      "",
      "\n",
      "\r\n",
      "a\rb\r\r\n",
      std::string("Name:\0value\n", 12),
      "Name:value\nName: value\nName:  two spaces\r\n:colon first\n",
      "TL_ header only",
      "\xef\xbb\xbf" "TL_INFO(TF_DIAG) x\nText: \xff\xfe latin \xe9\n$$end_record",
  };
  for (const std::string& t : texts) {
    std::string enc = EncodeColumns(t);
    std::string dec;
    REQUIRE(DecodeColumns(enc, &dec).ok());
    CHECK(dec == t);
  }
}

TEST_CASE("Column encoding round-trips random bytes", "[storage][segment]") {
  std::mt19937 rng(42);
  const std::string alphabet("ab:-TL_\r\n \0\xff", 13);
  for (int round = 0; round < 200; ++round) {
    std::string t;
    std::size_t n = rng() % 300;
    for (std::size_t i = 0; i < n; ++i) t.push_back(alphabet[rng() % alphabet.size()]);
    std::string enc = EncodeColumns(t);
    std::string dec;
    REQUIRE(DecodeColumns(enc, &dec).ok());
    REQUIRE(dec == t);
  }
}

TEST_CASE("A damaged segment payload is reported as corruption, never decoded", "[storage][segment]") {
  SegmentData d = MakeData({kProtocol, kProtocol});
  std::string payload = EncodeSegment(d, TextCodec::kColumns, 3);
  SegmentData out;
  for (std::size_t i = 0; i < payload.size(); i += 7) {
    std::string bad = payload;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    Status s = DecodeSegment(bad, &out);
    CHECK_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kCorruption);
  }
  for (std::size_t n = 0; n < payload.size(); n += 5) {
    CHECK_FALSE(DecodeSegment(std::string_view(payload).substr(0, n), &out).ok());
  }
}

TEST_CASE("Hostile column streams are refused without reading out of bounds", "[storage][segment]") {
  std::mt19937 rng(7);
  std::string enc = EncodeColumns(kProtocol);
  for (int round = 0; round < 2000; ++round) {
    std::string bad = enc;
    bad[rng() % bad.size()] = static_cast<char>(rng());
    std::string dec;
    Status s = DecodeColumns(bad, &dec);
    if (s.ok()) CHECK(dec.size() < (1u << 20));
  }
}

TEST_CASE("Column encoding makes protocol text smaller than plain", "[storage][segment]") {
  std::vector<std::string> texts;
  for (int i = 0; i < 2000; ++i) {
    std::string t = kProtocol;
    std::string id = std::to_string(1000000 + i * 7919);
    t.replace(t.find("55e99a32"), 8, id.substr(0, 7) + "x");
    texts.push_back(t);
  }
  SegmentData d = MakeData(texts);
  std::size_t plain = EncodeSegment(d, TextCodec::kPlain, 3).size();
  std::size_t columns = EncodeSegment(d, TextCodec::kColumns, 3).size();
  CHECK(columns < plain);
}
