#include "report/builder.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "query/executor.h"

namespace sipdex::report {
namespace {

using Json = nlohmann::json;

// Generated from report/queries/*.q and report/ms-diagnostics.tsv at configure time.
constexpr std::pair<const char*, const char*> kQueryFiles[] = {
#include "report_queries.inc"
};
constexpr const char* kDiagnosticsTsv =
#include "report_diagnostics.inc"
    ;

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string CellText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

std::int64_t CellNumber(const Json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return 0;
}

// The jsonl output of every query the report ran, by query text. Queries
// are run in batches (Prefetch: one pass for many queries); a query asked
// for without a prefetch runs on its own.
class QueryCache {
 public:
  QueryCache(const storage::IndexSnapshot& snapshot, const ReportOptions& options) : snapshot_(snapshot) {
    options_.format = query::OutputFormat::kJsonl;
    options_.deadline = options.deadline;
    options_.timeout = options.timeout;
    options_.facts = options.facts;
    options_.response_keys = query::NewResponseKeyCache();  // the weeks' batches share them
  }

  // Runs the queries of `texts` not run yet, in one batch.
  Status Prefetch(const std::vector<std::string>& texts) {
    std::vector<query::BatchQuery> batch;
    std::set<std::string> seen;
    for (const std::string& t : texts) {
      if (outputs_.count(t) != 0 || !seen.insert(t).second) continue;
      batch.push_back(query::BatchQuery{t, {}, {}});
    }
    if (batch.empty()) return Status::Ok();
    Status s = query::RunQueries(snapshot_, batch, options_);
    if (!s.ok()) return Failed(s, batch.size() == 1 ? batch[0].text : "(a batch of report queries)");
    for (query::BatchQuery& b : batch) outputs_[b.text] = std::move(b.output);
    return Status::Ok();
  }

  // The jsonl output of `text` (run now unless prefetched).
  Result<std::string> Output(const std::string& text) {
    auto it = outputs_.find(text);
    if (it == outputs_.end()) {
      SIPDEX_RETURN_IF_ERROR(Prefetch({text}));
      it = outputs_.find(text);
    }
    return it->second;
  }

 private:
  static Status Failed(const Status& s, const std::string& text) {
    if (s.code() != Status::Code::kInvalidArgument) return s;
    return Status::InvalidArgument("report query failed: " + text + "\n" + s.message());
  }

  const storage::IndexSnapshot& snapshot_;
  query::QueryOptions options_;
  std::map<std::string, std::string> outputs_;
};

// Runs queries through the query engine and reads their jsonl rows: the
// report sees exactly what `sipdex query --format jsonl` prints.
class Runner {
 public:
  Runner(QueryCache* cache, IsoWeek week) : cache_(cache) { week_ = FormatIsoWeek(week); }

  // The named query of report/queries with {week} filled in.
  std::string Search(const std::string& name) const {
    std::string q = ReportQueries().at(name);
    for (size_t p; (p = q.find("{week}")) != std::string::npos;) q.replace(p, 6, week_);
    return q;
  }

  Status Prefetch(const std::vector<std::string>& texts) { return cache_->Prefetch(texts); }

  Result<std::vector<Json>> Rows(const std::string& text) {
    Result<std::string> out = cache_->Output(text);
    if (!out.ok()) return out.status();
    std::vector<Json> rows;
    std::istringstream in(*out);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) return Status::Corruption("report: unreadable query output: " + line);
      rows.push_back(std::move(j));
    }
    return rows;
  }

  // The texts Count and CountBy run.
  static std::string CountText(const std::string& search) { return search + " | count"; }
  static std::string CountByText(const std::string& search, const std::string& key) {
    return search + " | count by " + key;
  }

