// End to end: generated week -> ingest -> report, compared with the
// generator's ground truth; golden md/html of a generated corpus; hostile
// names from the logs rendered as text.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "indexer/ingest.h"
#include "query/executor.h"
#include "report/builder.h"
#include "report/render.h"
#include "storage/index.h"

using namespace sipdex;
using Json = nlohmann::json;

namespace {

std::string FreshDir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(SIPDEX_BINARY_DIR) / "test-tmp" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// One ISO week (2014-W29, Monday 2014-07-14 to Sunday 2014-07-20) of traffic.
void GenerateWeek(const std::string& dir, const std::string& size, int seed) {
  std::string cmd = std::string(SIPDEX_BINARY_DIR) + "/corpus/sipdex-gen -q --size " + size + " --seed " +
                    std::to_string(seed) + " --days 7 --start 2014-07-14 --out " + dir;
  REQUIRE(std::system(cmd.c_str()) == 0);
}

Json ReadJson(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return Json::parse(in);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<storage::Index> IngestInto(const std::string& index_dir, const std::vector<std::string>& paths) {
  auto index = storage::Index::Open(index_dir, storage::IndexOptions{.read_only = false,
                                                                     .parser = MakeRecordParser()});
  REQUIRE(index.ok());
  IngestOptions options;
  options.threads = 2;
  auto summary = Ingest(index->get(), paths, options);
  REQUIRE(summary.ok());
  return std::move(*index);
}

report::Report BuildWeek(storage::Index* index, bool facts = true) {
  auto snap = index->Snapshot();
  REQUIRE(snap.ok());
  Result<IsoWeek> week = report::LastFullWeek(**snap);
  REQUIRE(week.ok());
  REQUIRE(FormatIsoWeek(*week) == "2014-W29");
  report::ReportOptions options;
  options.week = *week;
  options.generated_by = "sipdex test";
  options.facts = facts;
  Result<report::Report> r = report::BuildReport(**snap, options);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return std::move(*r);
}

}  // namespace

TEST_CASE("The weekly report equals the generator's ground truth for that week", "[end_to_end][report]") {
  for (int seed : {3, 7}) {
    INFO("seed " << seed);
    std::string root = FreshDir("report-truth-" + std::to_string(seed));
    GenerateWeek(root + "/gen", "6MB", seed);
    Json truth = ReadJson(root + "/gen/ground-truth.json");
    auto index = IngestInto(root + "/idx", {root + "/gen"});
    report::Report r = BuildWeek(index.get());

    const Json& refusals = truth["refusals"];
    CHECK(r.headline.refused_single.value == refusals["total"]["single"].get<std::int64_t>());
    CHECK(r.headline.refused_batch.value == refusals["total"]["batch"].get<std::int64_t>());
    CHECK(r.headline.refused_notify.value == refusals["total"]["notify"].get<std::int64_t>());
    CHECK(r.headline.unanswered.value == static_cast<std::int64_t>(truth["stuck_subscriptions"]["call_ids"].size()));
    CHECK(r.headline.users_affected.value == static_cast<std::int64_t>(refusals["by_user"].size()));

    // Per application: every refused application of the truth, with its counts by kind.
    std::map<std::string, const report::AppRow*> apps;
    for (const report::AppRow& a : r.apps) apps[a.uri] = &a;
    std::int64_t refused_apps = 0, pairs = 0;
    for (const auto& [uri, counts] : refusals["by_application"].items()) {
      INFO(uri);
      REQUIRE(apps.count(uri) == 1);
      CHECK(apps[uri]->refused_single == counts["single"].get<std::int64_t>());
      CHECK(apps[uri]->refused_batch == counts["batch"].get<std::int64_t>());
      CHECK(apps[uri]->refused_notify == counts["notify"].get<std::int64_t>());
      CHECK(apps[uri]->verdict == report::Verdict::kBlocked);
      if (counts["total"].get<std::int64_t>() > 0) ++refused_apps;
    }
    for (const report::AppRow& a : r.apps) pairs += a.distinct_users;
    CHECK(r.headline.apps_affected.value == refused_apps);
    CHECK(pairs == refusals["distinct_pair_count"].get<std::int64_t>());
    // Trusted applications are recognised, and no user endpoint is taken for one.
    std::set<std::string> trusted;
    for (const Json& a : truth["deployment"]["trusted_applications"]) trusted.insert(a["uri"].get<std::string>());
    for (const report::AppRow& a : r.apps) CHECK(trusted.count(a.uri) == 1);

    // Per user.
    REQUIRE(r.users.size() == refusals["by_user"].size());
    for (const report::UserRow& u : r.users) {
      INFO(u.uri);
      CHECK(u.refusals == refusals["by_user"][u.uri]["total"].get<std::int64_t>());
    }
    // Per day.
    REQUIRE(r.daily.size() == 7);
    for (const report::DayRow& d : r.daily) {
      INFO(d.day);
      std::int64_t expected = refusals["by_day"].contains(d.day) ? refusals["by_day"][d.day]["total"].get<std::int64_t>() : 0;
      CHECK(d.refusals == expected);
    }
    CHECK(r.coverage.total_records.value > 0);
    CHECK(r.coverage.gaps.empty());
  }
}

TEST_CASE("The report of a generated corpus matches its golden files", "[end_to_end][report][golden]") {
  std::string root = FreshDir("report-golden");
  GenerateWeek(root + "/gen", "3MB", 29);
  auto index = IngestInto(root + "/idx", {root + "/gen"});
  report::Report r = BuildWeek(index.get());
  for (const auto& [name, text] : {std::pair<std::string, std::string>{"corpus-seed29.md", report::RenderMarkdown(r)},
                                   {"corpus-seed29.html", report::RenderHtml(r)},
                                   {"corpus-seed29.json", report::RenderJson(r)}}) {
    std::string path = std::string(SIPDEX_SOURCE_DIR) + "/tests/golden/report/" + name;
    if (const char* u = std::getenv("SIPDEX_UPDATE_GOLDEN"); u && std::string(u) == "1") {
      std::ofstream(path, std::ios::binary) << text;
    }
    INFO("golden " << path << " (regenerate with SIPDEX_UPDATE_GOLDEN=1)");
    CHECK(text == ReadText(path));
  }
}

TEST_CASE("The report built on records' facts equals the report built on their text", "[end_to_end][report][facts]") {
  std::string root = FreshDir("report-facts");
  GenerateWeek(root + "/gen", "4MB", 11);
  auto index = IngestInto(root + "/idx", {root + "/gen"});
  report::Report on_facts = BuildWeek(index.get(), true);
  report::Report on_text = BuildWeek(index.get(), false);
  CHECK(on_facts.headline.refused_single.value > 0);
  CHECK(report::RenderJson(on_facts) == report::RenderJson(on_text));
  CHECK(report::RenderMarkdown(on_facts) == report::RenderMarkdown(on_text));
  // Every query of the report reads fact fields only.
  auto snap = index->Snapshot();
  REQUIRE(snap.ok());
  for (const auto& [name, text] : report::ReportQueries()) {
    std::string q = text;
    for (std::size_t p; (p = q.find("{week}")) != std::string::npos;) q.replace(p, 6, "2014-W29");
    for (const std::string& tail : {std::string(" | count by from.uri"), std::string(" | fields time, from.uri")}) {
      query::QueryOptions options;
      options.format = query::OutputFormat::kJsonl;
      options.explain = true;
      std::ostringstream plan;
      REQUIRE(query::RunQuery(**snap, q + tail, options, &plan, nullptr).ok());
      INFO(name << ": " << plan.str());
      CHECK(plan.str().find("records: facts") != std::string::npos);
    }
  }
}

TEST_CASE("Hostile names injected into a generated corpus show as text in the report", "[end_to_end][report][xss]") {
  std::string root = FreshDir("report-xss");
  GenerateWeek(root + "/gen", "2MB", 5);
  // A refusal whose display names and user URI carry markup, and another
  // failure whose ms-diagnostics reason (shown in the report) is a script.
  std::string log =
      "TL_INFO(TF_PROTOCOL) [4]2078.4C38::07/16/2014-10:17:57.137.005363bd\n"
      "Direction: incoming\n"
      "Message-Type: response\n"
      "Start-Line: SIP/2.0 403 Forbidden\n"
      "FROM: \"\\\"><script>alert(1)</script>\"<sip:ucma-app@contoso.com>;epid=732E4388A6;tag=3337a42636\n"
      "To: \"<img src=x onerror=alert(4)>\"<sip:<img src=x onerror=alert(2)>@contoso.com>;tag=AC5C0080\n"
      "CALL-ID: 55e99a32b7f940efa49ca37e876645d6\n"
      "CSEQ: 9 SUBSCRIBE\n"
      "ms-diagnostics: 2157;reason=\"Source network is not set\";source=\"sip.contoso.com\"\n"
      "Message-Body: -\n"
      "$$end_record\n"
      "TL_INFO(TF_PROTOCOL) [4]2078.4C38::07/16/2014-10:18:57.137.005363be\n"
      "Direction: incoming\n"
      "Message-Type: response\n"
      "Start-Line: SIP/2.0 404 Not Found\n"
      "From: <sip:alice@contoso.com>;tag=1\n"
      "To: <sip:bob@contoso.com>;tag=2\n"
      "Call-ID: 66e99a32b7f940efa49ca37e876645d6\n"
      "CSeq: 1 INVITE\n"
      "ms-diagnostics: 4141;reason=\"<script>alert(5)</script>\";source=\"sip.contoso.com\"\n"
      "Message-Body: -\n"
      "$$end_record\n";
  std::ofstream(root + "/gen/HOSTILE_20140716_1.log", std::ios::binary) << log;
  auto index = IngestInto(root + "/idx", {root + "/gen"});
  report::Report r = BuildWeek(index.get());

  // The hostile strings reached the model as the logs carry them...
  std::string hostile_user;
  for (const report::UserRow& u : r.users) {
    if (u.uri.find("<img") != std::string::npos) hostile_user = u.uri;
  }
  REQUIRE_FALSE(hostile_user.empty());
  std::string hostile_reason;
  for (const report::CodeRow& c : r.other_codes) {
    if (c.reason.find("<script>") != std::string::npos) hostile_reason = c.reason;
  }
  REQUIRE(hostile_reason == "<script>alert(5)</script>");
  // ...and the rendered pages show them as text.
  std::string html = report::RenderHtml(r);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find(report::EscapeHtml(hostile_user)) != std::string::npos);
  CHECK(html.find(report::EscapeHtml(hostile_reason)) != std::string::npos);
  std::string md = report::RenderMarkdown(r);
  CHECK(md.find("<script") == std::string::npos);
  CHECK(md.find("<img") == std::string::npos);
}
