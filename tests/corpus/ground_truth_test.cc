// The key test of the generator: the indexer's readers, framer and parser (the
// code behind `sipdex inspect`) must find exactly the counts the ground truth
// promises, for several seeds. A disagreement is a bug in one of the two.

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "corpus/generator.h"
#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"
#include "tests/corpus/test_util.h"

using namespace sipdex;
using namespace sipdex::corpus;
using sipdex::corpus::testing::ScratchDir;

namespace {

// What the parser sees, counted the way `sipdex inspect` counts: spans that
// are whitespace-only or BOM junk (unflagged junk) are not records.
struct ParsedCounts {
  std::map<std::string, std::uint64_t> bytes_per_file;
  std::map<std::string, std::uint64_t> records_per_file;
  std::map<std::string, std::uint64_t> by_kind;
  std::map<std::string, std::uint64_t> requests_by_method;
  std::map<std::string, std::uint64_t> responses_by_status;
  std::map<std::string, std::uint64_t> responses_by_method;
  std::map<std::string, std::uint64_t> diag_codes;
  std::map<std::string, std::uint64_t> resources;
  std::set<std::tuple<std::string, std::uint64_t, std::string>> malformed;
  TimeMs first = 0, last = 0;
  bool has_time = false;
};

std::string Key(std::string_view s) { return std::string(s); }

ParsedCounts ParseCorpus(const std::string& dir, const GroundTruth& gt) {
  ParsedCounts pc;
  std::vector<std::string> paths;
  for (const FileTruth& f : gt.files) paths.push_back(dir + "/" + f.name);
  auto files = ExpandInputs(paths);
  REQUIRE(files.ok());
  REQUIRE(files->size() == gt.files.size());
  Record record;
  for (const LogicalFile& file : *files) {
    std::string base = file.name.substr(file.name.find_last_of('/') + 1);
    auto reader = OpenLogicalFile(file);
    REQUIRE(reader.ok());
    RecordFramer framer;
    RecordBatch batch;
    TimeMs carry = 0;
    std::vector<char> chunk(1 << 20);
    std::uint64_t records = 0;
    auto visit = [&](const Record& r) {
      if (r.kind == RecordKind::kJunk && r.malformed == kMalformedNone) return;
      ++records;
      pc.by_kind[Key(RecordKindName(r.kind))]++;
      if (r.kind == RecordKind::kProtocol) {
        if (r.type == MessageType::kRequest) {
          pc.requests_by_method[Key(r.method)]++;
        } else if (r.type == MessageType::kResponse) {
          pc.responses_by_status[r.status >= 0 ? std::to_string(r.status) : "none"]++;
          pc.responses_by_method[Key(r.cseq_method)]++;
        }
        std::set<int> codes;
        for (const Diagnostic& d : r.diagnostics) codes.insert(d.code);
        for (int c : codes) pc.diag_codes[std::to_string(c)]++;
        for (const ResourceInstance& ri : r.resources) {
          pc.resources[(ri.state.empty() ? "-" : Key(ri.state)) + "/" +
                       (ri.status >= 0 ? std::to_string(ri.status) : "-") + "/" +
                       (ri.diag >= 0 ? std::to_string(ri.diag) : "-")]++;
        }
      }
      if (r.has_time && (r.kind == RecordKind::kProtocol || r.kind == RecordKind::kDiagnostic ||
                         r.kind == RecordKind::kOther)) {
        if (!pc.has_time || r.time < pc.first) pc.first = r.time;
        if (!pc.has_time || r.time > pc.last) pc.last = r.time;
        pc.has_time = true;
      }
      if (r.malformed != kMalformedNone) pc.malformed.emplace(base, r.line, MalformedReasons(r.malformed));
    };
    for (;;) {
      auto got = (*reader)->Read(chunk.data(), chunk.size());
      REQUIRE(got.ok());
      if (*got == 0) break;
      framer.Feed(std::string_view(chunk.data(), *got));
      while (framer.NextBatch(&batch)) ParseBatch(batch, &record, &carry, visit);
    }
    framer.Finish();
    while (framer.NextBatch(&batch)) ParseBatch(batch, &record, &carry, visit);
    pc.bytes_per_file[base] = framer.bytes_fed();
    pc.records_per_file[base] = records;
    if (framer.bytes_fed() == 0) pc.malformed.emplace(base, 0, MalformedReasons(kMalformedEmptyFile));
  }
  return pc;
}

template <typename Array>
std::map<std::string, std::uint64_t> ByMethod(const Array& a) {
  std::map<std::string, std::uint64_t> m;
  for (int i = 0; i < kMethodCount; ++i) {
    if (a[i]) m[MethodName(static_cast<Method>(i))] = a[i];
  }
  return m;
}

}  // namespace