  // `text | count` as one number.
  Result<Figure> Count(const std::string& search) {
    Figure f;
    f.query = CountText(search);
    Result<std::vector<Json>> rows = Rows(f.query);
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) f.value = CellNumber((*rows)[0]["count"]);
    return f;
  }

  // `text | count by KEY` as a map from the key's text to the count.
  Result<std::map<std::string, std::int64_t>> CountBy(const std::string& search, const std::string& key,
                                                      std::string* query_text) {
    *query_text = CountByText(search, key);
    Result<std::vector<Json>> rows = Rows(*query_text);
    if (!rows.ok()) return rows.status();
    std::map<std::string, std::int64_t> out;
    for (const Json& r : *rows) out[CellText(r[key])] += CellNumber(r["count"]);
    return out;
  }

 private:
  QueryCache* cache_;
  std::string week_;
};

// One refusal as the row listings give it.
struct Refusal {
  std::string time;
  std::string app;
  std::string user;
};

struct RefusalListing {
  std::vector<Refusal> single, batch, notify;
  std::string single_query, batch_query, notify_query;
};

void SetListingQueries(const Runner& run, RefusalListing* l) {
  l->single_query = run.Search("refused_single") + " | fields time, from.uri, to.uri";
  l->batch_query = run.Search("refused_batch") + " | fields time, from.uri, resource.uri";
  l->notify_query = run.Search("refused_notify") + " | fields time, to.uri, resource.uri";
}

std::string UcmaQuery(const Runner& run) { return run.Search("ucma_subscribers") + " | distinct from.uri"; }

Result<RefusalListing> ListRefusals(Runner& run) {
  RefusalListing l;
  SetListingQueries(run, &l);
  struct Part {
    const std::string* query;
    std::vector<Refusal>* out;
    const char* app;
    const char* user;
  };
  for (const Part& p : {Part{&l.single_query, &l.single, "from.uri", "to.uri"},
                        Part{&l.batch_query, &l.batch, "from.uri", "resource.uri"},
                        Part{&l.notify_query, &l.notify, "to.uri", "resource.uri"}}) {
    Result<std::vector<Json>> rows = run.Rows(*p.query);
    if (!rows.ok()) return rows.status();
    for (Json& r : *rows) p.out->push_back({CellText(r["time"]), CellText(r[p.app]), CellText(r[p.user])});
  }
  return l;
}

std::string InList(const std::vector<std::string>& apps) {
  std::string s;
  for (const std::string& a : apps) s += (s.empty() ? "" : ", ") + Quote(a);
  return "(" + s + ")";
}

std::string Joined(std::initializer_list<std::string> queries) {
  std::string s;
  for (const std::string& q : queries) s += (s.empty() ? "" : "; ") + q;
  return s;
}

// The trusted applications of a week under the default rule.
Result<std::vector<std::string>> DefaultApps(Runner& run, const RefusalListing& refusals) {
  std::set<std::string> apps;
  Result<std::vector<Json>> ucma = run.Rows(UcmaQuery(run));
  if (!ucma.ok()) return ucma.status();
  for (const Json& r : *ucma) apps.insert(CellText(r["from.uri"]));
  for (const auto* list : {&refusals.single, &refusals.batch, &refusals.notify}) {
    for (const Refusal& f : *list) apps.insert(f.app);
  }
  apps.erase("");
  return std::vector<std::string>(apps.begin(), apps.end());
}

struct WeekFigures {
  Headline headline;
  std::vector<std::string> apps;
  RefusalListing refusals;
};

// `name` restricted to the week's applications.
std::string AppsSearch(const Runner& run, const char* name, const std::vector<std::string>& apps) {
  return run.Search(name) + " and from.uri in " + InList(apps);
}

// The query of the most frequent reason logged with ms-diagnostics `code_text` in `week`.
std::string ReasonQuery(const std::string& week, const std::string& code_text) {
  return "diag = " + code_text + " and diag.reason exists and week " + week + " | top 1 diag.reason";
}

// The query of an application's first (or last) SUBSCRIBE of the week.
std::string FirstLastQuery(const Runner& run, const std::string& app, bool last) {
  return run.Search("subscribes") + " and from.uri = " + Quote(app) + " | sort time" + (last ? " desc" : "") +
         " | limit 1 | fields time";
}

