#pragma once
// UTC instants, calendar conversions, ISO weeks and durations. std only.
//
// An instant is a count of milliseconds since 1970-01-01T00:00:00Z (TimeMs).
// Trace logs carry UTC; --tz only changes how instants print and how bare
// dates in queries are read.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sipdex {

using TimeMs = std::int64_t;    // milliseconds since the Unix epoch, UTC
using DurationMs = std::int64_t;

constexpr TimeMs kMsPerSecond = 1000;
constexpr TimeMs kMsPerMinute = 60 * kMsPerSecond;
constexpr TimeMs kMsPerHour = 60 * kMsPerMinute;
constexpr TimeMs kMsPerDay = 24 * kMsPerHour;
constexpr TimeMs kMsPerWeek = 7 * kMsPerDay;

struct CivilTime {
  int year = 1970;
  int month = 1;   // 1..12
  int day = 1;     // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millisecond = 0;
};

// Days since 1970-01-01 of a proleptic Gregorian date (any year).
std::int64_t DaysFromCivil(int year, int month, int day);
// Inverse of DaysFromCivil.
CivilTime CivilFromDays(std::int64_t days);

// Returns nullopt when a field is out of range (month 13, February 30th, 25:00).
std::optional<TimeMs> MakeTime(const CivilTime& t);
CivilTime ToCivil(TimeMs t);

// Floor to the start of the UTC day / hour / minute / ISO week (Monday).
TimeMs FloorDay(TimeMs t);
TimeMs FloorHour(TimeMs t);
TimeMs FloorMinute(TimeMs t);
TimeMs FloorIsoWeek(TimeMs t);

// "2014-07-16T10:17:57.003Z"
std::string FormatTime(TimeMs t);
// "2014-07-16"
std::string FormatDate(TimeMs t);

struct IsoWeek {
  int year = 1970;
  int week = 1;  // 1..53
  friend bool operator==(const IsoWeek&, const IsoWeek&) = default;
};
IsoWeek IsoWeekOf(TimeMs t);
// Start (Monday 00:00 UTC) of an ISO week; nullopt when the week does not exist.
std::optional<TimeMs> IsoWeekStart(IsoWeek w);
// "2014-W29"
std::string FormatIsoWeek(IsoWeek w);
std::optional<IsoWeek> ParseIsoWeek(std::string_view s);

// "2014-07-16", "2014-07-16T10:17:57", "2014-07-16T10:17:57.003Z", also with a
// space instead of 'T'. `offset_ms` is added for zones other than UTC (a time
// with a trailing 'Z' ignores it). Returns nullopt on anything else.
std::optional<TimeMs> ParseIsoTime(std::string_view s, DurationMs offset_ms = 0);

// "250ms", "32s", "5m", "2h", "7d", "1w"; nullopt otherwise.
std::optional<DurationMs> ParseDuration(std::string_view s);
// The largest exact unit: 32000 -> "32s", 90000 -> "90s", 7200000 -> "2h".
std::string FormatDuration(DurationMs d);

}  // namespace sipdex
