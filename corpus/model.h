#pragma once
// The simulated hybrid deployment behind a generated corpus: SIP domains,
// Office 365 tenants sharing them, users homed on premises or online (some
// moving online during the period), trusted applications (UCMA application
// endpoints) and the Front End / Director / Edge servers that write traces.
// Everything is derived from the seed alone, so every worker thread builds
// the same model.

#include <cstdint>
#include <string>
#include <vector>

#include "common/time.h"

namespace sipdex::corpus {

struct Tenant {
  std::string id;                  // GUID, lower case
  std::vector<int> domains;        // indexes into Deployment::domains
};

struct User {
  std::string uri;                 // "sip:jose.garcia@contoso.com"
  std::string display;             // as written in From/To (UTF-8, sometimes Latin-1), "" for none
  std::string name_addr;           // "\"Garcia, José\"<sip:jose.garcia@contoso.com>" (no tag/epid)
  int domain = 0;
  int tenant = 0;
  // Day index (0 = first day) from which the user is homed on Office 365;
  // -1: on premises for the whole period.
  int online_from_day = -1;
  bool OnlineOn(int day) const { return online_from_day >= 0 && day >= online_from_day; }
};

struct TrustedApp {
  std::string name;                // "presence-bot"
  std::string uri;                 // "sip:presence-bot@contoso.com"
  std::string name_addr;           // "\"Presence Bot\"<sip:presence-bot@contoso.com>"
  std::string user_agent;          // "RTCC/5.0.0.0 PresenceBot"
  std::string contact;             // application endpoint GRUU contact
  std::string host_fqdn;           // the application server
  std::vector<int> watch_list;     // users it subscribes to (indexes into Deployment::users)
};

enum class ServerRole : std::uint8_t { kFrontEnd, kDirector, kEdge };

// How a server writes its traces (one style per server; files of other
// servers and appended searches mix them).
enum class TraceStyle : std::uint8_t {
  kCls,       // [fe01\fe01] machine, Start-Line and all pseudo-headers (Skype for Business 2015 CLS)
  kOcsLogger, // [0]..[3], Start-Line and all pseudo-headers (Lync 2013)
  kLegacy,    // [4], only Direction and Message-Type (older logs, as in the seed)
};

struct Server {
  std::string name;                // "FE01": file name prefix
  std::string machine;             // "fe01"
  std::string fqdn;                // "fe01.contoso.com"
  std::string ip;                  // "10.0.1.11"
  ServerRole role = ServerRole::kFrontEnd;
  TraceStyle style = TraceStyle::kCls;
  bool upper_seq = true;           // SEQ in upper-case hex
  std::uint16_t pid = 0;
  std::uint16_t tids[8] = {};
  double weight = 1.0;             // share of traffic
};

struct Deployment {
  std::vector<std::string> domains;
  std::vector<Tenant> tenants;
  std::vector<User> users;
  std::vector<TrustedApp> apps;
  std::vector<Server> servers;
  std::vector<int> onprem_users_always;  // users never online
  TimeMs start = 0;                      // 00:00 UTC of the first day
  int days = 7;
};

// Builds the deployment for a seed. REQUIRES: days >= 1.
Deployment BuildDeployment(std::uint64_t seed, TimeMs start, int days);

const char* ServerRoleName(ServerRole r);  // "FrontEnd", "Director", "Edge"

}  // namespace sipdex::corpus