// The queries of a week that depend on nothing else (run in one batch first).
std::vector<std::string> IndependentQueries(const Runner& run, bool given_apps, bool whole_report) {
  RefusalListing l;
  SetListingQueries(run, &l);
  std::vector<std::string> t = {l.single_query, l.batch_query, l.notify_query};
  if (!given_apps) t.push_back(UcmaQuery(run));
  for (const char* name : {"refused_single", "refused_batch", "refused_notify"}) {
    t.push_back(Runner::CountText(run.Search(name)));
  }
  if (!whole_report) return t;
  t.push_back(Runner::CountByText(run.Search("coverage"), "server, day"));
  t.push_back(Runner::CountText(run.Search("records")));
  t.push_back(Runner::CountText(run.Search("malformed")));
  for (const char* name : {"subscribes", "unanswered", "refused_single", "refused_batch", "successes"}) {
    t.push_back(Runner::CountByText(run.Search(name), "from.uri"));
  }
  t.push_back(Runner::CountByText(run.Search("refused_notify"), "to.uri"));
  for (const char* name : {"refused_single", "refused_batch", "refused_notify", "successes"}) {
    t.push_back(Runner::CountByText(run.Search(name), "day"));
  }
  t.push_back(Runner::CountByText(run.Search("other_codes"), "diag"));
  return t;
}

// The queries of a week that need only what IndependentQueries answered (the
// week's applications, its other codes), appended to *out.
Status DependentQueries(Runner& run, IsoWeek week, const std::optional<std::vector<std::string>>& given_apps,
                        bool whole_report, std::vector<std::string>* out) {
  std::vector<std::string> apps;
  if (given_apps) {
    apps = *given_apps;
  } else {
    Result<RefusalListing> refusals = ListRefusals(run);
    if (!refusals.ok()) return refusals.status();
    Result<std::vector<std::string>> found = DefaultApps(run, *refusals);
    if (!found.ok()) return found.status();
    apps = std::move(*found);
  }
  if (!apps.empty()) {
    out->push_back(Runner::CountText(AppsSearch(run, "subscribes", apps)));
    out->push_back(Runner::CountText(AppsSearch(run, "unanswered", apps)));
  }
  if (!whole_report) return Status::Ok();
  for (const std::string& app : apps) {
    out->push_back(FirstLastQuery(run, app, false));
    out->push_back(FirstLastQuery(run, app, true));
  }
  std::string q;
  auto codes = run.CountBy(run.Search("other_codes"), "diag", &q);
  if (!codes.ok()) return codes.status();
  for (const auto& [code_text, count] : *codes) {
    if (std::strtoll(code_text.c_str(), nullptr, 10) != 2157) out->push_back(ReasonQuery(FormatIsoWeek(week), code_text));
  }
  return Status::Ok();
}

// `with_app_rows`: also run the per-application first/last seen queries in
// the batch of the application-dependent counts.
Result<WeekFigures> ComputeWeek(QueryCache* cache, IsoWeek week,
                                const std::optional<std::vector<std::string>>& given_apps, bool with_app_rows) {
  Runner run(cache, week);
  WeekFigures w;
  Result<RefusalListing> refusals = ListRefusals(run);
  if (!refusals.ok()) return refusals.status();
  w.refusals = std::move(*refusals);
  if (given_apps) {
    w.apps = *given_apps;
  } else {
    Result<std::vector<std::string>> apps = DefaultApps(run, w.refusals);
    if (!apps.ok()) return apps.status();
    w.apps = std::move(*apps);
  }
  std::vector<std::string> first_last;
  if (with_app_rows) {
    for (const std::string& app : w.apps) {
      first_last.push_back(FirstLastQuery(run, app, false));
      first_last.push_back(FirstLastQuery(run, app, true));
    }
  }
  Headline& h = w.headline;
  struct Counted {
    Figure* figure;
    std::string search;
  };
  std::vector<Counted> counted = {{&h.refused_single, run.Search("refused_single")},
                                  {&h.refused_batch, run.Search("refused_batch")},
                                  {&h.refused_notify, run.Search("refused_notify")}};
  if (!w.apps.empty()) {
    counted.push_back({&h.attempts, AppsSearch(run, "subscribes", w.apps)});
    counted.push_back({&h.unanswered, AppsSearch(run, "unanswered", w.apps)});
  }
  std::vector<std::string> texts = first_last;
  for (const Counted& c : counted) texts.push_back(Runner::CountText(c.search));
  SIPDEX_RETURN_IF_ERROR(run.Prefetch(texts));
  for (const Counted& c : counted) {
    Result<Figure> f = run.Count(c.search);
    if (!f.ok()) return f.status();
    *c.figure = std::move(*f);
  }
  std::set<std::string> apps_hit, users_hit;
  for (const Refusal& f : w.refusals.single) apps_hit.insert(f.app), users_hit.insert(f.user);
  for (const Refusal& f : w.refusals.batch) apps_hit.insert(f.app), users_hit.insert(f.user);
  for (const Refusal& f : w.refusals.notify) apps_hit.insert(f.app), users_hit.insert(f.user);
  std::string listings = Joined({w.refusals.single_query, w.refusals.batch_query, w.refusals.notify_query});
  h.apps_affected = {static_cast<std::int64_t>(apps_hit.size()), listings};
  h.users_affected = {static_cast<std::int64_t>(users_hit.size()), listings};
  return w;
}

