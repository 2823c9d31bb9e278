#include "common/time.h"

#include <charconv>
#include <cstdio>

namespace sipdex {
namespace {

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Reads exactly `n` digits at s[pos]; advances pos.
bool Digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += n;
  return true;
}

}  // namespace

// Howard Hinnant's days_from_civil: why this formula is right is explained at
// length in his "chrono-Compatible Low-Level Date Algorithms".
std::int64_t DaysFromCivil(int year, int month, int day) {
  std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2 ? 1 : 0);
  std::int64_t era = FloorDiv(y, 400);
  std::int64_t yoe = y - era * 400;
  std::int64_t mp = (month + 9) % 12;
  std::int64_t doy = (153 * mp + 2) / 5 + day - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilTime CivilFromDays(std::int64_t z) {
  z += 719468;
  std::int64_t era = FloorDiv(z, 146097);
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  CivilTime c;
  c.year = static_cast<int>(y + (m <= 2 ? 1 : 0));
  c.month = static_cast<int>(m);
  c.day = static_cast<int>(d);
  return c;
}

std::optional<TimeMs> MakeTime(const CivilTime& t) {
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > DaysInMonth(t.year, t.month) || t.hour < 0 ||
      t.hour > 23 || t.minute < 0 || t.minute > 59 || t.second < 0 || t.second > 59 || t.millisecond < 0 ||
      t.millisecond > 999) {
    return std::nullopt;
  }
  return DaysFromCivil(t.year, t.month, t.day) * kMsPerDay + t.hour * kMsPerHour + t.minute * kMsPerMinute +
         t.second * kMsPerSecond + t.millisecond;
}

CivilTime ToCivil(TimeMs t) {
  std::int64_t days = FloorDiv(t, kMsPerDay);
  std::int64_t rest = t - days * kMsPerDay;
  CivilTime c = CivilFromDays(days);
  c.hour = static_cast<int>(rest / kMsPerHour);
  c.minute = static_cast<int>(rest / kMsPerMinute % 60);
  c.second = static_cast<int>(rest / kMsPerSecond % 60);
  c.millisecond = static_cast<int>(rest % 1000);
  return c;
}

TimeMs FloorDay(TimeMs t) { return FloorDiv(t, kMsPerDay) * kMsPerDay; }
TimeMs FloorHour(TimeMs t) { return FloorDiv(t, kMsPerHour) * kMsPerHour; }
TimeMs FloorMinute(TimeMs t) { return FloorDiv(t, kMsPerMinute) * kMsPerMinute; }

TimeMs FloorIsoWeek(TimeMs t) {
  std::int64_t days = FloorDiv(t, kMsPerDay);
  // 1970-01-01 was a Thursday: weekday index with Monday = 0 is (days + 3) mod 7.
  std::int64_t weekday = ((days + 3) % 7 + 7) % 7;
  return (days - weekday) * kMsPerDay;
}

std::string FormatTime(TimeMs t) {
  CivilTime c = ToCivil(t);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day, c.hour, c.minute,
                c.second, c.millisecond);
  return buf;
}

std::string FormatDate(TimeMs t) {
  CivilTime c = ToCivil(t);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", c.year, c.month, c.day);
  return buf;
}

IsoWeek IsoWeekOf(TimeMs t) {
  // The ISO year of a date is the year of the Thursday of its week.
  TimeMs thursday = FloorIsoWeek(t) + 3 * kMsPerDay;
  CivilTime c = ToCivil(thursday);
  std::int64_t jan1 = DaysFromCivil(c.year, 1, 1);
  std::int64_t doy = FloorDiv(thursday, kMsPerDay) - jan1;
  return IsoWeek{c.year, static_cast<int>(doy / 7 + 1)};
}

std::optional<TimeMs> IsoWeekStart(IsoWeek w) {
  if (w.week < 1 || w.week > 53) return std::nullopt;
  // Week 1 is the week that holds January 4th.
  TimeMs jan4 = DaysFromCivil(w.year, 1, 4) * kMsPerDay;
  TimeMs start = FloorIsoWeek(jan4) + static_cast<TimeMs>(w.week - 1) * kMsPerWeek;
  if (IsoWeekOf(start) != w) return std::nullopt;
  return start;
}

std::string FormatIsoWeek(IsoWeek w) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-W%02d", w.year, w.week);
  return buf;
}

std::optional<IsoWeek> ParseIsoWeek(std::string_view s) {
  size_t pos = 0;
  IsoWeek w;
  if (!Digits(s, pos, 4, w.year)) return std::nullopt;
  if (pos + 2 > s.size() || s[pos] != '-' || (s[pos + 1] != 'W' && s[pos + 1] != 'w')) return std::nullopt;
  pos += 2;
  if (!Digits(s, pos, 2, w.week) || pos != s.size()) return std::nullopt;
  if (!IsoWeekStart(w)) return std::nullopt;
  return w;
}

std::optional<TimeMs> ParseIsoTime(std::string_view s, DurationMs offset_ms) {
  CivilTime c;
  size_t pos = 0;
  if (!Digits(s, pos, 4, c.year)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-' || !Digits(s, pos, 2, c.month)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-' || !Digits(s, pos, 2, c.day)) return std::nullopt;
  bool zulu = false;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    ++pos;
    if (!Digits(s, pos, 2, c.hour)) return std::nullopt;
    if (pos >= s.size() || s[pos++] != ':' || !Digits(s, pos, 2, c.minute)) return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!Digits(s, pos, 2, c.second)) return std::nullopt;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        if (!Digits(s, pos, 3, c.millisecond)) return std::nullopt;
      }
    }
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
      zulu = true;
      ++pos;
    }
  }
  if (pos != s.size()) return std::nullopt;
  std::optional<TimeMs> t = MakeTime(c);
  if (!t) return std::nullopt;
  return zulu ? *t : *t - offset_ms;
}

std::optional<DurationMs> ParseDuration(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0 || i > 12) return std::nullopt;
  std::int64_t n = 0;
  std::from_chars(s.data(), s.data() + i, n);
  std::string_view unit = s.substr(i);
  DurationMs scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = kMsPerSecond;
  else if (unit == "m") scale = kMsPerMinute;
  else if (unit == "h") scale = kMsPerHour;
  else if (unit == "d") scale = kMsPerDay;
  else if (unit == "w") scale = kMsPerWeek;
  else return std::nullopt;
  return n * scale;
}

std::string FormatDuration(DurationMs d) {
  struct Unit { DurationMs ms; const char* name; };
  static constexpr Unit kUnits[] = {{kMsPerWeek, "w"}, {kMsPerDay, "d"}, {kMsPerHour, "h"},
                                    {kMsPerMinute, "m"}, {kMsPerSecond, "s"}};
  for (const Unit& u : kUnits) {
    if (d != 0 && d % u.ms == 0) return std::to_string(d / u.ms) + u.name;
  }
  return std::to_string(d) + "ms";
}

}  // namespace sipdex
