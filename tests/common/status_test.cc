#include "common/status.h"

#include <catch2/catch.hpp>

using namespace sipdex;

namespace {
Status FailsWith(Status s) {
  SIPDEX_RETURN_IF_ERROR(s);
  return Status::Ok();
}
Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}
}  // namespace

TEST_CASE("Status carries a code and a message for people", "[common][status]") {
  REQUIRE(Status::Ok().ok());
  REQUIRE(Status::Ok().ToString() == "ok");
  Status s = Status::Corruption("block 3 of file a.log");
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.code() == Status::Code::kCorruption);
  REQUIRE(s.ToString() == "corruption: block 3 of file a.log");
  REQUIRE(FailsWith(Status::IoError("disk full")).code() == Status::Code::kIoError);
  REQUIRE(FailsWith(Status::Ok()).ok());
}

TEST_CASE("Result holds a value or the status that explains its absence", "[common][status]") {
  Result<int> good = Half(8);
  REQUIRE(good.ok());
  REQUIRE(*good == 4);
  Result<int> bad = Half(3);
  REQUIRE_FALSE(bad.ok());
  REQUIRE(bad.status().message() == "odd: 3");
}