std::vector<std::int64_t> HeadlineValues(const Headline& h) {
  return {h.attempts.value,   h.refused_single.value, h.refused_batch.value, h.refused_notify.value,
          h.unanswered.value, h.apps_affected.value,  h.users_affected.value};
}

Status FillApps(Runner& run, const WeekFigures& w, Report* r) {
  std::string attempts_q, unanswered_q, single_q, batch_q, notify_q;
  auto attempts = run.CountBy(run.Search("subscribes"), "from.uri", &attempts_q);
  if (!attempts.ok()) return attempts.status();
  auto unanswered = run.CountBy(run.Search("unanswered"), "from.uri", &unanswered_q);
  if (!unanswered.ok()) return unanswered.status();
  auto single = run.CountBy(run.Search("refused_single"), "from.uri", &single_q);
  if (!single.ok()) return single.status();
  auto batch = run.CountBy(run.Search("refused_batch"), "from.uri", &batch_q);
  if (!batch.ok()) return batch.status();
  auto notify = run.CountBy(run.Search("refused_notify"), "to.uri", &notify_q);
  if (!notify.ok()) return notify.status();
  std::string successes_q;
  auto successes = run.CountBy(run.Search("successes"), "from.uri", &successes_q);
  if (!successes.ok()) return successes.status();

  std::map<std::string, std::set<std::string>> users_of_app;
  for (const auto* list : {&w.refusals.single, &w.refusals.batch, &w.refusals.notify}) {
    for (const Refusal& f : *list) users_of_app[f.app].insert(f.user);
  }
  auto get = [](const std::map<std::string, std::int64_t>& m, const std::string& k) -> std::int64_t {
    auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  };
  for (const std::string& app : w.apps) {
    AppRow a;
    a.uri = app;
    a.attempts = get(*attempts, app);
    a.unanswered = get(*unanswered, app);
    a.refused_single = get(*single, app);
    a.refused_batch = get(*batch, app);
    a.refused_notify = get(*notify, app);
    a.successes = get(*successes, app);
    a.distinct_users = static_cast<std::int64_t>(users_of_app[app].size());
    for (auto [desc, out] : {std::pair{false, &a.first_seen}, std::pair{true, &a.last_seen}}) {
      Result<std::vector<Json>> rows = run.Rows(FirstLastQuery(run, app, desc));
      if (!rows.ok()) return rows.status();
      if (!rows->empty()) *out = CellText((*rows)[0]["time"]);
    }
    std::int64_t refused = a.refused_single + a.refused_batch + a.refused_notify;
    a.verdict = refused > 0 ? Verdict::kBlocked : a.unanswered > 0 ? Verdict::kAtRisk : Verdict::kReady;
    std::string week_part = "week " + r->week;
    a.query = "((type = response and method = SUBSCRIBE and (diag = 2157 or resource.diag = 2157) and from.uri = " +
              Quote(app) + ") or (type = request and method = NOTIFY and resource.diag = 2157 and to.uri = " +
              Quote(app) + ")) and " + week_part + " | fields time, from.uri, to.uri, resource.uri";
    r->apps.push_back(std::move(a));
  }
  // Blocked first, then by refusals, then by name: the page opens on what needs doing.
  std::stable_sort(r->apps.begin(), r->apps.end(), [](const AppRow& x, const AppRow& y) {
    auto refused = [](const AppRow& a) { return a.refused_single + a.refused_batch + a.refused_notify; };
    if (x.verdict != y.verdict) return static_cast<int>(x.verdict) > static_cast<int>(y.verdict);
    if (refused(x) != refused(y)) return refused(x) > refused(y);
    return x.uri < y.uri;
  });
  return Status::Ok();
}