TEST_CASE("The parser agrees with every count of the ground truth for three seeds", "[corpus][ground-truth][indexer]") {
  for (std::uint64_t seed : {101, 202, 303}) {
    INFO("seed " << seed);
    ScratchDir dir("agree");
    GenOptions o;
    o.seed = seed;
    o.size_bytes = 4'000'000;
    o.days = 4;
    o.start = *ParseIsoTime("2014-07-12");
    o.roll_bytes = 300 * 1024;
    o.bad_rate = 40;  // plenty of every kind of bad input in a few MB
    o.out_dir = dir.path();
    auto gen = GenerateCorpus(o);
    REQUIRE(gen.ok());
    const GroundTruth& gt = gen->truth;
    ParsedCounts pc = ParseCorpus(dir.path(), gt);

    // Bytes and records, per file and in total.
    std::map<std::string, std::uint64_t> bytes, records;
    for (const FileTruth& f : gt.files) {
      bytes[f.name] = f.bytes;
      records[f.name] = f.records;
    }
    REQUIRE(pc.bytes_per_file == bytes);
    REQUIRE(pc.records_per_file == records);
    std::map<std::string, std::uint64_t> kinds;
    for (int i = 0; i < kRecordKindCount; ++i) {
      if (gt.records_by_kind[i]) kinds[Key(RecordKindName(static_cast<RecordKind>(i)))] = gt.records_by_kind[i];
    }
    REQUIRE(pc.by_kind == kinds);
    REQUIRE(pc.by_kind["protocol"] > 3000);
    REQUIRE(pc.by_kind["diagnostic"] > 50);
    REQUIRE(pc.by_kind["other"] > 50);

    // Methods, statuses, CSeq methods of responses.
    REQUIRE(pc.requests_by_method == ByMethod(gt.requests_by_method));
    REQUIRE(pc.responses_by_method == ByMethod(gt.responses_by_method));
    std::map<std::string, std::uint64_t> statuses;
    for (std::size_t i = 0; i < gt.responses_by_status.size(); ++i) {
      if (gt.responses_by_status[i]) statuses[std::to_string(i)] = gt.responses_by_status[i];
    }
    if (gt.responses_without_status) statuses["none"] = gt.responses_without_status;
    REQUIRE(pc.responses_by_status == statuses);

    // ms-diagnostics codes (messages carrying each) and rlmi resource instances.
    std::map<std::string, std::uint64_t> diags;
    for (const auto& [code, n] : gt.diag_codes) diags[std::to_string(code)] = n;
    REQUIRE(pc.diag_codes == diags);
    std::map<std::string, std::uint64_t> resources;
    for (int i = 0; i < kResourceShapeCount; ++i) {
      if (gt.resource_instances[i]) resources[ResourceShapeKey(static_cast<ResourceShape>(i))] = gt.resource_instances[i];
    }
    REQUIRE(pc.resources == resources);
    REQUIRE(pc.resources["terminated/403/2157"] == gt.TotalRefusals().batch + gt.TotalRefusals().notify);

    // Every bad record, with its file, line and reasons.
    std::set<std::tuple<std::string, std::uint64_t, std::string>> bad;
    for (const BadRecord& b : gt.bad_records) bad.emplace(b.file, b.line, MalformedReasons(b.bits));
    REQUIRE(bad.size() == gt.bad_records.size());
    REQUIRE(pc.malformed == bad);
    std::set<std::uint32_t> reasons_seen;
    for (const BadRecord& b : gt.bad_records) reasons_seen.insert(b.bits);
    for (std::uint32_t bit : {kMalformedTruncated, kMalformedHeaderLine, kMalformedTime, kMalformedSipLine,
                              kMalformedBinary, kMalformedLongLine, kMalformedForeign, kMalformedJunk,
                              kMalformedEmptyFile}) {
      INFO(MalformedBitName(bit));
      REQUIRE(reasons_seen.count(bit) == 1);
    }

    // First and last time.
    REQUIRE(pc.has_time == gt.has_time);
    REQUIRE(FormatTime(pc.first) == FormatTime(gt.first_time));
    REQUIRE(FormatTime(pc.last) == FormatTime(gt.last_time));
  }
}

