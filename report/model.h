#pragma once
// The weekly hybrid-readiness report as data. `--format json` prints this
// model; the html and md renderers only lay it out. Every figure carries the
// query (in the sipdex language) that produced it, so a reader can re-run it.
//
// All strings come from untrusted logs: renderers escape them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sipdex::report {

// A number and the query that produced it.
struct Figure {
  std::int64_t value = 0;
  std::string query;
};

struct Coverage {
  std::vector<std::string> days;      // "2014-07-14" .. "2014-07-20" (the 7 days of the week)
  std::vector<std::string> servers;   // servers seen in the week or the index
  // records[s][d]: records of servers[s] on days[d]; 0 marks a gap.
  std::vector<std::vector<std::int64_t>> records;
  std::int64_t files = 0;
  Figure total_records;
  Figure malformed_records;
  std::vector<std::string> gaps;      // "FE02 on 2014-07-19: no records"
};

struct Headline {
  Figure attempts;          // SUBSCRIBEs sent by trusted applications
  Figure refused_single;    // single SUBSCRIBE answered 403 + 2157
  Figure refused_batch;     // rlmi resource instances refused with 2157 in SUBSCRIBE responses
  Figure refused_notify;    // the same, arriving in a NOTIFY
  Figure unanswered;        // SUBSCRIBEs without a final response
  Figure apps_affected;     // distinct applications with at least one refusal
  Figure users_affected;    // distinct Office 365 users refused
  // The same figures for the previous week (values only), when the index has it.
  std::optional<std::vector<std::int64_t>> previous;  // in the order above
};

enum class Verdict { kReady, kAtRisk, kBlocked };
const char* VerdictName(Verdict v);  // "ready", "at risk", "blocked"

struct AppRow {
  std::string uri;
  std::int64_t attempts = 0;
  std::int64_t refused_single = 0;
  std::int64_t refused_batch = 0;
  std::int64_t refused_notify = 0;
  std::int64_t unanswered = 0;
  std::int64_t successes = 0;   // successful subscription outcomes (2xx singles, active batch users)
  std::int64_t distinct_users = 0;
  std::string first_seen;  // ISO time
  std::string last_seen;
  Verdict verdict = Verdict::kReady;
  std::string query;       // the query that lists this application's refusals
  // Share of subscription outcomes that were refusals: refusals / (refusals +
  // successes), counting a batched subscription once per user (0 when none).
  double RefusalRate() const;
};

struct UserRow {
  std::string uri;
  std::int64_t refusals = 0;
  std::vector<std::string> apps;
  std::string first_seen;
  std::string last_seen;
};

struct DayRow {
  std::string day;                // "2014-07-14"
  std::int64_t refusals = 0;      // all kinds
  std::int64_t successes = 0;     // subscriptions answered 2xx / active resources
};

struct CodeRow {
  std::int64_t code = 0;
  std::int64_t count = 0;
  std::string reason;             // from the logs when present (it wins), else the shipped table
  std::string known_reason;       // from ms-diagnostics.tsv ("" when unknown)
};

struct Report {
  std::string week;               // "2014-W29"
  std::string start;              // "2014-07-14"
  std::string end;                // "2014-07-20"
  std::string generated_by;       // "sipdex 0.1.0"
  std::string apps_rule;          // how trusted applications were recognised
  Coverage coverage;
  Headline headline;
  std::vector<AppRow> apps;
  std::vector<UserRow> users;
  std::vector<DayRow> daily;
  Figure daily_refusals_query;    // value unused; the query behind `daily`
  Figure daily_successes_query;
  std::vector<CodeRow> other_codes;
  std::string other_codes_query;
  std::string workaround;         // the documented workaround text
};

nlohmann::json ToJson(const Report& r);

}  // namespace sipdex::report