void FillUsers(const WeekFigures& w, Report* r) {
  std::map<std::string, UserRow> users;
  for (const auto* list : {&w.refusals.single, &w.refusals.batch, &w.refusals.notify}) {
    for (const Refusal& f : *list) {
      UserRow& u = users[f.user];
      u.uri = f.user;
      ++u.refusals;
      if (std::find(u.apps.begin(), u.apps.end(), f.app) == u.apps.end()) u.apps.push_back(f.app);
      if (u.first_seen.empty() || f.time < u.first_seen) u.first_seen = f.time;
      if (f.time > u.last_seen) u.last_seen = f.time;
    }
  }
  for (auto& [uri, u] : users) {
    std::sort(u.apps.begin(), u.apps.end());
    r->users.push_back(std::move(u));
  }
  std::stable_sort(r->users.begin(), r->users.end(), [](const UserRow& a, const UserRow& b) {
    return a.refusals != b.refusals ? a.refusals > b.refusals : a.uri < b.uri;
  });
}

Status FillDaily(Runner& run, Report* r) {
  std::map<std::string, std::int64_t> refusals;
  std::vector<std::string> queries;
  for (const char* name : {"refused_single", "refused_batch", "refused_notify"}) {
    std::string q;
    auto by_day = run.CountBy(run.Search(name), "day", &q);
    if (!by_day.ok()) return by_day.status();
    for (const auto& [day, n] : *by_day) refusals[day] += n;
    queries.push_back(q);
  }
  r->daily_refusals_query.query = Joined({queries[0], queries[1], queries[2]});
  auto successes = run.CountBy(run.Search("successes"), "day", &r->daily_successes_query.query);
  if (!successes.ok()) return successes.status();
  for (const std::string& day : r->coverage.days) {
    DayRow d;
    d.day = day;
    d.refusals = refusals.count(day) ? refusals[day] : 0;
    d.successes = successes->count(day) ? (*successes)[day] : 0;
    r->daily.push_back(d);
  }
  return Status::Ok();
}

Status FillOtherCodes(Runner& run, Report* r) {
  auto codes = run.CountBy(run.Search("other_codes"), "diag", &r->other_codes_query);
  if (!codes.ok()) return codes.status();
  const auto& known = KnownDiagnostics();
  auto reason_query = [&](const std::string& code_text) { return ReasonQuery(r->week, code_text); };
  std::vector<std::string> reasons;
  for (const auto& [code_text, count] : *codes) {
    if (std::strtoll(code_text.c_str(), nullptr, 10) != 2157) reasons.push_back(reason_query(code_text));
  }
  SIPDEX_RETURN_IF_ERROR(run.Prefetch(reasons));
  for (const auto& [code_text, count] : *codes) {
    CodeRow c;
    c.code = std::strtoll(code_text.c_str(), nullptr, 10);
    if (c.code == 2157) continue;  // a record with 2157 and another code
    c.count = count;
    if (auto it = known.find(static_cast<int>(c.code)); it != known.end()) c.known_reason = it->second;
    // The log's own reason wins: reasons differ between releases.
    Result<std::vector<Json>> rows = run.Rows(reason_query(code_text));
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) c.reason = CellText((*rows)[0]["diag.reason"]);
    r->other_codes.push_back(std::move(c));
  }
  std::stable_sort(r->other_codes.begin(), r->other_codes.end(),
                   [](const CodeRow& a, const CodeRow& b) { return a.count > b.count; });
  return Status::Ok();
}

