#include "storage/segment.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>
#include <string>

#include "storage/coding.h"

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

void CheckRoundTrip(const SegmentData& d, TextCodec codec, std::size_t chunk_bytes = kDefaultChunkBytes) {
  std::string payload = EncodeSegment(d, codec, 3, chunk_bytes);
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

TEST_CASE("Segments round-trip protocol records with CRLF line endings in every codec", "[storage][segment]") {
  SegmentData d = MakeData({kProtocol, kProtocol, std::string(kProtocol) + "junk without newline"});
  CheckRoundTrip(d, TextCodec::kPlain);
  CheckRoundTrip(d, TextCodec::kColumns);
  CheckRoundTrip(d, TextCodec::kTemplates);
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

// --- Codec 2 (templates) ------------------------------------------------------

namespace {

// Text that exercises every tokenizer path: numbers with and without leading
// zeros, too long for 64 bits, hex of every case and length around the
// limits, control bytes, invalid UTF-8, stray CRs, trace times that match the
// record time and times that do not.
const std::vector<std::string>& HostileTexts() {
  static const std::vector<std::string> texts = {
      "",
      "\n",
      "\r\n",
      "\r",
      "a\rb\r\r\n\r",
      std::string("Name:\0value\n\0\0\n", 16),
      std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x1f\x7f\n", 14),
      "CSeq: 0 00 007 0000000000000000000 9999999999999999999 10000000000000000000 "
      "18446744073709551615 18446744073709551616 123456789012345678901234567890\n",
      "Call-ID: ffffffffffffffff 0000000000000000 fffffffffffffffff 1a 1A a1b2 A1B2 aB12 "
      "z9hG4bK66B67403 G1 g123abc 9e 0x1F deadbeef DEADBEEF 00000000-0000-0000-0000-000000000000\n",
      "From: \"Smith, Heidi\" <sip:heidi.smith@tailspintoys.com>;tag=28d6af0cc;epid=426FD5495\n",
      "TL_INFO(TF_PROTOCOL) [1]142B.190E::07/16/2014-10:17:57.003.2C2055BD (SIPStack)$$begin_record\r\n",
      "TL_INFO(TF_PROTOCOL) [1]142B.190E::07/16/2014-10:17:58.003.2C2055BD (SIPStack)$$begin_record\r\n",
      "TL_ 07/16/2014-10:17:57.003 07/16/2014-10:17:57.003\n",
      "\xef\xbb\xbf" "TL_INFO(TF_DIAG) x\nText: \xff\xfe latin \xe9 \xc3\x28 \xf0\x9f\x98\x80\n$$end_record",
      "Via: SIP/2.0/TLS 10.0.3.31:5061;branch=z9hG4bK66B67403;ms-received-port=5061\n"
      "Via: SIP/2.0/TLS 10.0.3.31:5061;branch=z9hG4bK66B67403;ms-received-port=5061\n",
      "a-very-long-header-name-that-is-longer-than-forty-eight-characters-in-all: 1\n"
      "<categories xmlns=\"http://schemas.microsoft.com/2006/09/sip/categories\" uri=\"sip:a@b\">\n",
      "no final newline 12345",
  };
  return texts;
}

std::string FixChecksum(std::string payload) {
  // "SXS1" codec checksum:fixed64be rest: the checksum covers rest.
  std::string sum;
  PutFixed64BE(&sum, Hash64(std::string_view(payload).substr(13)));
  payload.replace(5, 8, sum);
  return payload;
}

// Realistic records with distinct identifiers.
std::vector<std::string> ProtocolTexts(int n) {
  std::vector<std::string> texts;
  std::mt19937 rng(3);
  for (int i = 0; i < n; ++i) {
    std::string t = kProtocol;
    char id[40];
    std::snprintf(id, sizeof id, "%08x%08x%08x%08x", static_cast<unsigned>(rng()), static_cast<unsigned>(rng()),
                  static_cast<unsigned>(rng()), static_cast<unsigned>(i));
    t.replace(t.find("55e99a32b7f940efa49ca37e876645d6"), 32, id);
    t.replace(t.find("CSEQ: 9"), 7, "CSEQ: " + std::to_string(i % 30 + 1));
    texts.push_back(t);
  }
  return texts;
}

}  // namespace

TEST_CASE("Templated segments round-trip hostile text byte for byte", "[storage][segment][templates]") {
  for (const std::string& t : HostileTexts()) {
    CheckRoundTrip(MakeData({t}), TextCodec::kTemplates);
    CheckRoundTrip(MakeData({t, t, kProtocol, t}), TextCodec::kTemplates);
  }
  CheckRoundTrip(MakeData(HostileTexts()), TextCodec::kTemplates);
  CheckRoundTrip(MakeData(HostileTexts()), TextCodec::kTemplates, 1);
}

TEST_CASE("Templated segments round-trip megabyte lines of digits, hex and random bytes", "[storage][segment][templates]") {
  std::mt19937 rng(11);
  std::string digits, hex, upper, random;
  for (int i = 0; i < (1 << 20); ++i) {
    digits.push_back(static_cast<char>('0' + rng() % 10));
    hex.push_back("0123456789abcdef"[rng() % 16]);
    upper.push_back("0123456789ABCDEF"[rng() % 16]);
    random.push_back(static_cast<char>(rng()));
  }
  CheckRoundTrip(MakeData({digits, "\n" + hex + "\r\n", "Call-ID: " + upper, random}), TextCodec::kTemplates);
  CheckRoundTrip(MakeData({"X: " + hex + "\n", "X: " + hex + "\n", kProtocol}), TextCodec::kTemplates, 1000);
}

TEST_CASE("Templated segments round-trip random bytes cut into random records and chunks", "[storage][segment][templates]") {
  std::mt19937 rng(42);
  const std::string alphabet("ab:-TL_\r\n \0\x01\x07\xff" "0123456789AFaf/.;=\"", 33);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> texts;
    int nrec = static_cast<int>(rng() % 6);
    for (int r = 0; r < nrec; ++r) {
      std::string t;
      std::size_t n = rng() % 200;
      for (std::size_t i = 0; i < n; ++i) t.push_back(alphabet[rng() % alphabet.size()]);
      texts.push_back(t);
    }
    SegmentData d = MakeData(texts);
    std::string payload = EncodeSegment(d, TextCodec::kTemplates, 1, rng() % 3 == 0 ? 0 : 1 + rng() % 300);
    SegmentData out;
    REQUIRE(DecodeSegment(payload, &out).ok());
    REQUIRE(out.text == d.text);
    REQUIRE(out.records.size() == d.records.size());
  }
}

TEST_CASE("Reading a few records of a templated segment equals slicing the whole decode", "[storage][segment][templates]") {
  std::vector<std::string> texts = ProtocolTexts(300);
  texts[17] = "junk line without a newline at the end of its record";
  texts[18] = "continued junk\n";
  SegmentData d = MakeData(texts);
  std::string payload = EncodeSegment(d, TextCodec::kTemplates, 3, 4096);  // many chunks
  SegmentData whole;
  REQUIRE(DecodeSegment(payload, &whole).ok());
  REQUIRE(whole.text == d.text);
  std::vector<std::uint64_t> offsets(d.records.size() + 1, 0);
  std::vector<std::uint32_t> lines(d.records.size() + 1, d.start_line);
  for (std::size_t i = 0; i < d.records.size(); ++i) {
    offsets[i + 1] = offsets[i] + d.records[i].size;
    lines[i + 1] = lines[i] + static_cast<std::uint32_t>(std::count(texts[i].begin(), texts[i].end(), '\n'));
  }
  SegmentDecoder decoder;
  SegmentData part;
  auto check = [&](std::uint32_t first, std::uint32_t count) {
    REQUIRE(decoder.DecodeRecords(payload, first, count, &part).ok());
    CHECK(part.text == d.text.substr(offsets[first], offsets[first + count] - offsets[first]));
    CHECK(part.start_offset == d.start_offset + offsets[first]);
    CHECK(part.start_line == lines[first]);
    CHECK(part.servers == d.servers);
    REQUIRE(part.records.size() == count);
    for (std::uint32_t i = 0; i < count; ++i) {
      CHECK(part.records[i].time == d.records[first + i].time);
      CHECK(part.records[i].size == d.records[first + i].size);
    }
  };
  for (std::uint32_t i = 0; i < d.records.size(); ++i) check(i, 1);
  check(0, static_cast<std::uint32_t>(d.records.size()));
  check(10, 40);
  check(299, 1);
  check(5, 0);
  CHECK(decoder.DecodeRecords(payload, 300, 1, &part).code() == Status::Code::kInvalidArgument);
  CHECK(decoder.DecodeRecords(payload, 1, 300, &part).code() == Status::Code::kInvalidArgument);
}

TEST_CASE("Point reads of plain and column segments still work", "[storage][segment][templates]") {
  SegmentData d = MakeData({kProtocol, "x\n", kProtocol});
  for (TextCodec codec : {TextCodec::kPlain, TextCodec::kColumns}) {
    SegmentData part;
    REQUIRE(DecodeSegmentRecords(EncodeSegment(d, codec, 3), 1, 2, &part).ok());
    CHECK(part.text == "x\n" + std::string(kProtocol));
    CHECK(part.start_line == d.start_line + 10);
  }
}

TEST_CASE("One decoder decodes a big segment, then a small one, then a big one again", "[storage][segment][templates]") {
  SegmentData big = MakeData(ProtocolTexts(2000));
  SegmentData small = MakeData({kProtocol});
  std::string pb = EncodeSegment(big, TextCodec::kTemplates, 3, 65536);
  std::string ps = EncodeSegment(small, TextCodec::kTemplates, 3);
  SegmentDecoder decoder;
  SegmentData out;
  REQUIRE(decoder.Decode(pb, &out).ok());
  CHECK(out.text == big.text);
  REQUIRE(decoder.Decode(ps, &out).ok());
  CHECK(out.text == small.text);
  CHECK(out.records.size() == 1);
  REQUIRE(decoder.Decode(pb, &out).ok());
  CHECK(out.text == big.text);
}

TEST_CASE("A damaged templated payload is corruption, and no payload makes the decoder misbehave", "[storage][segment][templates]") {
  SegmentData d = MakeData(ProtocolTexts(40));
  std::string payload = EncodeSegment(d, TextCodec::kTemplates, 3, 2048);
  SegmentData out;
  for (std::size_t i = 0; i < payload.size(); i += 3) {
    std::string bad = payload;
    bad[i] = static_cast<char>(bad[i] ^ 0x21);
    Status s = DecodeSegment(bad, &out);
    CHECK_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kCorruption);
  }
  for (std::size_t n = 0; n < payload.size(); n += 11) {
    Status s = DecodeSegment(std::string_view(payload).substr(0, n), &out);
    CHECK(s.code() == Status::Code::kCorruption);
  }
  // With a valid checksum the damage reaches the parsers: they must refuse it
  // or produce text of exactly the recorded size, never read out of bounds.
  std::mt19937 rng(5);
  int refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bad = payload;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bad[13 + rng() % (bad.size() - 13)] = static_cast<char>(rng());
    bad = FixChecksum(bad);
    Status s = DecodeSegment(bad, &out);
    if (!s.ok()) {
      CHECK(s.code() == Status::Code::kCorruption);
      ++refused;
      continue;
    }
    std::uint64_t total = 0;
    for (const auto& r : out.records) total += r.size;
    CHECK(out.text.size() == total);
    SegmentData part;
    Status p = DecodeSegmentRecords(bad, 0, static_cast<std::uint32_t>(std::min<std::size_t>(1, out.records.size())), &part);
    CHECK(p.ok());
  }
  CHECK(refused > 1500);
}

TEST_CASE("The templated codec stores records that differ only in random ids in less than the column codec",
          "[storage][segment][templates]") {
  SegmentData d = MakeData(ProtocolTexts(3000));
  std::size_t columns = EncodeSegment(d, TextCodec::kColumns, 3).size();
  std::size_t templates = EncodeSegment(d, TextCodec::kTemplates, 3).size();
  CHECK(templates < columns);
  // The floor: 16 random bytes per Call-ID.
  CHECK(templates > 3000 * 12);
}
