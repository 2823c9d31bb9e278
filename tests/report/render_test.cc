#include "report/render.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

using namespace sipdex::report;

namespace {

// A small model with one blocked and one ready application, a gap, and a
// hostile display name smuggled in through every free-text field.
Report SampleReport(const std::string& hostile) {
  Report r;
  r.week = "2014-W29";
  r.start = "2014-07-14";
  r.end = "2014-07-20";
  r.generated_by = "sipdex 0.1.0";
  r.apps_rule = "endpoints that send batched subscriptions, use a UCMA user agent, or were refused with 2157";
  r.workaround = "subscribe from a user endpoint (UserEndpoint) instead of the application endpoint";
  r.coverage.days = {"2014-07-14", "2014-07-15", "2014-07-16", "2014-07-17", "2014-07-18", "2014-07-19", "2014-07-20"};
  r.coverage.servers = {"EDGE01", "FE01" + hostile};
  r.coverage.records = {{10, 12, 9, 11, 8, 0, 3}, {100, 120, 90, 110, 80, 20, 30}};
  r.coverage.files = 14;
  r.coverage.total_records = {603, "week 2014-W29 | count"};
  r.coverage.malformed_records = {2, "week 2014-W29 and malformed = true | count"};
  r.coverage.gaps = {"EDGE01 on 2014-07-19: no records"};
  r.headline.attempts = {40, "method = SUBSCRIBE and type = request and week 2014-W29 | count"};
  r.headline.refused_single = {5, "status = 403 and diag = 2157 and week 2014-W29 | count"};
  r.headline.refused_batch = {7, "resource.diag = 2157 and method = SUBSCRIBE and week 2014-W29 | count"};
  r.headline.refused_notify = {2, "resource.diag = 2157 and method = NOTIFY and week 2014-W29 | count"};
  r.headline.unanswered = {1, "method = SUBSCRIBE and type = request and not response exists | count"};
  r.headline.apps_affected = {2, "diag = 2157 and week 2014-W29 | count distinct to.uri"};
  r.headline.users_affected = {6, "resource.diag = 2157 | count distinct resource.uri"};
  r.headline.previous = std::vector<std::int64_t>{35, 5, 3, 2, 0, 1, 4};
  AppRow blocked;
  blocked.uri = "sip:presence-bot@contoso.com" + hostile;
  blocked.attempts = 20;
  blocked.refused_single = 5;
  blocked.refused_batch = 7;
  blocked.refused_notify = 2;
  blocked.unanswered = 1;
  blocked.successes = 6;
  blocked.distinct_users = 6;
  blocked.first_seen = "2014-07-14T08:00:01.000Z";
  blocked.last_seen = "2014-07-20T17:59:00.120Z";
  blocked.verdict = Verdict::kBlocked;
  blocked.query = "from.uri = \"sip:presence-bot@contoso.com\" and diag = 2157 | count distinct to.uri";
  AppRow ready;
  ready.uri = "sip:callcenter@contoso.com";
  ready.attempts = 20;
  ready.first_seen = "2014-07-15T08:00:00.000Z";
  ready.last_seen = "2014-07-18T08:00:00.000Z";
  ready.query = "from.uri = \"sip:callcenter@contoso.com\" and diag = 2157 | count distinct to.uri";
  r.apps = {blocked, ready};
  r.users = {{"sip:o365user@contoso.com", 9, {"sip:presence-bot@contoso.com", hostile}, "2014-07-14T08:00:01.000Z",
              "2014-07-20T17:59:00.120Z"}};
  r.daily = {{"2014-07-14", 3, 10}, {"2014-07-15", 4, 12}, {"2014-07-16", 0, 9}, {"2014-07-17", 2, 11},
             {"2014-07-18", 5, 8}, {"2014-07-19", 0, 2}, {"2014-07-20", 0, 3}};
  r.daily_refusals_query = {0, "diag = 2157 or resource.diag = 2157 | count by day"};
  r.daily_successes_query = {0, "method = SUBSCRIBE and status >= 200 and status < 300 | count by day"};
  r.other_codes = {{1003, 4, "User does not exist" + hostile, "User does not exist."}, {2152, 1, "", ""}};
  r.other_codes_query = "diag exists and not diag = 2157 and week 2014-W29 | count by diag";
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `actual` with a golden file; SIPDEX_UPDATE_GOLDEN=1 rewrites it.
void CheckGolden(const std::string& name, const std::string& actual) {
  std::string path = std::string(SIPDEX_SOURCE_DIR) + "/tests/golden/report/" + name;
  if (const char* update = std::getenv("SIPDEX_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
  }
  std::string expected = ReadFile(path);
  INFO("golden file " << path << " (regenerate with SIPDEX_UPDATE_GOLDEN=1)");
  REQUIRE(actual == expected);
}

}  // namespace

TEST_CASE("Rendered reports match their golden files", "[report][golden]") {
  Report r = SampleReport("");
  CheckGolden("sample.md", RenderMarkdown(r));
  CheckGolden("sample.html", RenderHtml(r));
  CheckGolden("sample.json", RenderJson(r));
}

TEST_CASE("A hostile name from the logs shows as text in html and markdown", "[report][escape]") {
  for (std::string hostile : {"\"><script>alert(1)</script>", "<img src=x onerror=alert(1)>"}) {
    Report r = SampleReport(hostile);
    std::string html = RenderHtml(r);
    REQUIRE(html.find("<script") == std::string::npos);
    REQUIRE(html.find("<img") == std::string::npos);
    REQUIRE(html.find("onerror=alert(1)>") == std::string::npos);
    REQUIRE(html.find(EscapeHtml(hostile)) != std::string::npos);
    std::string md = RenderMarkdown(r);
    REQUIRE(md.find("<script") == std::string::npos);
    REQUIRE(md.find("<img") == std::string::npos);
  }
}

TEST_CASE("The html page references nothing outside itself", "[report][html]") {
  std::string html = RenderHtml(SampleReport(""));
  REQUIRE(html.find("<script") == std::string::npos);
  REQUIRE(html.find("src=") == std::string::npos);
  REQUIRE(html.find("<link") == std::string::npos);
  REQUIRE(html.find("url(") == std::string::npos);
  REQUIRE(html.find("@import") == std::string::npos);
  REQUIRE(html.find("<svg") != std::string::npos);
  REQUIRE(html.find("size:A4") != std::string::npos);
}

TEST_CASE("Every figure of the html page links to the query that produced it", "[report][html]") {
  Report r = SampleReport("");
  std::string html = RenderHtml(r);
  for (const Figure* f : {&r.headline.attempts, &r.headline.refused_single, &r.headline.refused_batch,
                          &r.headline.refused_notify, &r.headline.unanswered, &r.headline.apps_affected,
                          &r.headline.users_affected}) {
    INFO(f->query);
    REQUIRE(html.find("<code>" + EscapeHtml(f->query) + "</code>") != std::string::npos);
  }
}

TEST_CASE("Escaping covers the characters that change meaning", "[report][escape]") {
  REQUIRE(EscapeHtml("a&b<c>\"d'") == "a&amp;b&lt;c&gt;&quot;d&#39;");
  REQUIRE(EscapeMarkdown("*x*|[y](z)<b>") == "\\*x\\*\\|\\[y\\](z)&lt;b&gt;");
}

TEST_CASE("The json model carries refusal rates and verdicts", "[report][json]") {
  nlohmann::json j = ToJson(SampleReport(""));
  REQUIRE(j["apps"][0]["verdict"] == "blocked");
  REQUIRE(j["apps"][0]["refusal_rate"].get<double>() == Approx(14.0 / 20.0));
  REQUIRE(j["apps"][1]["verdict"] == "ready");
  REQUIRE(j["headline"]["previous_week"]["attempts"] == 35);
  REQUIRE(j["headline"]["refused_single"]["value"] == 5);
}
