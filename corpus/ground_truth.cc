#include "corpus/ground_truth.h"

#include <algorithm>
#include <tuple>

#include "corpus/model.h"

namespace sipdex::corpus {

const char* MethodName(Method m) {
  static constexpr const char* kNames[kMethodCount] = {
      "REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "MESSAGE", "INFO", "OPTIONS", "SERVICE", "NOTIFY", "BENOTIFY",
      "SUBSCRIBE",
  };
  return m < kMethodCount ? kNames[m] : "?";
}

const char* ResourceShapeKey(ResourceShape s) {
  switch (s) {
    case kResActive: return "active/-/-";
    case kResPending: return "pending/-/-";
    case kResRefused: return "terminated/403/2157";
    case kResNotFound: return "terminated/404/1003";
    default: return "?";
  }
}

void RefusalCounts::Add(RefusalKind k, std::uint64_t n) {
  switch (k) {
    case RefusalKind::kSingle: single += n; break;
    case RefusalKind::kBatch: batch += n; break;
    case RefusalKind::kNotify: notify += n; break;
  }
}

RefusalCounts& RefusalCounts::operator+=(const RefusalCounts& o) {
  single += o.single;
  batch += o.batch;
  notify += o.notify;
  return *this;
}

AppCounts& AppCounts::operator+=(const AppCounts& o) {
  single_subscribes += o.single_subscribes;
  batch_subscribes += o.batch_subscribes;
  batch_resources += o.batch_resources;
  return *this;
}

void GroundTruth::AddRefusal(RefusalKind k, int day, int app, int user) {
  refusals_by_day[day].Add(k);
  refusals_by_app[app].Add(k);
  refusals_by_user[user].Add(k);
  refused_pairs.emplace(app, user);
}

void GroundTruth::Merge(const GroundTruth& o) {
  files.insert(files.end(), o.files.begin(), o.files.end());
  for (int i = 0; i < kRecordKindCount; ++i) records_by_kind[i] += o.records_by_kind[i];
  for (int i = 0; i < kMethodCount; ++i) {
    requests_by_method[i] += o.requests_by_method[i];
    responses_by_method[i] += o.responses_by_method[i];
  }
  for (std::size_t i = 0; i < responses_by_status.size(); ++i) responses_by_status[i] += o.responses_by_status[i];
  responses_without_status += o.responses_without_status;
  for (const auto& [code, n] : o.diag_codes) diag_codes[code] += n;
  for (int i = 0; i < kResourceShapeCount; ++i) resource_instances[i] += o.resource_instances[i];
  bad_records.insert(bad_records.end(), o.bad_records.begin(), o.bad_records.end());
  if (o.has_time) {
    NoteTime(o.first_time);
    NoteTime(o.last_time);
  }
  for (const auto& [k, v] : o.refusals_by_day) refusals_by_day[k] += v;
  for (const auto& [k, v] : o.refusals_by_app) refusals_by_app[k] += v;
  for (const auto& [k, v] : o.refusals_by_user) refusals_by_user[k] += v;
  refused_pairs.insert(o.refused_pairs.begin(), o.refused_pairs.end());
  stuck_call_ids.insert(stuck_call_ids.end(), o.stuck_call_ids.begin(), o.stuck_call_ids.end());
  for (const auto& [k, v] : o.user_endpoint_successes_by_day) user_endpoint_successes_by_day[k] += v;
  for (const auto& [k, v] : o.app_counts) app_counts[k] += v;
  refusal_events.insert(refusal_events.end(), o.refusal_events.begin(), o.refusal_events.end());
  user_endpoint_events.insert(user_endpoint_events.end(), o.user_endpoint_events.begin(),
                              o.user_endpoint_events.end());
  invite_unanswered_call_ids.insert(invite_unanswered_call_ids.end(), o.invite_unanswered_call_ids.begin(),
                                    o.invite_unanswered_call_ids.end());
  register_401_only_call_ids.insert(register_401_only_call_ids.end(), o.register_401_only_call_ids.begin(),
                                    o.register_401_only_call_ids.end());
}

std::vector<RefusalRepeat> GroundTruth::RefusedAgainWithin(DurationMs window) const {
  std::vector<RefusalEvent> ev = refusal_events;
  std::sort(ev.begin(), ev.end(), [](const RefusalEvent& a, const RefusalEvent& b) {
    return std::tie(a.app, a.user, a.time) < std::tie(b.app, b.user, b.time);
  });
  std::vector<RefusalRepeat> out;
  for (std::size_t i = 1; i < ev.size(); ++i) {
    const RefusalEvent& a = ev[i - 1];
    const RefusalEvent& b = ev[i];
    if (a.app == b.app && a.user == b.user && b.time - a.time <= window) {
      out.push_back({a.app, a.user, a.time, b.time});
    }
  }
  std::sort(out.begin(), out.end(), [](const RefusalRepeat& a, const RefusalRepeat& b) {
    return std::tie(a.first, a.app, a.user, a.second) < std::tie(b.first, b.app, b.user, b.second);
  });
  return out;
}

std::vector<WorkaroundUser> GroundTruth::WorkaroundUsers(DurationMs window) const {
  // Per user, refusals (0) and successes (1) in time order, refusals first on ties.
  std::vector<std::tuple<int, TimeMs, int>> ev;
  for (const RefusalEvent& r : refusal_events) ev.emplace_back(r.user, r.time, 0);
  for (const UserEndpointSuccess& s : user_endpoint_events) ev.emplace_back(s.user, s.time, 1);
  std::sort(ev.begin(), ev.end());
  std::vector<WorkaroundUser> out;
  int user = -1;
  bool has_refusal = false, done = false;
  TimeMs latest = 0;
  for (const auto& [u, t, what] : ev) {
    if (u != user) {
      user = u;
      has_refusal = false;
      done = false;
    }
    if (done) continue;
    if (what == 0) {
      has_refusal = true;
      latest = t;
    } else if (has_refusal && t - latest <= window) {
      out.push_back({u, latest, t});
      done = true;
    }
  }
  return out;
}

std::uint64_t GroundTruth::TotalBytes() const {
  std::uint64_t n = 0;
  for (const FileTruth& f : files) n += f.bytes;
  return n;
}

std::uint64_t GroundTruth::TotalRecords() const {
  std::uint64_t n = 0;
  for (std::uint64_t k : records_by_kind) n += k;
  return n;
}

RefusalCounts GroundTruth::TotalRefusals() const {
  RefusalCounts total;
  for (const auto& [day, c] : refusals_by_day) total += c;
  return total;
}

std::uint64_t GroundTruth::UserEndpointSuccesses() const {
  std::uint64_t n = 0;
  for (const auto& [day, c] : user_endpoint_successes_by_day) n += c;
  return n;
}

Status GroundTruth::CheckConsistency() const {
  auto fail = [](const std::string& what) { return Status::Corruption("ground truth: " + what); };
  std::uint64_t file_records = 0;
  for (const FileTruth& f : files) file_records += f.records;
  if (file_records != TotalRecords()) return fail("records per file do not add up to records by kind");
  std::uint64_t requests = 0, responses = 0, by_status = responses_without_status;
  for (int i = 0; i < kMethodCount; ++i) {
    requests += requests_by_method[i];
    responses += responses_by_method[i];
  }
  for (std::uint64_t n : responses_by_status) by_status += n;
  if (by_status != responses) return fail("responses by status do not add up to responses by method");
  if (requests + responses != records_by_kind[static_cast<int>(RecordKind::kProtocol)]) {
    return fail("requests + responses != protocol records");
  }
  std::uint64_t junk = 0, foreign = 0;
  for (const BadRecord& b : bad_records) {
    if (b.bits == 0) return fail("a bad record without a reason");
    junk += (b.bits & kMalformedJunk) ? 1 : 0;
    foreign += (b.bits & kMalformedForeign) ? 1 : 0;
  }
  if (junk != records_by_kind[static_cast<int>(RecordKind::kJunk)]) return fail("junk records != junk reasons");
  if (foreign != records_by_kind[static_cast<int>(RecordKind::kForeign)]) {
    return fail("foreign records != foreign reasons");
  }
  RefusalCounts total = TotalRefusals(), by_app, by_user;
  for (const auto& [k, v] : refusals_by_app) by_app += v;
  for (const auto& [k, v] : refusals_by_user) by_user += v;
  if (!(by_app == total)) return fail("refusals per application do not add up to refusals per day");
  if (!(by_user == total)) return fail("refusals per user do not add up to refusals per day");
  for (const auto& [app, user] : refused_pairs) {
    if (!refusals_by_app.count(app) || !refusals_by_user.count(user)) return fail("a refused pair with no refusal");
  }
  if (refused_pairs.size() > total.Total()) return fail("more refused pairs than refusals");
  std::uint64_t single = 0;
  auto it = diag_codes.find(2157);
  if (it != diag_codes.end()) single = it->second;
  // Every single refusal carries 2157 in ms-diagnostics; nothing else in a header does.
  if (single != total.single) return fail("messages with ms-diagnostics 2157 != single refusals");
  if (resource_instances[kResRefused] != total.batch + total.notify) {
    return fail("rlmi instances with msDiagCode 2157 != batch + NOTIFY refusals");
  }
  std::set<std::string> stuck(stuck_call_ids.begin(), stuck_call_ids.end());
  if (stuck.size() != stuck_call_ids.size()) return fail("a stuck Call-ID listed twice");
  if (has_time && first_time > last_time) return fail("first time after last time");
  return Status::Ok();
}

nlohmann::json GroundTruth::ToJson(const Deployment& d) const {
  using nlohmann::json;
  auto day_name = [&](int day) { return FormatDate(d.start + static_cast<TimeMs>(day) * kMsPerDay); };
  auto refusals = [](const RefusalCounts& c) {
    return json{{"single", c.single}, {"batch", c.batch}, {"notify", c.notify}, {"total", c.Total()}};
  };
  json j;
  // --- what a parser can see ---
  std::vector<FileTruth> sorted = files;
  std::sort(sorted.begin(), sorted.end(), [](const FileTruth& a, const FileTruth& b) { return a.name < b.name; });
  json jfiles = json::array();
  json bytes_per_file = json::object();
  for (const FileTruth& f : sorted) {
    jfiles.push_back({{"name", f.name}, {"server", f.server}, {"bytes", f.bytes}, {"stored_bytes", f.stored_bytes},
                      {"records", f.records}, {"gz", f.gz}, {"crlf", f.crlf}, {"bom", f.bom}});
    bytes_per_file[f.name] = f.bytes;
  }
  j["bytes"] = {{"total", TotalBytes()}, {"per_file", bytes_per_file}};
  j["files"] = jfiles;
  json kinds = json::object();
  for (int i = 0; i < kRecordKindCount; ++i) kinds[std::string(RecordKindName(static_cast<RecordKind>(i)))] = records_by_kind[i];
  j["records"] = {{"total", TotalRecords()}, {"by_kind", kinds}};
  json req = json::object(), resp = json::object(), status = json::object();
  for (int i = 0; i < kMethodCount; ++i) {
    if (requests_by_method[i]) req[MethodName(static_cast<Method>(i))] = requests_by_method[i];
    if (responses_by_method[i]) resp[MethodName(static_cast<Method>(i))] = responses_by_method[i];
  }
  for (std::size_t i = 0; i < responses_by_status.size(); ++i) {
    if (responses_by_status[i]) status[std::to_string(i)] = responses_by_status[i];
  }
  if (responses_without_status) status["none"] = responses_without_status;
  j["requests_by_method"] = req;
  j["responses_by_method"] = resp;
  j["responses_by_status"] = status;
  json diags = json::object();
  for (const auto& [code, n] : diag_codes) diags[std::to_string(code)] = n;
  j["diag_codes"] = diags;
  json res = json::object();
  for (int i = 0; i < kResourceShapeCount; ++i) {
    if (resource_instances[i]) res[ResourceShapeKey(static_cast<ResourceShape>(i))] = resource_instances[i];
  }
  j["resources_by_state_status_diag"] = res;
  std::vector<BadRecord> bad = bad_records;
  std::sort(bad.begin(), bad.end(), [](const BadRecord& a, const BadRecord& b) {
    return a.file != b.file ? a.file < b.file : a.line < b.line;
  });
  json by_reason = json::object();
  json jbad = json::array();
  for (const BadRecord& b : bad) {
    for (int i = 0; i < kMalformedBitCount; ++i) {
      if (b.bits & (1u << i)) {
        std::string name(MalformedBitName(1u << i));
        by_reason[name] = by_reason.value(name, 0) + 1;
      }
    }
    jbad.push_back({{"file", b.file}, {"line", b.line}, {"reason", MalformedReasons(b.bits)}});
  }
  j["malformed"] = {{"total", bad.size()}, {"by_reason", by_reason}, {"records", jbad}};
  if (has_time) {
    j["time"] = {{"first", FormatTime(first_time)}, {"last", FormatTime(last_time)}};
  } else {
    j["time"] = {{"first", nullptr}, {"last", nullptr}};
  }

  // --- what needs the query language ---
  json per_day = json::object(), per_app = json::object(), per_user = json::object();
  for (const auto& [day, c] : refusals_by_day) per_day[day_name(day)] = refusals(c);
  for (const auto& [app, c] : refusals_by_app) per_app[d.apps[app].uri] = refusals(c);
  for (const auto& [user, c] : refusals_by_user) per_user[d.users[user].uri] = refusals(c);
  json pairs = json::array();
  for (const auto& [app, user] : refused_pairs) pairs.push_back({d.apps[app].uri, d.users[user].uri});
  j["refusals"] = {{"total", refusals(TotalRefusals())},
                   {"by_day", per_day},
                   {"by_application", per_app},
                   {"by_user", per_user},
                   {"distinct_pairs", pairs},
                   {"distinct_pair_count", refused_pairs.size()}};
  std::vector<std::string> stuck = stuck_call_ids;
  std::sort(stuck.begin(), stuck.end());
  j["stuck_subscriptions"] = {{"count", stuck.size()}, {"call_ids", stuck}};
  json ue_day = json::object();
  for (const auto& [day, n] : user_endpoint_successes_by_day) ue_day[day_name(day)] = n;
  j["user_endpoint_successes"] = {{"total", UserEndpointSuccesses()}, {"by_day", ue_day}};
  json attempts = json::object();
  for (const auto& [app, c] : app_counts) {
    attempts[d.apps[app].uri] = {{"single_subscribes", c.single_subscribes},
                                 {"batch_subscribes", c.batch_subscribes},
                                 {"batch_resources", c.batch_resources}};
  }
  j["application_subscriptions"] = attempts;

  // --- sequences (worked examples of the `sequence` query) ---
  json repeats = json::array();
  for (const RefusalRepeat& r : RefusedAgainWithin(kMsPerHour)) {
    repeats.push_back({{"application", d.apps[r.app].uri},
                       {"user", d.users[r.user].uri},
                       {"first", FormatTime(r.first)},
                       {"second", FormatTime(r.second)}});
  }
  json workaround = json::array();
  for (const WorkaroundUser& w : WorkaroundUsers(kMsPerDay)) {
    workaround.push_back(
        {{"user", d.users[w.user].uri}, {"refusal", FormatTime(w.refusal)}, {"success", FormatTime(w.success)}});
  }
  std::vector<std::string> invites = invite_unanswered_call_ids;
  std::sort(invites.begin(), invites.end());
  std::vector<std::string> registers = register_401_only_call_ids;
  std::sort(registers.begin(), registers.end());
  j["sequences"] = {
      {"stuck_subscriptions", {{"count", stuck.size()}, {"call_ids", stuck}}},
      {"refused_again_within_1h", {{"window_ms", kMsPerHour}, {"count", repeats.size()}, {"pairs", repeats}}},
      {"workaround_within_1d", {{"window_ms", kMsPerDay}, {"count", workaround.size()}, {"users", workaround}}},
      {"invite_no_final_within_32s", {{"count", invites.size()}, {"call_ids", invites}}},
      {"register_401_without_200", {{"count", registers.size()}, {"call_ids", registers}}},
  };

  // --- the deployment ---
  json apps = json::array();
  for (const TrustedApp& a : d.apps) apps.push_back({{"uri", a.uri}, {"user_agent", a.user_agent}});
  json online = json::array();
  for (const User& u : d.users) {
    if (u.online_from_day >= 0) online.push_back({{"uri", u.uri}, {"online_since", day_name(u.online_from_day)}});
  }
  json servers = json::array();
  for (const Server& s : d.servers) servers.push_back({{"name", s.name}, {"role", ServerRoleName(s.role)}, {"fqdn", s.fqdn}});
  json tenants = json::array();
  for (const Tenant& t : d.tenants) {
    json doms = json::array();
    for (int i : t.domains) doms.push_back(d.domains[i]);
    tenants.push_back({{"id", t.id}, {"domains", doms}});
  }
  j["deployment"] = {{"domains", d.domains},        {"tenants", tenants},         {"servers", servers},
                     {"trusted_applications", apps}, {"users", d.users.size()},    {"users_online", online},
                     {"first_day", day_name(0)},     {"days", d.days}};
  return j;
}

}  // namespace sipdex::corpus
