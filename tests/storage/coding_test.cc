#include "storage/coding.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

using namespace sipdex::storage;

TEST_CASE("Varints round-trip at every size boundary", "[storage][coding]") {
  std::string buf;
  std::vector<std::uint64_t> values;
  for (int shift = 0; shift < 64; ++shift) {
    std::uint64_t v = std::uint64_t{1} << shift;
    values.push_back(v - 1);
    values.push_back(v);
  }
  values.push_back(std::numeric_limits<std::uint64_t>::max());
  for (auto v : values) PutVarint64(&buf, v);
  std::string_view in(buf);
  for (auto v : values) {
    std::uint64_t got = 0;
    REQUIRE(GetVarint64(&in, &got));
    CHECK(got == v);
  }
  CHECK(in.empty());
}

TEST_CASE("Signed varints round-trip negative and extreme values", "[storage][coding]") {
  std::string buf;
  std::vector<std::int64_t> values = {0, -1, 1, -64, 64, std::numeric_limits<std::int64_t>::min(),
                                      std::numeric_limits<std::int64_t>::max()};
  for (auto v : values) PutSignedVarint64(&buf, v);
  std::string_view in(buf);
  for (auto v : values) {
    std::int64_t got = 0;
    REQUIRE(GetSignedVarint64(&in, &got));
    CHECK(got == v);
  }
}

TEST_CASE("Varint readers refuse truncated and overlong input", "[storage][coding]") {
  std::string_view cut("\x80\x80", 2);
  std::uint64_t v = 0;
  CHECK_FALSE(GetVarint64(&cut, &v));
  std::string overlong(11, '\xff');
  std::string_view in(overlong);
  CHECK_FALSE(GetVarint64(&in, &v));
  std::string big;
  PutVarint64(&big, std::uint64_t{1} << 40);
  std::string_view bin(big);
  std::uint32_t v32 = 0;
  CHECK_FALSE(GetVarint32(&bin, &v32));
}

TEST_CASE("Big-endian keys sort like the numbers they hold", "[storage][coding]") {
  std::string a, b;
  PutFixed64BE(&a, 255);
  PutFixed64BE(&b, 256);
  CHECK(a < b);
  std::string_view in(b);
  std::uint64_t v = 0;
  REQUIRE(GetFixed64BE(&in, &v));
  CHECK(v == 256);
}

TEST_CASE("Length-prefixed strings keep hostile bytes and refuse lies about their length", "[storage][coding]") {
  std::string hostile("a\0b\xff\r\n", 6);
  std::string buf;
  PutLengthPrefixed(&buf, hostile);
  std::string_view in(buf);
  std::string_view got;
  REQUIRE(GetLengthPrefixed(&in, &got));
  CHECK(got == hostile);
  std::string lie;
  PutVarint64(&lie, 100);
  lie += "short";
  std::string_view lin(lie);
  CHECK_FALSE(GetLengthPrefixed(&lin, &got));
}

TEST_CASE("CountLineFeeds counts every line feed, at the ends and in a row, and nothing else", "[storage][coding]") {
  CHECK(CountLineFeeds("") == 0);
  CHECK(CountLineFeeds("no line feed\r") == 0);
  CHECK(CountLineFeeds("\n") == 1);
  CHECK(CountLineFeeds("a\r\nb\n\n\nc") == 4);
  std::string big;
  for (int i = 0; i < 1000; ++i) big += std::string(static_cast<std::size_t>(i % 7), 'x') + "\n";
  big += std::string("\0\n\0", 3);
  CHECK(CountLineFeeds(big) == 1001);
}
