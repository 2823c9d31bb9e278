#include "report/model.h"

#include <nlohmann/json.hpp>

namespace sipdex::report {
namespace {

nlohmann::json FigureJson(const Figure& f) { return {{"value", f.value}, {"query", f.query}}; }

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kReady: return "ready";
    case Verdict::kAtRisk: return "at risk";
    case Verdict::kBlocked: return "blocked";
  }
  return "?";
}

double AppRow::RefusalRate() const {
  std::int64_t refused = refused_single + refused_batch + refused_notify;
  if (refused + successes <= 0) return 0.0;
  return static_cast<double>(refused) / static_cast<double>(refused + successes);
}

nlohmann::json ToJson(const Report& r) {
  using nlohmann::json;
  json coverage = {
      {"days", r.coverage.days},
      {"servers", r.coverage.servers},
      {"records_by_server_and_day", r.coverage.records},
      {"files", r.coverage.files},
      {"records", FigureJson(r.coverage.total_records)},
      {"malformed_records", FigureJson(r.coverage.malformed_records)},
      {"gaps", r.coverage.gaps},
  };
  const Headline& h = r.headline;
  json headline = {
      {"attempts", FigureJson(h.attempts)},
      {"refused_single", FigureJson(h.refused_single)},
      {"refused_batch", FigureJson(h.refused_batch)},
      {"refused_notify", FigureJson(h.refused_notify)},
      {"unanswered", FigureJson(h.unanswered)},
      {"apps_affected", FigureJson(h.apps_affected)},
      {"users_affected", FigureJson(h.users_affected)},
  };
  if (h.previous) {
    static constexpr const char* kNames[] = {"attempts",   "refused_single", "refused_batch", "refused_notify",
                                             "unanswered", "apps_affected",  "users_affected"};
    json prev = json::object();
    for (size_t i = 0; i < h.previous->size() && i < std::size(kNames); ++i) prev[kNames[i]] = (*h.previous)[i];
    headline["previous_week"] = prev;
  } else {
    headline["previous_week"] = nullptr;
  }
  json apps = json::array();
  for (const AppRow& a : r.apps) {
    apps.push_back({{"uri", a.uri},
                    {"attempts", a.attempts},
                    {"refused_single", a.refused_single},
                    {"refused_batch", a.refused_batch},
                    {"refused_notify", a.refused_notify},
                    {"refusal_rate", a.RefusalRate()},
                    {"unanswered", a.unanswered},
                    {"successes", a.successes},
                    {"distinct_users", a.distinct_users},
                    {"first_seen", a.first_seen},
                    {"last_seen", a.last_seen},
                    {"verdict", VerdictName(a.verdict)},
                    {"query", a.query}});
  }
  json users = json::array();
  for (const UserRow& u : r.users) {
    users.push_back({{"uri", u.uri},
                     {"refusals", u.refusals},
                     {"apps", u.apps},
                     {"first_seen", u.first_seen},
                     {"last_seen", u.last_seen}});
  }
  json daily = json::array();
  for (const DayRow& d : r.daily) {
    daily.push_back({{"day", d.day}, {"refusals", d.refusals}, {"successes", d.successes}});
  }
  json codes = json::array();
  for (const CodeRow& c : r.other_codes) {
    codes.push_back({{"code", c.code}, {"count", c.count}, {"reason", c.reason}, {"known_reason", c.known_reason}});
  }
  return {
      {"week", r.week},
      {"start", r.start},
      {"end", r.end},
      {"generated_by", r.generated_by},
      {"apps_rule", r.apps_rule},
      {"coverage", coverage},
      {"headline", headline},
      {"apps", apps},
      {"users", users},
      {"daily", daily},
      {"daily_queries", {{"refusals", r.daily_refusals_query.query}, {"successes", r.daily_successes_query.query}}},
      {"other_codes", codes},
      {"other_codes_query", r.other_codes_query},
      {"workaround", r.workaround},
  };
}

}  // namespace sipdex::report
