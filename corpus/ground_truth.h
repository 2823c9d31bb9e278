#pragma once
// The ground truth of a generated corpus: every count a parser or a query
// should reproduce, accumulated while generating (never by re-parsing).
// Definitions are in corpus/README.md; they use the shared record model's
// names (storage/record.h: RecordKindName, MalformedBitName; the method of a
// response is its CSeq method).

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/time.h"
#include "storage/record.h"

namespace sipdex::corpus {

struct Deployment;

// SIP methods the generator writes.
enum Method : std::uint8_t {
  kRegister, kInvite, kAck, kBye, kCancel, kMessage, kInfo, kOptions, kService, kNotify, kBenotify, kSubscribe,
  kMethodCount,
};
const char* MethodName(Method m);

// rlmi resource instances written, by state/statusCode/msDiagCode (the
// "state/status/diag" keys of `sipdex inspect`).
enum ResourceShape : std::uint8_t { kResActive, kResPending, kResRefused, kResNotFound, kResourceShapeCount };
const char* ResourceShapeKey(ResourceShape s);  // "active/-/-", "pending/-/-", "terminated/403/2157", "terminated/404/1003"

enum class RefusalKind : std::uint8_t { kSingle = 0, kBatch = 1, kNotify = 2 };

struct RefusalCounts {
  std::uint64_t single = 0;
  std::uint64_t batch = 0;
  std::uint64_t notify = 0;
  std::uint64_t Total() const { return single + batch + notify; }
  void Add(RefusalKind k, std::uint64_t n = 1);
  RefusalCounts& operator+=(const RefusalCounts& o);
  friend bool operator==(const RefusalCounts&, const RefusalCounts&) = default;
};

// Per trusted application: what it attempted.
struct AppCounts {
  std::uint64_t single_subscribes = 0;  // single SUBSCRIBE requests (no batch body)
  std::uint64_t batch_subscribes = 0;   // SUBSCRIBE requests with an msrtc-adrl-categorylist body
  std::uint64_t batch_resources = 0;    // resources listed in those batch bodies
  AppCounts& operator+=(const AppCounts& o);
};

struct FileTruth {
  std::string name;              // file name inside the output folder ("FE01_20140716_1.log", "..._2.log.gz")
  std::string server;            // "FE01" ("" for the foreign look-alike file)
  std::uint64_t bytes = 0;       // decompressed bytes
  std::uint64_t stored_bytes = 0;  // bytes on disk
  std::uint64_t records = 0;     // framed records (every kind)
  bool gz = false;
  bool crlf = false;
  bool bom = false;
};

struct BadRecord {
  std::string file;
  std::uint64_t line = 0;        // 1-based line of the record's first line (0 for an empty file)
  std::uint32_t bits = 0;        // MalformedBit set
};

// One refusal as it was written: the exact header time of its record.
struct RefusalEvent {
  TimeMs time = 0;
  int app = 0;   // index into Deployment::apps
  int user = 0;  // index into Deployment::users
  RefusalKind kind = RefusalKind::kSingle;
};

// One successful subscription of a user endpoint to an online user (a single
// SUBSCRIBE's response, or one active instance of a batch response).
struct UserEndpointSuccess {
  TimeMs time = 0;
  int user = 0;
};

// "The same application refused for the same user again within W": two
// consecutive refusals (any kind) of one (application, user) pair at most W
// apart.
struct RefusalRepeat {
  int app = 0;
  int user = 0;
  TimeMs first = 0;
  TimeMs second = 0;
};

// "A user refused to an application but subscribed successfully by a user
// endpoint within W": the first user-endpoint success of the user that comes
// at most W after the user's latest refusal before it (ties: the refusal first).
struct WorkaroundUser {
  int user = 0;
  TimeMs refusal = 0;
  TimeMs success = 0;
};

struct GroundTruth {
  std::vector<FileTruth> files;
  std::array<std::uint64_t, kRecordKindCount> records_by_kind{};
  std::array<std::uint64_t, kMethodCount> requests_by_method{};
  std::array<std::uint64_t, kMethodCount> responses_by_method{};
  std::array<std::uint64_t, 700> responses_by_status{};  // index = status code
  std::uint64_t responses_without_status = 0;             // responses with no status line (old variant)
  std::map<int, std::uint64_t> diag_codes;                // code -> protocol records carrying it
  std::array<std::uint64_t, kResourceShapeCount> resource_instances{};
  std::vector<BadRecord> bad_records;
  TimeMs first_time = 0;
  TimeMs last_time = 0;
  bool has_time = false;

  std::map<int, RefusalCounts> refusals_by_day;           // day index from the start date
  std::map<int, RefusalCounts> refusals_by_app;           // index into Deployment::apps
  std::map<int, RefusalCounts> refusals_by_user;          // index into Deployment::users
  std::set<std::pair<int, int>> refused_pairs;            // (app, user)
  std::vector<std::string> stuck_call_ids;                // SUBSCRIBEs with no response at all
  std::vector<std::string> statusless_call_ids;           // answered only by responses without a status line
  std::map<int, std::uint64_t> user_endpoint_successes_by_day;
  std::map<int, AppCounts> app_counts;
  // Sequences (corpus/README.md, "sequences"): events in write order.
  std::vector<RefusalEvent> refusal_events;
  std::vector<UserEndpointSuccess> user_endpoint_events;
  std::vector<std::string> invite_unanswered_call_ids;    // INVITEs with no final response within 32 s
  std::vector<std::string> register_401_only_call_ids;    // REGISTER dialogs with a 401 and no 200

  void NoteTime(TimeMs t) {
    if (!has_time || t < first_time) first_time = t;
    if (!has_time || t > last_time) last_time = t;
    has_time = true;
  }
  void AddRefusal(RefusalKind k, int day, int app, int user);
  // Adds another part's counts (files and lists are appended in call order).
  void Merge(const GroundTruth& o);

  std::uint64_t TotalBytes() const;
  std::uint64_t TotalRecords() const;
  RefusalCounts TotalRefusals() const;
  std::uint64_t UserEndpointSuccesses() const;

  // Consecutive refusals of one (application, user) pair at most `window`
  // apart, sorted by (first, app, user, second).
  std::vector<RefusalRepeat> RefusedAgainWithin(DurationMs window) const;
  // Users refused and then subscribed by a user endpoint within `window`,
  // sorted by user index.
  std::vector<WorkaroundUser> WorkaroundUsers(DurationMs window) const;

  // Checks that the numbers agree with each other (sums per day, per
  // application and per user equal the totals, bytes per file add up, ...).
  // Returns Corruption naming the first disagreement.
  Status CheckConsistency() const;

  // The JSON document written to DIR/ground-truth.json (see corpus/README.md).
  nlohmann::json ToJson(const Deployment& d) const;
};

}  // namespace sipdex::corpus