TEST_CASE("sipdex inspect agrees with every count of the ground truth for three seeds", "[corpus][ground-truth][cli]") {
  for (std::uint64_t seed : {404, 505, 606}) {
    INFO("seed " << seed);
    ScratchDir dir("inspect");
    GenOptions o;
    o.seed = seed;
    o.size_bytes = 3'000'000;
    o.days = 3;
    o.start = *ParseIsoTime("2014-07-18");
    o.roll_bytes = 400 * 1024;
    o.bad_rate = 40;
    o.out_dir = dir.path();
    auto gen = GenerateCorpus(o);
    REQUIRE(gen.ok());
    nlohmann::json g = gen->truth.ToJson(gen->deployment);

    std::string cmd = std::string(SIPDEX_BINARY_DIR) + "/cli/sipdex inspect --format summary-json";
    for (const FileTruth& f : gen->truth.files) cmd += " '" + dir.Sub(f.name) + "'";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[1 << 16];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    REQUIRE(pclose(p) == 0);
    nlohmann::json s = nlohmann::json::parse(out);

    REQUIRE(s["files"] == g["files"].size());
    REQUIRE(s["bytes"] == g["bytes"]["total"]);
    REQUIRE(s["records"] == g["records"]["total"]);
    REQUIRE(s["records_by_kind"] == g["records"]["by_kind"]);
    REQUIRE(s["requests_by_method"] == g["requests_by_method"]);
    REQUIRE(s["responses_by_status"] == g["responses_by_status"]);
    REQUIRE(s["responses_by_cseq_method"] == g["responses_by_method"]);
    REQUIRE(s["diag_messages_by_code"] == g["diag_codes"]);
    REQUIRE(s["resources_by_state_status_diag"] == g["resources_by_state_status_diag"]);
    REQUIRE(s["malformed_records"] == g["malformed"]["total"]);
    REQUIRE(s["malformed_by_reason"] == g["malformed"]["by_reason"]);
    std::multiset<std::string> listed, expected;
    for (const auto& m : s["malformed"]) {
      std::string file = m["file"].get<std::string>();
      std::string reasons;
      for (const auto& r : m["reasons"]) reasons += (reasons.empty() ? "" : ",") + r.get<std::string>();
      listed.insert(file.substr(file.find_last_of('/') + 1) + ":" + std::to_string(m["line"].get<int>()) + ":" +
                    reasons);
    }
    for (const auto& m : g["malformed"]["records"]) {
      expected.insert(m["file"].get<std::string>() + ":" + std::to_string(m["line"].get<int>()) + ":" +
                      m["reason"].get<std::string>());
    }
    REQUIRE(listed == expected);
    REQUIRE(s["errors"].empty());
  }
}

