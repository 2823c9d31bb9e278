#include "common/time.h"

#include <catch2/catch.hpp>

using namespace sipdex;

TEST_CASE("DaysFromCivil and CivilFromDays are inverse over four centuries", "[common][time]") {
  for (std::int64_t d = -146097; d <= 146097; d += 7) {
    CivilTime c = CivilFromDays(d);
    REQUIRE(DaysFromCivil(c.year, c.month, c.day) == d);
  }
  REQUIRE(DaysFromCivil(1970, 1, 1) == 0);
  REQUIRE(DaysFromCivil(2014, 7, 16) == 16267);
}

TEST_CASE("MakeTime rejects impossible dates and times", "[common][time]") {
  REQUIRE_FALSE(MakeTime({2014, 2, 29, 0, 0, 0, 0}));
  REQUIRE(MakeTime({2016, 2, 29, 0, 0, 0, 0}));
  REQUIRE_FALSE(MakeTime({2014, 13, 1, 0, 0, 0, 0}));
  REQUIRE_FALSE(MakeTime({2014, 4, 31, 0, 0, 0, 0}));
  REQUIRE_FALSE(MakeTime({2014, 7, 16, 24, 0, 0, 0}));
  REQUIRE_FALSE(MakeTime({2014, 7, 16, 10, 60, 0, 0}));
  REQUIRE_FALSE(MakeTime({2014, 7, 16, 10, 0, 0, 1000}));
}

TEST_CASE("FormatTime prints UTC with milliseconds", "[common][time]") {
  TimeMs t = *MakeTime({2014, 7, 16, 10, 17, 57, 3});
  REQUIRE(FormatTime(t) == "2014-07-16T10:17:57.003Z");
  REQUIRE(FormatDate(t) == "2014-07-16");
  REQUIRE(FormatTime(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("ParseIsoTime reads dates, times and zones", "[common][time]") {
  TimeMs t = *MakeTime({2014, 7, 16, 10, 17, 57, 3});
  REQUIRE(ParseIsoTime("2014-07-16T10:17:57.003Z") == t);
  REQUIRE(ParseIsoTime("2014-07-16T10:17:57.003") == t);
  REQUIRE(ParseIsoTime("2014-07-16 10:17:57.003") == t);
  REQUIRE(ParseIsoTime("2014-07-16T10:17:57") == t - 3);
  REQUIRE(ParseIsoTime("2014-07-16") == FloorDay(t));
  REQUIRE(ParseIsoTime("2014-07-16T12:17:57.003", 2 * kMsPerHour) == t);
  REQUIRE(ParseIsoTime("2014-07-16T10:17:57.003Z", 2 * kMsPerHour) == t);
  REQUIRE_FALSE(ParseIsoTime("2014-07-32"));
  REQUIRE_FALSE(ParseIsoTime("2014-7-16"));
  REQUIRE_FALSE(ParseIsoTime("2014-07-16T"));
  REQUIRE_FALSE(ParseIsoTime("2014-07-16T10:17:57.0031"));
}

TEST_CASE("ISO weeks start on Monday and belong to the year of their Thursday", "[common][time]") {
  TimeMs t = *MakeTime({2014, 7, 16, 10, 0, 0, 0});
  REQUIRE(IsoWeekOf(t) == IsoWeek{2014, 29});
  REQUIRE(FormatDate(*IsoWeekStart({2014, 29})) == "2014-07-14");
  // 2015-01-01 is a Thursday: week 1 of 2015 starts 2014-12-29.
  REQUIRE(IsoWeekOf(*MakeTime({2014, 12, 29, 0, 0, 0, 0})) == IsoWeek{2015, 1});
  // 2021-01-03 is a Sunday in week 53 of 2020.
  REQUIRE(IsoWeekOf(*MakeTime({2021, 1, 3, 0, 0, 0, 0})) == IsoWeek{2020, 53});
  REQUIRE(IsoWeekStart({2020, 53}));
  REQUIRE_FALSE(IsoWeekStart({2014, 53}));
  REQUIRE(ParseIsoWeek("2014-W29") == IsoWeek{2014, 29});
  REQUIRE(FormatIsoWeek({2014, 9}) == "2014-W09");
  REQUIRE_FALSE(ParseIsoWeek("2014-W53"));
  REQUIRE_FALSE(ParseIsoWeek("2014W29"));
}

TEST_CASE("Durations parse and print in their largest exact unit", "[common][time]") {
  REQUIRE(ParseDuration("250ms") == 250);
  REQUIRE(ParseDuration("32s") == 32000);
  REQUIRE(ParseDuration("5m") == 300000);
  REQUIRE(ParseDuration("2h") == 7200000);
  REQUIRE(ParseDuration("7d") == 7 * kMsPerDay);
  REQUIRE_FALSE(ParseDuration("7"));
  REQUIRE_FALSE(ParseDuration("s"));
  REQUIRE_FALSE(ParseDuration("3y"));
  REQUIRE(FormatDuration(32000) == "32s");
  REQUIRE(FormatDuration(90000) == "90s");
  REQUIRE(FormatDuration(250) == "250ms");
  REQUIRE(FormatDuration(7 * kMsPerDay) == "1w");
}