Status FillCoverage(Runner& run, const storage::IndexSnapshot& snapshot, TimeMs start, Report* r) {
  Coverage& c = r->coverage;
  for (int d = 0; d < 7; ++d) c.days.push_back(FormatDate(start + d * kMsPerDay));
  // Servers of this trace format anywhere in the index: one absent all week
  // is a gap too. Files of look-alikes from other products are not servers.
  std::set<std::string> servers;
  for (const storage::FileInfo& f : snapshot.manifest().files) {
    const auto& by_kind = f.counts.by_kind;
    if (by_kind[static_cast<int>(RecordKind::kProtocol)] + by_kind[static_cast<int>(RecordKind::kDiagnostic)] +
            by_kind[static_cast<int>(RecordKind::kOther)] > 0 && !f.server.empty()) {
      servers.insert(f.server);
    }
  }
  std::string q = run.Search("coverage") + " | count by server, day";
  Result<std::vector<Json>> rows = run.Rows(q);
  if (!rows.ok()) return rows.status();
  std::map<std::pair<std::string, std::string>, std::int64_t> cell;
  for (const Json& row : *rows) {
    std::string server = CellText(row["server"]);
    if (server.empty()) server = "(unknown)";
    servers.insert(server);
    cell[{server, CellText(row["day"])}] += CellNumber(row["count"]);
  }
  servers.erase("");
  c.servers.assign(servers.begin(), servers.end());
  for (const std::string& s : c.servers) {
    std::vector<std::int64_t> line;
    for (const std::string& d : c.days) {
      auto it = cell.find({s, d});
      std::int64_t n = it == cell.end() ? 0 : it->second;
      line.push_back(n);
      if (n == 0) c.gaps.push_back(s + " on " + d + ": no records");
    }
    c.records.push_back(std::move(line));
  }
  const TimeMs end = start + kMsPerWeek;
  for (const storage::FileInfo& f : snapshot.manifest().files) {
    if (f.max_time >= start && f.min_time < end) ++c.files;
  }
  Result<Figure> total = run.Count(run.Search("records"));
  if (!total.ok()) return total.status();
  c.total_records = std::move(*total);
  Result<Figure> malformed = run.Count(run.Search("malformed"));
  if (!malformed.ok()) return malformed.status();
  c.malformed_records = std::move(*malformed);
  return Status::Ok();
}

}  // namespace

const std::map<std::string, std::string>& ReportQueries() {
  static const auto* queries = [] {
    auto* m = new std::map<std::string, std::string>();
    for (const auto& [name, text] : kQueryFiles) {
      std::string body;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) {
        std::string t = Trim(line);
        if (t.empty() || t[0] == '#') continue;
        body += (body.empty() ? "" : " ") + t;
      }
      (*m)[name] = body;
    }
    return m;
  }();
  return *queries;
}

const std::map<int, std::string>& KnownDiagnostics() {
  static const auto* known = [] {
    auto* m = new std::map<int, std::string>();
    std::istringstream in(kDiagnosticsTsv);
    std::string line;
    std::getline(in, line);  // header: code reason source
    while (std::getline(in, line)) {
      size_t tab = line.find('\t');
      if (tab == std::string::npos) continue;
      int code = std::atoi(line.substr(0, tab).c_str());
      size_t tab2 = line.find('\t', tab + 1);
      std::string reason = line.substr(tab + 1, tab2 == std::string::npos ? std::string::npos : tab2 - tab - 1);
      m->emplace(code, reason);  // the first reason listed wins
    }
    return m;
  }();
  return *known;
}

