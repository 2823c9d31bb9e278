#include "corpus/model.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "corpus/rng.h"

namespace sipdex::corpus {
namespace {

// A name as displayed (UTF-8) and as it appears in a SIP URI user part.
struct Name {
  std::string_view display;
  std::string_view ascii;
};

constexpr Name kFirstNames[] = {
    {"Alice", "alice"},     {"Bob", "bob"},         {"Carol", "carol"},       {"David", "david"},
    {"Erin", "erin"},       {"Frank", "frank"},     {"Grace", "grace"},       {"Heidi", "heidi"},
    {"Ivan", "ivan"},       {"Judy", "judy"},       {"Mallory", "mallory"},   {"Niaj", "niaj"},
    {"Olivia", "olivia"},   {"Peggy", "peggy"},     {"Rupert", "rupert"},     {"Sybil", "sybil"},
    {"Trent", "trent"},     {"Victor", "victor"},   {"Walter", "walter"},     {"Yusuf", "yusuf"},
    {"José", "jose"},       {"Zoë", "zoe"},         {"Björn", "bjorn"},       {"Łukasz", "lukasz"},
    {"François", "francois"}, {"Søren", "soren"},   {"Ana", "ana"},           {"Chloé", "chloe"},
    {"Dmitri", "dmitri"},   {"Émile", "emile"},     {"Hiroshi", "hiroshi"},   {"Ingrid", "ingrid"},
    {"Kenji", "kenji"},     {"Laura", "laura"},     {"Mohammed", "mohammed"}, {"Nuno", "nuno"},
    {"Priya", "priya"},     {"Siobhán", "siobhan"}, {"Tomasz", "tomasz"},     {"Wei", "wei"},
};
constexpr Name kLastNames[] = {
    {"Smith", "smith"},       {"Jones", "jones"},         {"Garcia", "garcia"},     {"Müller", "muller"},
    {"O'Brien", "obrien"},    {"Nguyen", "nguyen"},       {"Kowalski", "kowalski"}, {"Dubois", "dubois"},
    {"Rossi", "rossi"},       {"Tanaka", "tanaka"},       {"Johansson", "johansson"}, {"Novák", "novak"},
    {"Fernández", "fernandez"}, {"Schmidt", "schmidt"},   {"Brown", "brown"},       {"Wilson", "wilson"},
    {"Khan", "khan"},         {"Silva", "silva"},         {"Andersen", "andersen"}, {"Papadopoulos", "papadopoulos"},
    {"Ivanova", "ivanova"},   {"Okafor", "okafor"},       {"Lefèvre", "lefevre"},   {"Nakamura", "nakamura"},
    {"Wright", "wright"},     {"Clarke", "clarke"},       {"Becker", "becker"},     {"Costa", "costa"},
    {"Lindqvist", "lindqvist"}, {"Horváth", "horvath"},
};
constexpr std::string_view kDomains[] = {
    "contoso.com",       "fabrikam.com",      "litwareinc.com",        "adatum.com",
    "tailspintoys.com",  "wingtiptoys.com",   "northwindtraders.com",  "thoughtstuff.co.uk",
};
struct AppName {
  std::string_view name;
  std::string_view display;
  std::string_view ua;
};
constexpr AppName kApps[] = {
    {"presence-bot", "Presence Bot", "PresenceBot"},   {"ucma-app", "UCMA Application", "UcmaApp"},
    {"callcenter", "Call Center", "ContactCenter"},    {"wallboard", "Wallboard", "Wallboard"},
    {"helpdesk-ivr", "Helpdesk IVR", "HelpdeskIvr"},    {"attendant", "Attendant Console", "Attendant"},
    {"crm-presence", "CRM Presence", "CrmConnector"},  {"status-board", "Status Board", "StatusBoard"},
    {"recorder", "Call Recorder", "Recorder"},         {"notify-svc", "Notification Service", "NotifySvc"},
};

// "é" as one Latin-1 byte instead of UTF-8: some logs carry non-UTF-8 names.
std::string ToLatin1(std::string_view utf8) {
  std::string out;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(utf8[i]);
    if (c == 0xC3 && i + 1 < utf8.size()) {
      out += static_cast<char>(static_cast<unsigned char>(utf8[i + 1]) + 0x40);
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return s;
}

std::string Guid(Rng& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string g;
  std::uint64_t a = rng.Next(), b = rng.Next();
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) g += '-';
    std::uint64_t w = i < 16 ? a : b;
    g += kHex[(w >> ((i % 16) * 4)) & 15];
  }
  return g;
}

}  // namespace

const char* ServerRoleName(ServerRole r) {
  switch (r) {
    case ServerRole::kFrontEnd: return "FrontEnd";
    case ServerRole::kDirector: return "Director";
    case ServerRole::kEdge: return "Edge";
  }
  return "?";
}

