#include "query/evaluator.h"

#include <catch2/catch.hpp>

#include "tests/query/fixture_records.h"

using namespace sipdex;
using namespace sipdex::query;

namespace {

// A SUBSCRIBE request and its refusal, built by hand.
struct HandRecords {
  Record request;
  Record response;
  HandRecords() {
    request.kind = RecordKind::kProtocol;
    request.type = MessageType::kRequest;
    request.method = "SUBSCRIBE";
    request.cseq = 9;
    request.cseq_method = "SUBSCRIBE";
    request.call_id = "55e99a32b7f940efa49ca37e876645d6";
    request.from = NameAddr{"UCMA Application",
                            "sip:ucma-app@ThoughtStuff.co.uk",
                            "ucma-app",
                            "ThoughtStuff.co.uk",
                            "3337a42636",
                            "732E4388A6",
                            true};
    request.to = NameAddr{"", "sip:O365User@thoughtstuff.co.uk", "O365User", "thoughtstuff.co.uk", "", "", true};
    request.headers = {{"FROM", "\"UCMA Application\"<sip:ucma-app@thoughtstuff.co.uk>"},
                       {"CONTENT-TYPE", "application/msrtc-adrl-categorylist+xml"}};
    request.time = *ParseIsoTime("2014-07-16T10:17:57.003Z");
    request.has_time = true;
    request.text = "TL_INFO(TF_PROTOCOL) [4]2078.379C::07/16/2014-10:17:57.003.00534084\nDirection: incoming\n";

    response.kind = RecordKind::kProtocol;
    response.type = MessageType::kResponse;
    response.method = "SUBSCRIBE";
    response.status = 403;
    response.cseq = 9;
    response.cseq_method = "SUBSCRIBE";
    response.call_id = request.call_id;
    response.diagnostics = {{DiagVariant::kMsDiagnostics, 2157, -1, "Source network is not set", "sip.contoso.com"},
                            {DiagVariant::kPublic, 1003, -1, "", ""}};
    response.resources = {{"sip:a@contoso.com", "active", "", -1, -1},
                          {"sip:b@contoso.com", "terminated", "forbidden", 403, 2157},
                          {"sip:c@contoso.com", "terminated", "forbidden", 403, 2157}};
    response.headers = {{"ms-diagnostics", "2157;reason=\"x\""},
                        {"Record-Route", "<sip:a.infra.lync.com>"},
                        {"Record-Route", "<sip:b.contoso.com>"}};
    response.record_route = {"<sip:a.infra.lync.com>", "<sip:b.contoso.com>"};
    response.time = request.time + 134;
    response.has_time = true;
  }
};

class FixedResponse : public ResponseLookup {
 public:
  explicit FixedResponse(const Record* r) : r_(r) {}
  const Record* FinalResponse(const Record& request) override {
    return request.type == MessageType::kRequest ? r_ : nullptr;
  }

 private:
  const Record* r_;
};

bool Matches(std::string_view query, const Record& r, ResponseLookup* responses = nullptr,
             std::vector<int>* instances = nullptr) {
  Result<BoundQuery> q = ParseAndBind(query, BindOptions());
  INFO(query << " -> " << q.status().message());
  REQUIRE(q.ok());
  Evaluator ev(responses);
  std::vector<int> local;
  return ev.Match(*q, RowInput{&r, "FE01_20140716_1.log", "FE01"}, instances ? instances : &local);
}

}  // namespace

TEST_CASE("Methods, hosts and header names compare ignoring case", "[query][evaluator]") {
  HandRecords h;
  CHECK(Matches("method = subscribe", h.request));
  CHECK(Matches("from.host = thoughtstuff.co.uk", h.request));
  CHECK_FALSE(Matches("from.user = UCMA-APP", h.request));
  CHECK(Matches("header.content-type = application/msrtc-adrl-categorylist+xml", h.request));
  CHECK(Matches("header.\"Content-Type\" exists", h.request));
  CHECK_FALSE(Matches("header.Via exists", h.request));
}

TEST_CASE("URIs compare with scheme and host ignoring case and the user part exact", "[query][evaluator]") {
  HandRecords h;
  CHECK(Matches("from = SIP:ucma-app@thoughtstuff.CO.UK", h.request));
  CHECK(Matches("from.uri = ucma-app@thoughtstuff.co.uk", h.request));
  CHECK_FALSE(Matches("from = sip:UCMA-app@thoughtstuff.co.uk", h.request));
  CHECK(Matches("to = \"<sip:O365User@thoughtstuff.co.uk>\"", h.request));
  CHECK(UriEquals("<sip:Bob@Contoso.COM;transport=tls>", NormalizeUri("sip:Bob@contoso.com;transport=tls")));
  CHECK_FALSE(UriEquals("sip:Bob@Contoso.COM;transport=TLS", NormalizeUri("sip:Bob@contoso.com;transport=tls")));
}

TEST_CASE("Glob is case-insensitive, regex is RE2, contains is a substring", "[query][evaluator]") {
  HandRecords h;
  CHECK(Matches("to ~ \"*@THOUGHTSTUFF.*\"", h.request));
  CHECK(Matches("from.name ~ ucma?application", h.request));
  CHECK_FALSE(Matches("to ~ \"*@contoso.com\"", h.request));
  CHECK(Matches("call_id =~ \"^55e9[0-9a-f]+$\"", h.request));
  CHECK_FALSE(Matches("call_id =~ \"^55E9\"", h.request));
  CHECK(Matches("text contains \"Direction: incoming\"", h.request));
  CHECK_FALSE(Matches("text contains \"direction: incoming\"", h.request));
  CHECK(Matches("status ~ 4*", h.response));
  CHECK(Matches("record_route contains infra.lync.com", h.response));
}

