#include "indexer/parser.h"

#include <catch2/catch.hpp>

#include "tests/indexer/fixture_util.h"

using namespace sipdex;
using sipdex::testing::FrameAndParse;
using sipdex::testing::ParseFixture;

namespace {

std::string T(TimeMs t) { return FormatTime(t); }

void RequireNameAddr(const NameAddr& n, std::string_view display, std::string_view uri, std::string_view user,
                     std::string_view host, std::string_view tag, std::string_view epid) {
  REQUIRE(n.present);
  REQUIRE(n.display == display);
  REQUIRE(n.uri == uri);
  REQUIRE(n.user == user);
  REQUIRE(n.host == host);
  REQUIRE(n.tag == tag);
  REQUIRE(n.epid == epid);
}

}  // namespace

TEST_CASE("Tail shape 1: marker glued to the component, full pseudo-headers and SIP headers", "[indexer][parser]") {
  auto f = ParseFixture("tail_marker_glued.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  const Record& r = *rs[0];
  REQUIRE(r.kind == RecordKind::kProtocol);
  REQUIRE(r.malformed == kMalformedNone);
  REQUIRE(r.line == 1);
  REQUIRE(r.offset == 0);
  REQUIRE(r.level == "INFO");
  REQUIRE(r.flag == "PROTOCOL");
  REQUIRE(r.machine == "0");
  REQUIRE(r.pid == 0x0A1C);
  REQUIRE(r.tid == 0x0F3C);
  REQUIRE(r.has_time);
  REQUIRE(T(r.time) == "2017-03-02T07:10:45.120Z");
  REQUIRE(r.seq == 0x772A);
  REQUIRE(r.component == "SIPStack");
  REQUIRE(r.function == "SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125)");
  REQUIRE(r.tail == "");
  REQUIRE(r.correlation_id == 1436228867);
  REQUIRE(r.instance_id == "00004A1F");
  REQUIRE(r.direction == "incoming");
  REQUIRE(r.direction_params == ";source=\"internal edge\";destination=\"external edge\"");
  REQUIRE(r.peer == "fe01.contoso.com:5061");
  REQUIRE(r.type == MessageType::kRequest);
  REQUIRE(r.start_line == "SUBSCRIBE sip:bob@contoso.com SIP/2.0");
  REQUIRE(r.method == "SUBSCRIBE");
  REQUIRE(r.ruri == "sip:bob@contoso.com");
  REQUIRE(r.status == -1);
  RequireNameAddr(r.from, "Presence Bot", "sip:presence-bot@contoso.com", "presence-bot", "contoso.com", "8c1e2f",
                  "5A3B9D0C11");
  RequireNameAddr(r.to, "", "sip:bob@contoso.com", "bob", "contoso.com", "", "");
  REQUIRE(r.call_id == "3f2a9c81d0e64b1f9a7c55e0b2d4e6f1");
  REQUIRE(r.cseq == 12);
  REQUIRE(r.cseq_method == "SUBSCRIBE");
  REQUIRE(r.event == "presence");
  REQUIRE(r.expires == 3600);
  REQUIRE(r.content_type == "application/pidf+xml");
  REQUIRE(r.user_agent == "RTCC/6.0.0.0 PresenceBot/1.0");
  REQUIRE(r.record_route == std::vector<std::string_view>{"<sip:fe01.contoso.com:5061;transport=tls;lr>",
                                                          "<sip:edge01.contoso.com:5061;transport=tls;lr>",
                                                          "<sip:sipedge01.infra.lync.com:5061;transport=tls;lr>"});
  REQUIRE(r.headers.size() == 20);
  REQUIRE(r.headers[10].name == "Via");
  REQUIRE(r.headers[11].value == "SIP/2.0/TLS 10.0.0.5:5061;branch=z9hG4bK9f8e7d");
  REQUIRE(r.FindHeader("content-length") == "0");
  REQUIRE(r.body == "");
  REQUIRE(r.diagnostics.empty());

  const Record& resp = *rs[1];
  REQUIRE(resp.line == 23);
  REQUIRE(resp.offset == 994);
  REQUIRE(resp.type == MessageType::kResponse);
  REQUIRE(resp.status == 403);
  REQUIRE(resp.reason_phrase == "Forbidden");
  REQUIRE(resp.method == "SUBSCRIBE");
  REQUIRE(resp.to.tag == "77AA01");
  REQUIRE(resp.server_hdr == "RTC/6.0");
  REQUIRE(resp.diagnostics.size() == 1);
  REQUIRE(resp.diagnostics[0].variant == DiagVariant::kMsDiagnostics);
  REQUIRE(resp.diagnostics[0].code == 2157);
  REQUIRE(resp.diagnostics[0].subcode == -1);
  REQUIRE(resp.diagnostics[0].reason ==
          "Source network is not set for a single subscribe request when tenant identifiers of the To and From "
          "users are different");
  REQUIRE(resp.diagnostics[0].source == "sip.contoso.com");
}

TEST_CASE("Tail shape 2 and a diagnostic record: correlation id, machine\\machine, Result-Code split",
          "[indexer][parser]") {
  auto f = ParseFixture("diagnostic_record.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 1);
  const Record& r = *rs[0];
  REQUIRE(r.kind == RecordKind::kDiagnostic);
  REQUIRE(r.malformed == kMalformedNone);
  REQUIRE(r.level == "WARN");
  REQUIRE(r.flag == "DIAG");
  REQUIRE(r.machine == "fe01\\fe01");
  REQUIRE(T(r.time) == "2017-03-02T07:10:46.230Z");
  REQUIRE(r.seq == 0x773E);
  REQUIRE(r.function == "SIPAdminLog::WriteDiagnosticEvent:SIPAdminLog.cpp(830)");
  REQUIRE(r.correlation_id == 987654321);
  REQUIRE(r.tail == "");
  REQUIRE(r.severity == "warning");
  REQUIRE(r.diag_text == "Message was not sent because the domain was not found in DNS SRV");
  REQUIRE(r.result_code == "0xc3e93d6f");
  REQUIRE(r.result_text == "SIPPROXY_E_EPROUTING_MSG_ALLOWED_DOMAIN_NO_SRV_MATCH");
  REQUIRE(r.sip_start_line == "INVITE sip:alice@fabrikam.com SIP/2.0");
  REQUIRE(r.sip_call_id == "7d0e4a31b9c24f0f8a1e2b3c4d5e6f70");
  REQUIRE(r.sip_cseq == "1 INVITE");
  REQUIRE(r.peer == "edge01.contoso.com:5061");
  REQUIRE(r.FindHeader("Data") == "domain=\"fabrikam.com\"");
  REQUIRE(r.method == "");
  REQUIRE(ServerName("diagnostic_record.log", r) == "fe01");
}

TEST_CASE("Tail shape 3: free text with a Result code, one-line records of other flags", "[indexer][parser]") {
  auto f = ParseFixture("tail_free_text.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 3);
  REQUIRE(rs[0]->kind == RecordKind::kOther);
  REQUIRE(rs[0]->flag == "COMPONENT");
  REQUIRE(rs[0]->component == "SIPStack");
  REQUIRE(rs[0]->function == "CSIPRequest::GetNextHopByRouteHeader:SIPRequest.cpp(2440)");
  REQUIRE(rs[0]->tail ==
          "( 00000000012AB340 ) Exit - no next hop for the request Result 0xC3E93C5E(SIPPROXY_E_ROUTING)");
  REQUIRE(rs[0]->result_code == "0xC3E93C5E");
  REQUIRE(rs[0]->result_text == "SIPPROXY_E_ROUTING");
  REQUIRE(rs[0]->malformed == kMalformedNone);
  REQUIRE(rs[1]->level == "VERBOSE");
  REQUIRE(rs[1]->flag == "CONNECTION");
  REQUIRE(rs[1]->tail == "( 000000000099AA10 ) Closing connection to 10.0.0.9:5061");
  REQUIRE(rs[1]->text.find("continued free text") != std::string_view::npos);
  REQUIRE(rs[2]->flag == "SHOW_ALLREQUESTS");
  REQUIRE(rs[2]->tail == "request logged");
  REQUIRE(T(rs[2]->time) == "2014-07-16T10:17:56.999Z");
}

TEST_CASE("Tail shape 4: nothing after the sequence, or an Instance-Id on the header line", "[indexer][parser]") {
  auto f = ParseFixture("tail_none_instance_id.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[0]->kind == RecordKind::kProtocol);
  REQUIRE(rs[0]->instance_id == "");
  REQUIRE(rs[0]->component == "");
  REQUIRE(rs[0]->seq == 0x00534084);
  REQUIRE(rs[0]->method == "NOTIFY");
  REQUIRE(rs[0]->ruri == "sip:ucma-app@contoso.com;transport=tls");
  REQUIRE(rs[0]->FindHeader("subscription-state") == "active;expires=3600");
  REQUIRE(rs[1]->machine == "2");
  REQUIRE(rs[1]->instance_id == "1B54A30");
  REQUIRE(rs[1]->seq == 0x005363bd);
  REQUIRE(rs[1]->status == 200);
  REQUIRE(rs[1]->method == "NOTIFY");
  REQUIRE(rs[1]->malformed == kMalformedNone);
}

TEST_CASE("Machine forms [0], [4] and [machine\\machine]; the server comes from the file name first",
          "[indexer][parser]") {
  auto f = ParseFixture("machine_forms.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 3);
  REQUIRE(rs[0]->machine == "0");
  REQUIRE(rs[1]->machine == "4");
  REQUIRE(rs[2]->machine == "lyncfe01\\lyncfe01");
  REQUIRE(ServerName("machine_forms.log", *rs[0]) == "");
  REQUIRE(ServerName("machine_forms.log", *rs[2]) == "lyncfe01");
  REQUIRE(ServerName("logs/FE01_20140716_1.log", *rs[2]) == "FE01");
  REQUIRE(ServerName("night.zip/POOL_FE02_20140716_12.log", *rs[0]) == "POOL_FE02");
  REQUIRE(ServerName("FE03_20140716_1", *rs[0]) == "FE03");
  REQUIRE(ServerName("FE01_2014071_1.log", *rs[2]) == "lyncfe01");
}

TEST_CASE("The old variant without Start-Line takes the method from CSeq; responses have no status",
          "[indexer][parser]") {
  auto f = ParseFixture("old_variant_no_start_line.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[0]->type == MessageType::kRequest);
  REQUIRE(rs[0]->method == "SUBSCRIBE");
  REQUIRE(rs[0]->ruri == "");
  REQUIRE(rs[0]->start_line == "");
  REQUIRE(rs[0]->direction == "outgoing");
  REQUIRE(rs[1]->type == MessageType::kResponse);
  REQUIRE(rs[1]->status == -1);
  REQUIRE(rs[1]->method == "SUBSCRIBE");
  REQUIRE(rs[1]->to.tag == "bb22");
  REQUIRE(rs[1]->diagnostics.size() == 1);
  REQUIRE(rs[1]->diagnostics[0].code == 2157);
  REQUIRE(rs[1]->diagnostics[0].reason == "Source network is not set");
  REQUIRE(rs[1]->malformed == kMalformedNone);
}

TEST_CASE("UCMA upper-case header names are read like Lync's own", "[indexer][parser]") {
  auto f = ParseFixture("ucma_uppercase.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  RequireNameAddr(rs[0]->from, "UCMA Application", "sip:ucma-app@contoso.com", "ucma-app", "contoso.com",
                  "3337a42636", "732E4388A6");
  RequireNameAddr(rs[0]->to, "", "sip:erin@contoso.com", "erin", "contoso.com", "", "");
  REQUIRE(rs[0]->call_id == "55e99a32b7f940efa49ca37e876645d6");
  REQUIRE(rs[0]->cseq == 9);
  REQUIRE(rs[0]->event == "presence");
  REQUIRE(rs[0]->expires == 600);
  REQUIRE(rs[0]->user_agent == "RTCC/5.0.0.0 MyApp");
  REQUIRE(rs[0]->FindHeader("Content-Length") == "0");
  REQUIRE(rs[0]->headers[3].name == "FROM");
  REQUIRE(rs[0]->headers[4].name == "TO");
  REQUIRE(rs[1]->to.tag == "F00D");
  REQUIRE(rs[1]->cseq_method == "SUBSCRIBE");
  REQUIRE(rs[1]->status == 200);
}

TEST_CASE("Compact header forms are expanded", "[indexer][parser]") {
  auto f = ParseFixture("compact_forms.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 1);
  const Record& r = *rs[0];
  RequireNameAddr(r.from, "Grace", "sip:grace@contoso.com", "grace", "contoso.com", "c1", "c2");
  RequireNameAddr(r.to, "", "sip:frank@contoso.com", "frank", "contoso.com", "", "");
  REQUIRE(r.call_id == "compact-call-1");
  REQUIRE(r.content_type == "text/plain");
  REQUIRE(r.event == "presence");
  REQUIRE(r.FindHeader("m") == "<sip:grace@10.0.0.7:5061;transport=tls>");
  REQUIRE(r.FindHeader("l") == "5");
  REQUIRE(r.body == "hello");
  REQUIRE(r.malformed == kMalformedNone);
}

TEST_CASE("Folded header lines are joined, including a folded ms-diagnostics", "[indexer][parser]") {
  auto f = ParseFixture("folded_headers.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 1);
  const Record& r = *rs[0];
  REQUIRE(r.malformed == kMalformedNone);
  RequireNameAddr(r.from, "Heidi", "sip:heidi@contoso.com", "heidi", "contoso.com", "h1", "");
  REQUIRE(r.FindHeader("From") == "\"Heidi\" <sip:heidi@contoso.com>;tag=h1");
  REQUIRE(r.FindHeader("Via") == "SIP/2.0/TLS 10.0.0.8:5061; branch=z9hG4bKf0");
  REQUIRE(r.diagnostics.size() == 1);
  REQUIRE(r.diagnostics[0].code == 1005);
  REQUIRE(r.diagnostics[0].reason == "Cannot route to destination domain");
  REQUIRE(r.diagnostics[0].source == "edge01.contoso.com");
  REQUIRE(r.status == 480);
  REQUIRE(r.reason_phrase == "Temporarily Unavailable");
  REQUIRE(r.method == "INVITE");
  REQUIRE(r.scratch.size() == 3);
}

TEST_CASE("Repeated headers are all kept; every ms-diagnostics spelling is read", "[indexer][parser]") {
  auto f = ParseFixture("repeated_headers.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 1);
  const Record& r = *rs[0];
  int vias = 0;
  for (const Header& h : r.headers) vias += EqualsIgnoreCase(h.name, "via");
  REQUIRE(vias == 3);
  REQUIRE(r.record_route == std::vector<std::string_view>{"<sip:a.contoso.com;lr>", "<sip:b.contoso.com;lr>"});
  REQUIRE(r.diagnostics.size() == 3);
  REQUIRE(r.diagnostics[0].variant == DiagVariant::kMsDiagnostics);
  REQUIRE(r.diagnostics[0].code == 1008);
  REQUIRE(r.diagnostics[1].variant == DiagVariant::kPublic);
  REQUIRE(r.diagnostics[1].code == 1034);
  REQUIRE(r.diagnostics[1].reason == "Previous hop federated peer did not report diagnostic information");
  REQUIRE(r.diagnostics[1].source == "sip.contoso.com");
  REQUIRE(r.diagnostics[2].variant == DiagVariant::kClient);
  REQUIRE(r.diagnostics[2].code == 52001);
  REQUIRE(r.diagnostics[2].source == "");
  REQUIRE(r.status == 504);
}

TEST_CASE("ms-diagnostics values: case, spaces, sub-codes, unquoted and typographic quotes, missing code",
          "[indexer][parser]") {
  auto f = ParseFixture("diagnostics_spellings.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 1);
  const Record& r = *rs[0];
  REQUIRE(r.malformed == kMalformedDiagnostics);
  REQUIRE(r.diagnostics.size() == 5);
  REQUIRE(r.diagnostics[0].code == 2157);
  REQUIRE(r.diagnostics[0].reason == "Upper-case name");
  REQUIRE(r.diagnostics[0].source == "sip.contoso.com");
  REQUIRE(r.diagnostics[1].code == 2157);
  REQUIRE(r.diagnostics[1].subcode == 1);
  REQUIRE(r.diagnostics[1].reason == "spaces around equals");
  REQUIRE(r.diagnostics[1].source == "spaced.contoso.com");
  REQUIRE(r.diagnostics[2].code == 1003);
  REQUIRE(r.diagnostics[2].reason == "User does not exist");
  REQUIRE(r.diagnostics[2].source == "unquoted.contoso.com");
  REQUIRE(r.diagnostics[3].code == 4005);
  REQUIRE(r.diagnostics[3].reason == "Typographic quotes; with a semicolon");
  REQUIRE(r.diagnostics[3].source == "fancy.contoso.com");
  REQUIRE(r.diagnostics[4].code == -1);
}

TEST_CASE("ParseDiagnosticValue reads a code alone and rejects a value without one", "[indexer][parser]") {
  Diagnostic d;
  REQUIRE(ParseDiagnosticValue("  1034 ", &d));
  REQUIRE(d.code == 1034);
  REQUIRE(d.reason == "");
  REQUIRE(ParseDiagnosticValue("2157;source=\"a;b\";reason=\"x\\\"y\"", &d));
  REQUIRE(d.source == "a;b");
  REQUIRE(d.reason == "x\\\"y");
  REQUIRE_FALSE(ParseDiagnosticValue("", &d));
  REQUIRE(d.code == -1);
  REQUIRE(ParseDiagnosticValue("99999999999999", &d));
  REQUIRE(d.code == 2147483647);
}

TEST_CASE("ParseNameAddr handles bare URIs, ports, non-ASCII names and tel URIs", "[indexer][parser]") {
  NameAddr n;
  ParseNameAddr("sip:bob@contoso.com:5061;tag=abc", &n);
  REQUIRE(n.uri == "sip:bob@contoso.com:5061");
  REQUIRE(n.user == "bob");
  REQUIRE(n.host == "contoso.com");
  REQUIRE(n.tag == "abc");
  ParseNameAddr("\"J\xC3\xBCrgen M\xC3\xBCller\" <sip:jm@contoso.com;transport=tls>;epid=E1;tag=T1", &n);
  REQUIRE(n.display == "J\xC3\xBCrgen M\xC3\xBCller");
  REQUIRE(n.host == "contoso.com");
  REQUIRE(n.epid == "E1");
  REQUIRE(n.tag == "T1");
  ParseNameAddr("<tel:+14255550100>;tag=9", &n);
  REQUIRE(n.user == "+14255550100");
  REQUIRE(n.host == "");
  ParseNameAddr("\"unterminated <sip:x@y", &n);
  REQUIRE(n.present);
  ParseNameAddr("", &n);
  REQUIRE(n.uri == "");
}

TEST_CASE("Multipart rlmi bodies give one resource instance per <instance>", "[indexer][parser]") {
  auto f = ParseFixture("multipart_rlmi.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  const Record& r = *rs[0];
  REQUIRE(r.status == 200);
  REQUIRE(r.method == "SUBSCRIBE");
  REQUIRE(r.content_type == "multipart/related; type=\"application/rlmi+xml\";start=resourceList;boundary=9f3a");
  REQUIRE(r.body.substr(0, 6) == "--9f3a");
  REQUIRE(r.body.substr(r.body.size() - 8) == "--9f3a--");
  REQUIRE(r.resources.size() == 3);
  REQUIRE(r.resources[0].uri == "sip:mallory@contoso.com");
  REQUIRE(r.resources[0].state == "terminated");
  REQUIRE(r.resources[0].reason == "forbidden");
  REQUIRE(r.resources[0].status == 403);
  REQUIRE(r.resources[0].diag == 2157);
  REQUIRE(r.resources[1].uri == "sip:nina@contoso.com");
  REQUIRE(r.resources[1].state == "active");
  REQUIRE(r.resources[1].status == -1);
  REQUIRE(r.resources[2].uri == "sip:oscar@contoso.com");
  REQUIRE(r.resources[2].state == "pending");
  REQUIRE(r.record_route.size() == 1);
  const Record& n = *rs[1];
  REQUIRE(n.method == "NOTIFY");
  REQUIRE(n.resources.size() == 1);
  REQUIRE(n.resources[0].uri == "sip:oscar@contoso.com");
  REQUIRE(n.resources[0].diag == 2157);
  REQUIRE(n.body.substr(0, 5) == "<list");
}

TEST_CASE("A batch subscribe body is kept but its list members are not resource instances", "[indexer][parser]") {
  auto f = ParseFixture("batch_subscribe.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 1);
  REQUIRE(rs[0]->content_type == "application/msrtc-adrl-categorylist+xml");
  REQUIRE(rs[0]->resources.empty());
  REQUIRE(rs[0]->body.substr(0, 9) == "<batchSub");
  REQUIRE(rs[0]->body.substr(rs[0]->body.size() - 11) == "</batchSub>");
  REQUIRE(rs[0]->malformed == kMalformedNone);
}

TEST_CASE("CRLF and LF files parse to the same values", "[indexer][parser]") {
  auto lf = ParseFixture("tail_none_instance_id.log");
  auto crlf = ParseFixture("crlf.log");
  REQUIRE(crlf->records.size() == lf->records.size());
  for (std::size_t i = 0; i < lf->records.size(); ++i) {
    const Record& a = lf->records[i];
    const Record& b = crlf->records[i];
    REQUIRE(a.line == b.line);
    REQUIRE(a.malformed == b.malformed);
    REQUIRE(b.text.size() > a.text.size());
    REQUIRE(a.instance_id == b.instance_id);
    REQUIRE(a.method == b.method);
    REQUIRE(a.ruri == b.ruri);
    REQUIRE(a.from.uri == b.from.uri);
    REQUIRE(a.to.tag == b.to.tag);
    REQUIRE(a.call_id == b.call_id);
    REQUIRE(a.headers.size() == b.headers.size());
    for (std::size_t h = 0; h < a.headers.size(); ++h) REQUIRE(a.headers[h].value == b.headers[h].value);
  }
  REQUIRE(crlf->records[1].offset == lf->records[1].offset + 12);  // one CR per line of the first record
}

TEST_CASE("The seed's two records parse to the refused batched subscription", "[indexer][parser][seed]") {
  auto f = ParseFixture("seed_records.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  const Record& req = *rs[0];
  REQUIRE(req.kind == RecordKind::kProtocol);
  REQUIRE(req.malformed == kMalformedNone);
  REQUIRE(req.machine == "4");
  REQUIRE(req.pid == 0x2078);
  REQUIRE(req.tid == 0x379C);
  REQUIRE(T(req.time) == "2014-07-16T10:17:57.003Z");
  REQUIRE(req.type == MessageType::kRequest);
  REQUIRE(req.method == "SUBSCRIBE");
  REQUIRE(req.direction == "incoming");
  RequireNameAddr(req.from, "UCMA Application", "sip:ucma-app@thoughtstuff.co.uk", "ucma-app", "thoughtstuff.co.uk",
                  "3337a42636", "732E4388A6");
  RequireNameAddr(req.to, "", "sip:O365User@thoughtstuff.co.uk", "O365User", "thoughtstuff.co.uk", "", "");
  REQUIRE(req.call_id == "55e99a32b7f940efa49ca37e876645d6");
  REQUIRE(req.cseq == 9);
  REQUIRE(req.content_type == "application/msrtc-adrl-categorylist+xml");
  REQUIRE(req.body.substr(0, 9) == "<batchSub");
  REQUIRE(req.resources.empty());

  const Record& resp = *rs[1];
  REQUIRE(resp.line == 16);
  REQUIRE(resp.machine == "2");
  REQUIRE(resp.instance_id == "1B54A30");
  REQUIRE(resp.seq == 0x005363bd);
  REQUIRE(T(resp.time) == "2014-07-16T10:17:57.137Z");
  REQUIRE(resp.type == MessageType::kResponse);
  REQUIRE(resp.status == -1);
  REQUIRE(resp.method == "SUBSCRIBE");
  REQUIRE(resp.to.tag == "AC5C0080");
  REQUIRE(resp.record_route ==
          std::vector<std::string_view>{"<sip:sipedgeSN20B.infra.lync.com:5061;transport=tls;opaque=state:Si:Ifi;lr>"});
  REQUIRE(resp.resources.size() == 1);
  REQUIRE(resp.resources[0].uri == "sip:O365User@thoughtstuff.co.uk");
  REQUIRE(resp.resources[0].state == "terminated");
  REQUIRE(resp.resources[0].reason == "forbidden");
  REQUIRE(resp.resources[0].status == 403);
  REQUIRE(resp.resources[0].diag == 2157);
  REQUIRE(resp.malformed == kMalformedNone);
}

TEST_CASE("Several searches appended: each record keeps its own machine and time", "[indexer][parser]") {
  auto f = ParseFixture("several_searches.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 3);
  REQUIRE(rs[0]->offset == 3);
  REQUIRE(ServerName("several_searches.log", *rs[0]) == "fe01");
  REQUIRE(ServerName("several_searches.log", *rs[1]) == "fe02");
  REQUIRE(T(rs[1]->time) == "2017-03-02T07:00:00.000Z");
  REQUIRE(rs[1]->time < rs[0]->time);
  REQUIRE(rs[2]->call_id == "s3");
  for (const Record* r : rs) REQUIRE(r->malformed == kMalformedNone);
}

// ---------------------------------------------------------------------------
// Bad input

TEST_CASE("A record cut at end of file keeps what it has and is flagged truncated", "[indexer][parser][bad]") {
  auto f = ParseFixture("bad_truncated.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[1]->line == 8);
  REQUIRE(rs[1]->malformed == kMalformedTruncated);
  REQUIRE(rs[1]->method == "INVITE");
  REQUIRE(rs[1]->call_id == "cut1");
  REQUIRE(rs[1]->body == "v=0\no=- 0 0 IN IP4 10.0.0.1");
}

TEST_CASE("A garbled header line is its own record, flagged, with its SIP fields still read",
          "[indexer][parser][bad]") {
  auto f = ParseFixture("bad_header_line.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 3);
  REQUIRE(rs[1]->line == 8);
  REQUIRE(rs[1]->malformed == kMalformedHeaderLine);
  REQUIRE_FALSE(rs[1]->has_time);
  REQUIRE(rs[1]->call_id == "garbled1");
  REQUIRE(rs[2]->call_id == "s4");
  REQUIRE(rs[2]->malformed == kMalformedNone);
}

TEST_CASE("Garbled SIP lines and a bad status line are flagged sip-line", "[indexer][parser][bad]") {
  auto f = ParseFixture("bad_sip_line.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[0]->malformed == kMalformedSipLine);
  REQUIRE(rs[0]->to.uri == "sip:pat@contoso.com");
  REQUIRE(rs[0]->call_id == "badsip-1");
  REQUIRE(rs[1]->line == 12);
  REQUIRE(rs[1]->malformed == kMalformedSipLine);
  REQUIRE(rs[1]->status == -1);
  REQUIRE(rs[1]->type == MessageType::kResponse);
  REQUIRE(rs[1]->method == "SUBSCRIBE");
}

TEST_CASE("Binary junk is a junk span and a NUL inside a record flags it binary", "[indexer][parser][bad]") {
  auto f = ParseFixture("bad_binary_junk.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 3);
  REQUIRE(rs[1]->kind == RecordKind::kJunk);
  REQUIRE(rs[1]->line == 8);
  REQUIRE(rs[1]->malformed == kMalformedJunk);
  REQUIRE(rs[2]->line == 11);
  REQUIRE(rs[2]->malformed == kMalformedBinary);
  REQUIRE(rs[2]->body == std::string_view("hi\0there", 8));
  REQUIRE(rs[2]->call_id == "nul-1");
}

TEST_CASE("Impossible dates and times are flagged time and leave has_time false", "[indexer][parser][bad]") {
  auto f = ParseFixture("bad_impossible_date.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[0]->malformed == kMalformedTime);
  REQUIRE_FALSE(rs[0]->has_time);
  REQUIRE(rs[0]->seq == 0x00534120);
  REQUIRE(rs[0]->call_id == "date-1");
  REQUIRE(rs[1]->line == 8);
  REQUIRE(rs[1]->malformed == kMalformedTime);
  REQUIRE_FALSE(rs[1]->has_time);
}

TEST_CASE("ParseBatch gives records without a readable time the previous record's time", "[indexer][parser][bad]") {
  std::string bytes = sipdex::testing::ReadFixture("machine_forms.log") +
                      sipdex::testing::ReadFixture("bad_impossible_date.log");
  auto f = FrameAndParse(bytes);
  REQUIRE(f->batches.size() == 1);
  Record r;
  TimeMs carry = 0;
  std::vector<std::pair<std::string, TimeMs>> seen;
  ParseBatch(f->batches[0], &r, &carry,
             [&](const Record& rec) { seen.emplace_back(std::string(rec.call_id), rec.time); });
  REQUIRE(seen.size() == 5);
  REQUIRE(seen[3].first == "date-1");
  REQUIRE(T(seen[3].second) == "2014-07-16T10:00:00.002Z");
  REQUIRE(T(seen[4].second) == "2014-07-16T10:00:00.002Z");
  REQUIRE(T(carry) == "2014-07-16T10:00:00.002Z");
}

TEST_CASE("An empty file has no record", "[indexer][parser][bad]") {
  auto f = ParseFixture("empty.log");
  REQUIRE(f->records.empty());
}

TEST_CASE("A 1 MB body line is kept whole, flagged long-line, and still yields its resources",
          "[indexer][parser][bad]") {
  auto f = ParseFixture("long_line.log.gz");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[0]->malformed == kMalformedLongLine);
  REQUIRE(rs[0]->body.size() == (1u << 20));
  REQUIRE(rs[0]->method == "NOTIFY");
  REQUIRE(rs[0]->resources.size() == 11773);
  REQUIRE(rs[0]->resources[11772].uri == "sip:user11772@contoso.com");
  REQUIRE(rs[1]->line == 10);
  REQUIRE(rs[1]->malformed == kMalformedNone);
}

TEST_CASE("Look-alike records are foreign: located and flagged, never parsed", "[indexer][parser][bad]") {
  auto f = ParseFixture("lookalike_foreign.log");
  auto rs = f->Visible();
  REQUIRE(rs.size() == 3);
  REQUIRE(rs[0]->kind == RecordKind::kForeign);
  REQUIRE(rs[0]->malformed == kMalformedForeign);
  REQUIRE(rs[0]->call_id == "");
  REQUIRE(rs[0]->start_line == "");
  REQUIRE(rs[1]->kind == RecordKind::kForeign);
  REQUIRE(rs[1]->line == 6);
  REQUIRE(rs[2]->kind == RecordKind::kProtocol);
  REQUIRE(rs[2]->line == 10);
}

TEST_CASE("Every view of a parsed record points into its text or its scratch", "[indexer][parser]") {
  for (const char* name : {"folded_headers.log", "multipart_rlmi.log", "diagnostics_spellings.log", "seed_report.txt"}) {
    auto f = ParseFixture(name);
    for (const Record& r : f->records) {
      auto inside = [&](std::string_view v) {
        if (v.empty()) return true;
        if (v.data() >= r.text.data() && v.data() + v.size() <= r.text.data() + r.text.size()) return true;
        for (const std::string& s : r.scratch) {
          if (v.data() >= s.data() && v.data() + v.size() <= s.data() + s.size()) return true;
        }
        return false;
      };
      for (const Header& h : r.headers) {
        REQUIRE(inside(h.name));
        REQUIRE(inside(h.value));
      }
      REQUIRE(inside(r.from.uri));
      REQUIRE(inside(r.from.display));
      REQUIRE(inside(r.body));
      for (const Diagnostic& d : r.diagnostics) REQUIRE(inside(d.reason));
    }
  }
}

namespace {

// Every field of a record as text, to compare two parses.
std::string Dump(const Record& r) {
  std::string o;
  auto add = [&](std::string_view k, std::string_view v) {
    o += k;
    o += '=';
    o += v;
    o += '\n';
  };
  auto num = [&](std::string_view k, std::int64_t v) { add(k, std::to_string(v)); };
  num("kind", static_cast<int>(r.kind));
  num("malformed", r.malformed);
  num("offset", static_cast<std::int64_t>(r.offset));
  num("line", r.line);
  add("text", r.text);
  for (std::string_view v : {r.level, r.flag, r.machine, r.component, r.function, r.tail, r.instance_id, r.direction,
                             r.direction_params, r.peer, r.start_line, r.method, r.ruri, r.reason_phrase, r.call_id,
                             r.cseq_method, r.event, r.content_type, r.user_agent, r.server_hdr, r.body, r.severity,
                             r.diag_text, r.result_code, r.result_text, r.sip_start_line, r.sip_call_id, r.sip_cseq}) {
    add("s", v);
  }
  for (std::int64_t v : {std::int64_t{r.pid}, std::int64_t{r.tid}, r.time, std::int64_t{r.has_time},
                         std::int64_t{r.seq}, r.correlation_id, std::int64_t{static_cast<int>(r.type)},
                         std::int64_t{r.status}, r.cseq, r.expires}) {
    num("n", v);
  }
  for (const NameAddr* n : {&r.from, &r.to}) {
    num("present", n->present);
    for (std::string_view v : {n->display, n->uri, n->user, n->host, n->tag, n->epid}) add("na", v);
  }
  for (std::string_view v : r.record_route) add("rr", v);
  for (const Header& h : r.headers) add(h.name, h.value);
  for (const Diagnostic& d : r.diagnostics) {
    num("diag", d.code);
    num("sub", d.subcode);
    num("variant", static_cast<int>(d.variant));
    add("reason", d.reason);
    add("source", d.source);
  }
  for (const ResourceInstance& ri : r.resources) {
    add("res", ri.uri);
    add("state", ri.state);
    add("reason", ri.reason);
    num("status", ri.status);
    num("diag", ri.diag);
  }
  return o;
}

}  // namespace

TEST_CASE("A reused Record parses every fixture exactly like a fresh one", "[indexer][parser]") {
  Record reused;
  for (const char* name : {"folded_headers.log", "multipart_rlmi.log", "diagnostic_record.log", "tail_free_text.log",
                           "diagnostics_spellings.log", "seed_report.txt", "repeated_headers.log", "bad_binary_junk.log",
                           "lookalike_foreign.log", "tail_marker_glued.log", "bad_impossible_date.log"}) {
    INFO(name);
    auto f = ParseFixture(name);
    std::size_t k = 0;
    for (const RecordBatch& b : f->batches) {
      for (std::size_t i = 0; i < b.spans.size(); ++i, ++k) {
        ParseRecord(b.Text(i), b.spans[i], &reused);
        REQUIRE(Dump(reused) == Dump(f->records[k]));
      }
    }
  }
}