Result<std::vector<std::string>> ReadAppsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read --apps file " + path);
  std::vector<std::string> apps;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.find_first_of(" \t\"<>") != std::string::npos || t.find('@') == std::string::npos) {
      return Status::InvalidArgument(path + ":" + std::to_string(n) + ": not a SIP URI: " + t);
    }
    if (t.rfind("sip:", 0) != 0 && t.rfind("sips:", 0) != 0) t = "sip:" + t;
    apps.push_back(t);
  }
  return apps;
}

Result<IsoWeek> LastFullWeek(const storage::IndexSnapshot& snapshot) {
  const storage::Manifest& m = snapshot.manifest();
  if (m.record_count == 0 || m.max_time < m.min_time) return Status::NotFound("the index holds no records");
  IsoWeek newest = IsoWeekOf(m.max_time);
  TimeMs first_day = FloorDay(m.min_time);
  TimeMs last_day = FloorDay(m.max_time);
  for (IsoWeek w = newest;;) {
    TimeMs start = *IsoWeekStart(w);
    if (start < first_day) break;
    if (start + 6 * kMsPerDay <= last_day) return w;
    w = IsoWeekOf(start - kMsPerDay);
  }
  return newest;
}

Result<Report> BuildReport(const storage::IndexSnapshot& snapshot, const ReportOptions& options) {
  std::optional<TimeMs> start = IsoWeekStart(options.week);
  if (!start) return Status::InvalidArgument("no such ISO week: " + FormatIsoWeek(options.week));
  Report r;
  r.week = FormatIsoWeek(options.week);
  r.start = FormatDate(*start);
  r.end = FormatDate(*start + 6 * kMsPerDay);
  r.generated_by = options.generated_by;
  r.apps_rule = options.apps ? "the list given with --apps" : kDefaultAppsRule;
  r.workaround =
      "Office 365 refuses application endpoints of an on-premises trusted application for users homed online "
      "(2157: the source network is not set when the tenants of To and From differ). Subscribe to those users "
      "from a user endpoint (UCMA UserEndpoint) instead, or move the application to the users' side.";

  QueryCache cache(snapshot, options);
  IsoWeek previous = IsoWeekOf(*start - kMsPerDay);
  const storage::Manifest& m = snapshot.manifest();
  const bool has_previous = m.record_count > 0 && m.min_time < *start && m.max_time >= *IsoWeekStart(previous);
  Runner run(&cache, options.week);
  {
    // Everything that depends on nothing, for both weeks, in one pass.
    std::vector<std::string> texts = IndependentQueries(run, options.apps.has_value(), true);
    if (has_previous) {
      std::vector<std::string> p = IndependentQueries(Runner(&cache, previous), options.apps.has_value(), false);
      texts.insert(texts.end(), p.begin(), p.end());
    }
    SIPDEX_RETURN_IF_ERROR(cache.Prefetch(texts));
  }
  {
    // What depends on those answers only (the weeks' applications, the other codes), in a second pass.
    std::vector<std::string> texts;
    SIPDEX_RETURN_IF_ERROR(DependentQueries(run, options.week, options.apps, true, &texts));
    if (has_previous) {
      Runner prev_run(&cache, previous);
      SIPDEX_RETURN_IF_ERROR(DependentQueries(prev_run, previous, options.apps, false, &texts));
    }
    SIPDEX_RETURN_IF_ERROR(cache.Prefetch(texts));
  }
  Result<WeekFigures> week = ComputeWeek(&cache, options.week, options.apps, true);
  if (!week.ok()) return week.status();
  r.headline = week->headline;
  if (has_previous) {
    Result<WeekFigures> prev = ComputeWeek(&cache, previous, options.apps, false);
    if (!prev.ok()) return prev.status();
    r.headline.previous = HeadlineValues(prev->headline);
  }

  SIPDEX_RETURN_IF_ERROR(FillCoverage(run, snapshot, *start, &r));
  SIPDEX_RETURN_IF_ERROR(FillApps(run, *week, &r));
  FillUsers(*week, &r);
  SIPDEX_RETURN_IF_ERROR(FillDaily(run, &r));
  SIPDEX_RETURN_IF_ERROR(FillOtherCodes(run, &r));
  return r;
}

}  // namespace sipdex::report