TEST_CASE("A multi-valued diag matches when any entry does", "[query][evaluator]") {
  HandRecords h;
  CHECK(Matches("diag = 2157", h.response));
  CHECK(Matches("diag = 1003", h.response));
  CHECK(Matches("diag in (1, 1003)", h.response));
  CHECK_FALSE(Matches("diag != 1003", h.response));
  CHECK(Matches("diag != 9999", h.response));
  CHECK(Matches("diag.reason contains network", h.response));
  CHECK(Matches("diag > 2000 and diag < 2000", h.response));
  CHECK_FALSE(Matches("diag exists", h.request));
  CHECK(Matches("not diag exists", h.request));
}

TEST_CASE("Absent fields make comparisons false and != true", "[query][evaluator]") {
  HandRecords h;
  CHECK_FALSE(Matches("status = 403", h.request));
  CHECK_FALSE(Matches("status >= 0", h.request));
  CHECK(Matches("status != 403", h.request));
  CHECK_FALSE(Matches("status exists", h.request));
  CHECK(Matches("status exists", h.response));
}

TEST_CASE("Resource predicates match per instance and yield one row per matching instance", "[query][evaluator]") {
  HandRecords h;
  std::vector<int> rows;
  REQUIRE(Matches("resource.diag = 2157", h.response, nullptr, &rows));
  CHECK(rows == std::vector<int>{1, 2});
  REQUIRE(Matches("resource.state = ACTIVE", h.response, nullptr, &rows));
  CHECK(rows == std::vector<int>{0});
  // Both conditions must hold on the same instance.
  CHECK_FALSE(Matches("resource.uri = sip:a@contoso.com and resource.diag = 2157", h.response));
  REQUIRE(Matches("resource.uri = sip:b@contoso.com and resource.diag = 2157 and status = 403", h.response, nullptr,
                  &rows));
  CHECK(rows == std::vector<int>{1});
  REQUIRE(Matches("not resource.diag = 2157", h.response, nullptr, &rows));
  CHECK(rows == std::vector<int>{0});
  CHECK_FALSE(Matches("resource.diag = 2157", h.request));
  REQUIRE(Matches("not resource exists", h.request, nullptr, &rows));
  CHECK(rows == std::vector<int>{-1});
}

TEST_CASE("response.FIELD reads the paired final response", "[query][evaluator]") {
  HandRecords h;
  FixedResponse found(&h.response);
  FixedResponse none(nullptr);
  CHECK(Matches("method = SUBSCRIBE and response.status = 403", h.request, &found));
  CHECK(Matches("response.diag = 2157 and response exists", h.request, &found));
  CHECK_FALSE(Matches("response.status = 200", h.request, &found));
  CHECK_FALSE(Matches("response exists", h.request, &none));
  CHECK(Matches("not response exists", h.request, &none));
  CHECK_FALSE(Matches("response exists", h.response, &found));
}

TEST_CASE("Time scopes, kind, server, file and malformed are readable", "[query][evaluator]") {
  HandRecords h;
  CHECK(Matches("on 2014-07-16", h.request));
  CHECK_FALSE(Matches("on 2014-07-17", h.request));
  CHECK(Matches("since 2014-07-16T10:17:57.003Z until 2014-07-16T10:17:57.004Z", h.request));
  CHECK_FALSE(Matches("since 2014-07-16T10:17:57.004Z", h.request));
  CHECK(Matches("week 2014-W29", h.request));
  CHECK(Matches("time >= 2014-07-16T10:17:57 and time < 2014-07-16T10:17:58", h.request));
  CHECK(Matches("kind = PROTOCOL and server = fe01 and file ~ \"fe01_*\"", h.request));
  CHECK(Matches("malformed = false", h.request));
  h.request.malformed = kMalformedTruncated;
  CHECK(Matches("malformed = true", h.request));
}

TEST_CASE("Queries match the fixture records the indexer parses", "[query][evaluator][fixtures]") {
  testing::FixtureRecords seed;
  testing::LoadFixture("seed_records.log", &seed);
  REQUIRE(seed.records.size() == 2);
  CHECK(
      Matches("method = SUBSCRIBE and type = request and from.uri = sip:ucma-app@thoughtstuff.co.uk", seed.records[0]));
  CHECK(Matches("content_type = application/msrtc-adrl-categorylist+xml", seed.records[0]));
  CHECK(Matches("header.cseq = \"9 SUBSCRIBE\" and call_id = 55e99a32b7f940efa49ca37e876645d6", seed.records[0]));
  std::vector<int> rows;
  REQUIRE(Matches("type = response and resource.diag = 2157", seed.records[1], nullptr, &rows));
  CHECK(rows == std::vector<int>{0});
  CHECK(Matches("resource.uri = sip:O365User@thoughtstuff.co.uk and resource.reason = forbidden", seed.records[1]));
  CHECK(Matches("record_route ~ \"*.infra.lync.com*\" and instance_id = 1b54a30", seed.records[1]));
  CHECK_FALSE(Matches("status exists", seed.records[1]));

  testing::FixtureRecords batch;
  testing::LoadFixture("multipart_rlmi.log", &batch);
  REQUIRE(batch.records.size() >= 2);
  REQUIRE(Matches("resource.diag = 2157", batch.records[0], nullptr, &rows));
  CHECK(rows == std::vector<int>{0});
  REQUIRE(Matches("resource.state in (active, pending)", batch.records[0], nullptr, &rows));
  CHECK(rows == std::vector<int>{1, 2});
  CHECK(Matches("method = NOTIFY and resource.uri = sip:oscar@contoso.com and resource.diag = 2157", batch.records[1]));
}