Deployment BuildDeployment(std::uint64_t seed, TimeMs start, int days) {
  Rng rng(DeriveSeed(seed, 0x6d6f64656cull));  // "model"
  Deployment d;
  d.start = start;
  d.days = days;

  // Domains: 2-4 distinct, shuffled from the list.
  std::vector<int> order(std::size(kDomains));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.Below(static_cast<std::uint32_t>(i + 1))]);
  int ndomains = rng.Range(2, 4);
  for (int i = 0; i < ndomains; ++i) d.domains.emplace_back(kDomains[order[i]]);

  // Tenants: one or two Office 365 tenants sharing the on-premises domains.
  int ntenants = ndomains >= 3 ? 2 : 1;
  d.tenants.resize(ntenants);
  for (int t = 0; t < ntenants; ++t) d.tenants[t].id = Guid(rng);
  for (int i = 0; i < ndomains; ++i) d.tenants[i % ntenants].domains.push_back(i);

  // Users.
  int nusers = rng.Range(600, 1200);
  d.users.reserve(nusers);
  std::set<std::string> uris;
  for (int i = 0; i < nusers; ++i) {
    const Name& first = kFirstNames[rng.Below(std::size(kFirstNames))];
    const Name& last = kLastNames[rng.Below(std::size(kLastNames))];
    User u;
    u.domain = static_cast<int>(rng.Below(static_cast<std::uint32_t>(ndomains)));
    u.tenant = u.domain % ntenants;
    std::string user_part = std::string(first.ascii) + "." + std::string(last.ascii);
    if (i % 97 == 5) user_part[0] = static_cast<char>(user_part[0] - 32);  // "O365User"-like mixed case
    // Usually "first.last", else with a digit; the index settles any clash (URIs are unique,
    // compared case-insensitively as SIP does for what matters here).
    u.uri = "sip:" + user_part + "@" + d.domains[u.domain];
    if (rng.Chance(0.3) || !uris.insert(Lower(u.uri)).second) {
      u.uri = "sip:" + user_part + std::to_string(i) + "@" + d.domains[u.domain];
      uris.insert(Lower(u.uri));
    }
    int form = static_cast<int>(rng.Below(100));
    std::string display = std::string(first.display) + " " + std::string(last.display);
    if (form < 50) {
      u.display = display;
      u.name_addr = "\"" + display + "\"<" + u.uri + ">";
    } else if (form < 70) {
      u.display = std::string(last.display) + ", " + std::string(first.display);
      u.name_addr = "\"" + u.display + "\" <" + u.uri + ">";
    } else if (form < 75) {
      u.display = ToLatin1(display);
      u.name_addr = "\"" + u.display + "\"<" + u.uri + ">";
    } else {
      u.name_addr = "<" + u.uri + ">";
    }
    double r = rng.Unit();
    if (r < 0.25) {
      u.online_from_day = 0;
    } else if (r < 0.35 && days > 1) {
      u.online_from_day = rng.Range(1, days - 1);
    }
    d.users.push_back(std::move(u));
  }
  // Guarantee both kinds of user exist, whatever the draw.
  d.users[0].online_from_day = 0;
  d.users[1].online_from_day = -1;
  for (int i = 0; i < nusers; ++i) {
    if (d.users[i].online_from_day < 0) d.onprem_users_always.push_back(i);
  }

  // Trusted applications: 3-8, each with a watch list of users from every side.
  int napps = rng.Range(3, 8);
  std::vector<int> app_order(std::size(kApps));
  for (std::size_t i = 0; i < app_order.size(); ++i) app_order[i] = static_cast<int>(i);
  for (std::size_t i = app_order.size() - 1; i > 0; --i) {
    std::swap(app_order[i], app_order[rng.Below(static_cast<std::uint32_t>(i + 1))]);
  }
  for (int a = 0; a < napps; ++a) {
    const AppName& n = kApps[app_order[a]];
    TrustedApp app;
    const std::string& domain = d.domains[a % ndomains];
    app.name = std::string(n.name);
    app.uri = "sip:" + app.name + "@" + domain;
    app.name_addr = "\"" + std::string(n.display) + "\"<" + app.uri + ">";
    app.user_agent = "RTCC/" + std::to_string(rng.Range(3, 6)) + ".0.0.0 " + std::string(n.ua);
    app.host_fqdn = "appsrv" + std::to_string(a + 1) + "." + domain;
    app.contact = "<sip:" + app.host_fqdn + "@" + domain + ";gruu;opaque=srvr:" + app.name + ":" + Guid(rng).substr(0, 8) +
                  ">";
    int watch = std::min(nusers, rng.Range(40, 200));
    for (int w = 0; w < watch; ++w) app.watch_list.push_back(static_cast<int>(rng.Below(static_cast<std::uint32_t>(nusers))));
    app.watch_list.push_back(0);  // always watches an online user
    d.apps.push_back(std::move(app));
  }

  // Servers: a Front End pool, maybe a Director, one or two Edges.
  const std::string& main_domain = d.domains[0];
  auto add_server = [&](std::string name, ServerRole role, double weight, int octet) {
    Server s;
    s.machine = name;
    for (char& c : name) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    s.name = name;
    s.fqdn = s.machine + "." + main_domain;
    s.ip = "10.0." + std::to_string(static_cast<int>(role) + 1) + "." + std::to_string(octet);
    s.role = role;
    s.weight = weight;
    double st = rng.Unit();
    s.style = st < 0.5 ? TraceStyle::kCls : (st < 0.8 ? TraceStyle::kOcsLogger : TraceStyle::kLegacy);
    s.upper_seq = rng.Chance(0.7);
    s.pid = static_cast<std::uint16_t>(rng.Range(0x0400, 0x2FFF));
    for (auto& t : s.tids) t = static_cast<std::uint16_t>(rng.Range(0x0100, 0x4FFF));
    d.servers.push_back(std::move(s));
  };
  int nfe = rng.Range(2, 4);
  for (int i = 1; i <= nfe; ++i) add_server("fe0" + std::to_string(i), ServerRole::kFrontEnd, 1.0, 10 + i);
  if (rng.Chance(0.7)) add_server("dir01", ServerRole::kDirector, 0.4, 21);
  int nedge = rng.Range(1, 2);
  for (int i = 1; i <= nedge; ++i) add_server("edge0" + std::to_string(i), ServerRole::kEdge, 0.6, 30 + i);
  // The first Front End always writes CLS style and the last server the legacy style, so
  // every corpus holds both record shapes.
  d.servers.front().style = TraceStyle::kCls;
  d.servers.back().style = TraceStyle::kLegacy;
  return d;
}

}  // namespace sipdex::corpus