// Refusals need the query language to be counted by the product; until it
// lands, this recomputes them from the parsed records with the definitions of
// corpus/README.md, so those definitions are shown to be computable from what
// the parser extracts (and the generator's bookkeeping to match them).
TEST_CASE("Refusals, stuck subscriptions, pairs and user-endpoint successes follow from the parsed records", "[corpus][ground-truth][indexer]") {
  for (std::uint64_t seed : {707, 808, 909}) {
    INFO("seed " << seed);
    ScratchDir dir("refusals");
    GenOptions o;
    o.seed = seed;
    o.size_bytes = 4'000'000;
    o.days = 5;
    o.start = *ParseIsoTime("2014-07-14");
    o.roll_bytes = 1 << 20;
    o.out_dir = dir.path();
    auto gen = GenerateCorpus(o);
    REQUIRE(gen.ok());
    const GroundTruth& gt = gen->truth;
    const Deployment& d = gen->deployment;
    std::map<std::string, int> app_index, user_index;
    for (std::size_t i = 0; i < d.apps.size(); ++i) app_index[d.apps[i].uri] = static_cast<int>(i);
    for (std::size_t i = 0; i < d.users.size(); ++i) user_index[d.users[i].uri] = static_cast<int>(i);

    std::map<int, RefusalCounts> by_day, by_app, by_user;
    std::set<std::pair<int, int>> pairs;
    std::set<std::string> app_subscribes, answered;
    std::map<int, std::uint64_t> user_endpoint_successes;
    auto online = [&](std::string_view uri, TimeMs t) {
      auto it = user_index.find(std::string(uri));
      return it != user_index.end() && d.users[it->second].OnlineOn(static_cast<int>((FloorDay(t) - d.start) / kMsPerDay));
    };
    auto add = [&](RefusalKind k, TimeMs t, std::string_view app, std::string_view user) {
      REQUIRE(app_index.count(std::string(app)) == 1);
      REQUIRE(user_index.count(std::string(user)) == 1);
      int a = app_index[std::string(app)], u = user_index[std::string(user)];
      by_day[static_cast<int>((FloorDay(t) - d.start) / kMsPerDay)].Add(k);
      by_app[a].Add(k);
      by_user[u].Add(k);
      pairs.emplace(a, u);
    };
    std::vector<std::string> paths;
    for (const FileTruth& f : gt.files) paths.push_back(dir.path() + "/" + f.name);
    auto files = ExpandInputs(paths);
    REQUIRE(files.ok());
    Record record;
    for (const LogicalFile& file : *files) {
      auto reader = OpenLogicalFile(file);
      REQUIRE(reader.ok());
      RecordFramer framer;
      RecordBatch batch;
      TimeMs carry = 0;
      auto visit = [&](const Record& r) {
        if (r.kind != RecordKind::kProtocol) return;
        bool subscribe = EqualsIgnoreCase(r.cseq_method, "SUBSCRIBE");
        if (r.type == MessageType::kRequest && subscribe && app_index.count(std::string(r.from.uri))) {
          app_subscribes.emplace(r.call_id);
        }
        if (r.type == MessageType::kResponse) answered.emplace(r.call_id);
        if (r.type == MessageType::kResponse && subscribe) {
          bool has_2157 = false;
          for (const Diagnostic& dg : r.diagnostics) has_2157 = has_2157 || dg.code == 2157;
          if (has_2157) add(RefusalKind::kSingle, r.time, r.from.uri, r.to.uri);
          for (const ResourceInstance& ri : r.resources) {
            if (ri.diag == 2157) add(RefusalKind::kBatch, r.time, r.from.uri, ri.uri);
          }
          if (!app_index.count(std::string(r.from.uri)) && r.diagnostics.empty()) {
            int day = static_cast<int>((FloorDay(r.time) - d.start) / kMsPerDay);
            if (r.resources.empty() && online(r.to.uri, r.time)) user_endpoint_successes[day]++;
            for (const ResourceInstance& ri : r.resources) {
              if (ri.state == "active" && online(ri.uri, r.time)) user_endpoint_successes[day]++;
            }
          }
        }
        if (r.type == MessageType::kRequest && EqualsIgnoreCase(r.method, "NOTIFY")) {
          for (const ResourceInstance& ri : r.resources) {
            if (ri.diag == 2157) add(RefusalKind::kNotify, r.time, r.to.uri, ri.uri);
          }
        }
      };
      std::vector<char> chunk(1 << 20);
      for (;;) {
        auto got = (*reader)->Read(chunk.data(), chunk.size());
        REQUIRE(got.ok());
        if (*got == 0) break;
        framer.Feed(std::string_view(chunk.data(), *got));
        while (framer.NextBatch(&batch)) ParseBatch(batch, &record, &carry, visit);
      }
      framer.Finish();
      while (framer.NextBatch(&batch)) ParseBatch(batch, &record, &carry, visit);
    }
    REQUIRE(gt.TotalRefusals().Total() > 100);
    REQUIRE(by_day == gt.refusals_by_day);
    REQUIRE(by_app == gt.refusals_by_app);
    REQUIRE(by_user == gt.refusals_by_user);
    REQUIRE(pairs == gt.refused_pairs);
    REQUIRE(gt.UserEndpointSuccesses() > 10);
    REQUIRE(user_endpoint_successes == gt.user_endpoint_successes_by_day);
    std::set<std::string> stuck;
    for (const std::string& id : app_subscribes) {
      if (!answered.count(id)) stuck.insert(id);
    }
    REQUIRE(stuck == std::set<std::string>(gt.stuck_call_ids.begin(), gt.stuck_call_ids.end()));
  }
}
