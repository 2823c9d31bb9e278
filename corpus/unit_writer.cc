#include "corpus/unit_writer.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "corpus/appender.h"
#include "corpus/rng.h"

namespace sipdex::corpus {
namespace {

using std::string_view;

constexpr std::size_t kFlushBytes = 1u << 20;   // write the buffer out past this size
constexpr std::size_t kRecordRoom = 256u << 10;  // room reserved before each record
constexpr TimeMs kDayMs = kMsPerDay;

// Per-record probabilities of each bad-input kind (times UnitPlan::bad_rate).
constexpr double kPSipLine = 1.0 / 40000;
constexpr double kPBinary = 1.0 / 60000;
constexpr double kPBadTime = 1.0 / 60000;
constexpr double kPLongLine = 1.0 / 150000;
constexpr double kPHeaderLine = 1.0 / 60000;
// Per-file probabilities.
constexpr double kPTruncatedEnd = 0.03;
constexpr double kPJunkStart = 0.02;
constexpr double kPEmptyFile = 0.01;
constexpr double kPCrlf = 0.45;
constexpr double kPBom = 0.08;
constexpr double kPGz = 0.06;

// ---------------------------------------------------------------------------
// Header names in the three spellings seen in logs.
enum Hdr : std::uint8_t {
  hFrom, hTo, hCallId, hCSeq, hVia, hContentType, hContentLength, hContact, hEvent, hSupported, hUserAgent,
  hServer, hRecordRoute, hExpires, hMaxForwards, hAccept, hSubState, hAuthorization, hWwwAuth, hAllowEvents,
  hSubject, hMsDiag, hMsDiagPublic, hMsClientDiag, hRequire, hMsEdgeTrust, kHdrCount,
};
constexpr string_view kHdrLync[kHdrCount] = {
    "From", "To", "Call-ID", "CSeq", "Via", "Content-Type", "Content-Length", "Contact", "Event", "Supported",
    "User-Agent", "Server", "Record-Route", "Expires", "Max-Forwards", "Accept", "Subscription-State",
    "Authorization", "WWW-Authenticate", "Allow-Events", "Subject", "ms-diagnostics", "ms-diagnostics-public",
    "ms-client-diagnostics", "Require", "ms-edge-proxy-message-trust",
};
constexpr string_view kHdrUcma[kHdrCount] = {
    "FROM", "TO", "CALL-ID", "CSEQ", "VIA", "CONTENT-TYPE", "CONTENT-LENGTH", "CONTACT", "EVENT", "SUPPORTED",
    "USER-AGENT", "SERVER", "RECORD-ROUTE", "EXPIRES", "MAX-FORWARDS", "ACCEPT", "SUBSCRIPTION-STATE",
    "AUTHORIZATION", "WWW-AUTHENTICATE", "ALLOW-EVENTS", "SUBJECT", "MS-DIAGNOSTICS", "MS-DIAGNOSTICS-PUBLIC",
    "MS-CLIENT-DIAGNOSTICS", "REQUIRE", "MS-EDGE-PROXY-MESSAGE-TRUST",
};
constexpr string_view kHdrCompact[kHdrCount] = {
    "f", "t", "i", "CSeq", "v", "c", "l", "m", "o", "k", "User-Agent", "Server", "Record-Route", "Expires",
    "Max-Forwards", "Accept", "Subscription-State", "Authorization", "WWW-Authenticate", "Allow-Events", "s",
    "ms-diagnostics", "ms-diagnostics-public", "ms-client-diagnostics", "Require", "ms-edge-proxy-message-trust",
};

enum class HStyle : std::uint8_t { kLync, kUcma, kCompact };

constexpr string_view kMethodNames[kMethodCount] = {
    "REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "MESSAGE", "INFO", "OPTIONS", "SERVICE", "NOTIFY", "BENOTIFY",
    "SUBSCRIBE",
};

struct DiagInfo {
  int code;
  string_view reason;
};
constexpr DiagInfo kDiag2157 = {
    2157, "Source network is not set for a single subscribe request when tenant identifiers of the To and From users are "
          "different"};
// Codes for ordinary failures (status, code, reason).
struct ErrorKind {
  int status;
  string_view phrase;
  int code;
  string_view reason;
  Method method;
};
constexpr ErrorKind kErrors[] = {
    {404, "Not Found", 1003, "User does not exist", kInvite},
    {504, "Server time-out", 1008, "Unable to resolve DNS SRV record", kInvite},
    {504, "Server time-out", 1010, "Certificate trust with another server could not be established", kMessage},
    {403, "Forbidden", 1027, "Cannot route this type of SIP request to or from federated partners", kInvite},
    {480, "Temporarily Unavailable", 1034, "Previous hop federated peer did not report diagnostic information",
     kMessage},
    {404, "Not Found", 12004, "No route found", kInvite},
    {486, "Busy Here", 13004, "Request was proxied to one or more registered endpoints", kInvite},
    {503, "Service Unavailable", 17000, "Server overloaded", kRegister},
    {481, "Call Leg/Transaction Does Not Exist", 2014, "Subscription dialog does not exist", kSubscribe},
    {500, "Server Internal Error", 10003, "Proxy returned a SIP failure code", kService},
    {408, "Request Timeout", 1007, "Temporarily cannot route", kOptions},
};
// 403s to a SUBSCRIBE that are NOT the hybrid refusal (decoys for 2157).
constexpr DiagInfo kDecoy403[] = {
    {2152, "Presence subscription rejected by policy"},
    {12157, "Routing rule did not match the called number"},
    {2004, "Subscriber is not authorized to subscribe"},
};

constexpr string_view kRecordRouteOnline[] = {
    "<sip:sipedgeSN20B.infra.lync.com:5061;transport=tls;opaque=state:Si:Ifi;lr>",
    "<sip:sippoolBL20A07.infra.lync.com:5061;transport=tls;lr;ms-route-sig=fa1Bc2>",
    "<sip:sipfed2a.online.lync.com:5061;transport=tls;lr>",
};
constexpr string_view kClientUa[] = {
    "UCCAPI/15.0.4569.1503 OC/15.0.4569.1503 (Microsoft Lync)",
    "UCCAPI/16.0.4266.1001 OC/16.0.4266.1001 (Skype for Business)",
    "UCCAPI/4.0.7577.4103 OC/4.0.7577.4103 (Microsoft Lync 2010)",
    "UCCAPI/15.0.4481.1004 OC/15.0.4481.1004 (Lync for Mac)",
};
constexpr string_view kServerUa[] = {"RTC/5.0", "RTC/6.0", "RTC/7.0"};
constexpr string_view kMessageTexts[] = {
    "Hi, do you have a minute?", "Meeting moved to 3pm", "Can you call me back", "thanks!",
    "Ticket 2157 is closed now",  // a decoy: 2157 inside message text
    "Error 2157 again? see KB", "Réunion à 10h, merci", "ok",
};
constexpr int kDecoyTextFirst = 4;

// ---------------------------------------------------------------------------
struct Party {
  string_view name_addr;  // "\"Bob\"<sip:bob@contoso.com>"
  string_view uri;
  char tag[10];
  char epid[10];
  bool with_epid = true;
};

struct Diag {
  Hdr hdr = hMsDiag;
  int code = 0;
  string_view reason;
  string_view source;
  int format = 0;  // 0 standard, 1 capitalised names, 2 spaces around '=', 3 typographic quotes
  bool fold = false;
};

struct Msg {
  bool request = true;
  Method method = kOptions;
  int status = 0;
  string_view phrase;
  string_view ruri;
  bool incoming = true;
  string_view peer;
  HStyle style = HStyle::kLync;
  const Party* from = nullptr;
  const Party* to = nullptr;
  bool to_tag = false;
  const char* call_id = nullptr;
  std::uint32_t cseq = 1;
  const char* branch = nullptr;
  string_view event;
  string_view content_type;
  string_view body;  // '\n' separated
  string_view user_agent;
  string_view server_hdr;
  string_view contact;
  string_view record_route;
  string_view extra_name[3];
  string_view extra_value[3];
  int nextra = 0;
  Diag diags[2];
  int ndiag = 0;
  std::uint32_t bad = 0;  // MalformedBits to inject
  bool instance_tail = false;
};

class UnitWriter {
 public:
  UnitWriter(const Deployment& d, const UnitPlan& p, const std::string& out_dir, GroundTruth* gt)
      : d_(d), p_(p), out_dir_(out_dir), gt_(gt), rng_(p.seed), a_(4u << 20) {}

  Status Run();

 private:
  // --- files ---------------------------------------------------------------
  Status OpenPart();
  Status ClosePart();
  Status Flush();
  Status MaybeRoll();
  std::uint64_t FileBytes() const { return flushed_ + a_.size(); }

  // --- records ---------------------------------------------------------------
  void BeginRecord() {
    a_.Reserve(kRecordRoom);
    rec_start_ = a_.size();
    rec_line_ = a_.lines() + 1;
  }
  void EndRecord(RecordKind kind, std::uint32_t bits, bool time_ok, TimeMs t);
  TimeMs RecordTime();
  static constexpr int kStampNormal = 0, kStampImpossible = 1, kStampGarbled = 2;
  void PutStamp(TimeMs t, int mode);
  void PutHeaderLine(string_view level, string_view flag, TimeMs t, int stamp_mode);
  static int StampMode(std::uint32_t bad) {
    return (bad & kMalformedTime) ? kStampImpossible : ((bad & kMalformedHeaderLine) ? kStampGarbled : kStampNormal);
  }
  void PutTid();
  void WriteMsg(const Msg& m);
  void PutHeader(const Msg& m, Hdr h) {
    if (m.style == HStyle::kUcma) {
      a_.Put(rng_.Below(8) != 0 ? kHdrUcma[h] : kHdrLync[h]);
    } else if (m.style == HStyle::kCompact) {
      a_.Put(kHdrCompact[h]);
    } else {
      a_.Put(kHdrLync[h]);
    }
    a_.Put(": ");
  }
  void PutNameAddr(const Msg& m, const Party& p, bool with_tag);
  void PutDiag(const Msg& m, const Diag& dg);
  void WriteDiagRecord(string_view severity, string_view text, string_view result, const char* call_id,
                       string_view start_line, std::uint32_t cseq, string_view cseq_method, string_view data,
                       std::uint32_t bad);
  void WriteComponentRecord(const char* call_id);
  void WriteConnectionRecord();
  void WriteJunk();
  void WriteForeignFile();
  void WriteTruncatedTail();

  // --- traffic -----------------------------------------------------------------
  void Step(int lo, int hi) { clock_ += rng_.Range(lo, hi); }
  void NewId(char* out, int n, bool upper = false) {
    const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (int i = 0; i < n; i += 16) {
      std::uint64_t v = rng_.Next();
      for (int j = i; j < n && j < i + 16; ++j, v >>= 4) out[j] = hex[v & 15];
    }
    out[n] = '\0';
  }
  void NewParty(Party& p, string_view name_addr, string_view uri) {
    p.name_addr = name_addr;
    p.uri = uri;
    NewId(p.tag, 9);
    NewId(p.epid, 9, true);
    p.with_epid = true;
  }
  void NewTxn() {
    NewId(call_id_, 32);
    NewId(branch_, 8, true);
    corr_ = static_cast<std::uint32_t>(rng_.Next());
  }
  void NewBranch() { NewId(branch_, 8, true); }
  int RandomUser() { return static_cast<int>(rng_.Below(static_cast<std::uint32_t>(d_.users.size()))); }
  int RandomOnpremUser() {
    for (int tries = 0; tries < 8; ++tries) {
      int u = RandomUser();
      if (!d_.users[u].OnlineOn(p_.day)) return u;
    }
    return d_.onprem_users_always[rng_.Below(static_cast<std::uint32_t>(d_.onprem_users_always.size()))];
  }
  int RandomOnlineUser();
  string_view OnlineRoute() { return kRecordRouteOnline[rng_.Below(std::size(kRecordRouteOnline))]; }
  string_view ClientUa() { return kClientUa[rng_.Below(std::size(kClientUa))]; }
  string_view ServerUa() { return kServerUa[rng_.Below(std::size(kServerUa))]; }
  HStyle ClientStyle() { return rng_.Chance(0.04) ? HStyle::kCompact : HStyle::kLync; }
  string_view ClientPeer() {
    peer_buf_.clear();
    peer_buf_ += "192.168.";
    peer_buf_ += std::to_string(rng_.Range(1, 254));
    peer_buf_ += '.';
    peer_buf_ += std::to_string(rng_.Range(1, 254));
    peer_buf_ += ':';
    peer_buf_ += std::to_string(rng_.Range(49152, 65535));
    return peer_buf_;
  }
  // A per-record bad-input bit set, drawn at the configured rate (or forced).
  std::uint32_t DrawBad();

  void ScRegister();
  void ScInvite(bool cancel);
  void ScMessage();
  void ScSimple(Method m);
  void ScNotify();
  void ScError();
  void ScDiagnostics();
  void ScUserSubscribe(bool to_online);
  void ScAppSingle(bool want_online, int force_app = -1, int force_user = -1);
  void ScBatch(int app, bool user_endpoint);
  void ScStuck();
  Msg AppSingleSubscribe(const TrustedApp& app, const User& b);
  void ScDecoy403();
  void ScBadCarrier();

  void BuildBatchRequestBody(string_view owner_uri, const std::vector<int>& users);
  void BuildRlmiBody(string_view owner_uri, const std::vector<int>& users, int mode, bool legacy, bool decoy,
                     bool notify);

  const Deployment& d_;
  const UnitPlan& p_;
  const std::string& out_dir_;
  GroundTruth* gt_;
  Rng rng_;
  Appender a_;
  const Server* srv_ = nullptr;

  // current file
  int part_ = 0;
  std::string file_name_;
  FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
  std::uint64_t flushed_ = 0;
  FileTruth cur_;
  bool trunc_end_ = false;
  bool legacy_part_ = false;

  // day and clock
  TimeMs day_start_ = 0;
  char date_[10];  // "07/16/2014"
  char date_tag_[8];
  TimeMs clock_ = 0;
  TimeMs last_time_ = 0;  // last record time written (for the impossible-date record)
  std::uint32_t seq_ = 0;
  std::uint32_t instance_ = 0;
  std::uint16_t tid_ = 0;
  std::uint64_t written_ = 0;  // unit bytes in closed files

  // current record
  std::size_t rec_start_ = 0;
  std::uint64_t rec_line_ = 0;

  // transaction
  char call_id_[33];
  char branch_[9];
  std::uint32_t corr_ = 0;
  Party pa_, pb_;
  std::string peer_buf_;
  std::string body_;
  std::string body2_;
  std::string ruri_buf_;
  std::vector<int> list_;
  ForcedBad forced_;

  // sequences
  TimeMs msg_time_ = 0;  // header time of the last message written
  struct Retry {
    TimeMs due;
    int app;
    int user;
  };
  std::vector<Retry> retries_;  // refused single SUBSCRIBEs an application will send again
  bool Inject(double p) { return p_.sequence_rate > 0 && rng_.Chance(p * p_.sequence_rate); }
};

// ---------------------------------------------------------------------------
Status UnitWriter::Flush() {
  if (a_.size() == 0) return Status::Ok();
  bool ok;
  if (gz_ != nullptr) {
    ok = gzwrite(gz_, a_.data(), static_cast<unsigned>(a_.size())) == static_cast<int>(a_.size());
  } else {
    ok = std::fwrite(a_.data(), 1, a_.size(), file_) == a_.size();
  }
  if (!ok) return Status::IoError("cannot write " + out_dir_ + "/" + file_name_);
  flushed_ += a_.size();
  a_.Clear();
  return Status::Ok();
}

Status UnitWriter::OpenPart() {
  ++part_;
  cur_ = FileTruth();
  cur_.gz = rng_.Chance(kPGz) || (part_ == 1 && forced_.gz);
  cur_.crlf = rng_.Chance(kPCrlf);
  cur_.bom = part_ == 1 && (rng_.Chance(kPBom) || forced_.bom);
  trunc_end_ = rng_.Chance(kPTruncatedEnd * p_.bad_rate);
  if (part_ == 1 && forced_.truncated_at_end) trunc_end_ = true;
  // One file in ten holds a search appended in the legacy shape (Lync 2010 logs).
  legacy_part_ = srv_->style == TraceStyle::kLegacy || rng_.Chance(0.03);
  file_name_ = srv_->name;
  file_name_ += '_';
  file_name_.append(date_tag_, 8);
  file_name_ += '_';
  file_name_ += std::to_string(part_);
  file_name_ += ".log";
  if (cur_.gz) file_name_ += ".gz";
  cur_.name = file_name_;
  cur_.server = srv_->name;
  std::string path = out_dir_ + "/" + file_name_;
  if (cur_.gz) {
    gz_ = gzopen(path.c_str(), "wb1");
    if (gz_ == nullptr) return Status::IoError("cannot create " + path);
  } else {
    file_ = std::fopen(path.c_str(), "wb");
    if (file_ == nullptr) return Status::IoError("cannot create " + path);
  }
  flushed_ = 0;
  a_.Clear();
  a_.set_lines(0);
  a_.set_crlf(cur_.crlf);
  if (cur_.bom) {
    // Framing makes a BOM an unflagged junk span; like blank lines, it is not counted as a record.
    a_.Reserve(3);
    a_.Put("\xEF\xBB\xBF");
  }
  bool junk = rng_.Chance(kPJunkStart * p_.bad_rate) || (part_ == 1 && forced_.junk_at_start);
  if (junk) WriteJunk();
  return Status::Ok();
}

Status UnitWriter::ClosePart() {
  if (trunc_end_) WriteTruncatedTail();
  SIPDEX_RETURN_IF_ERROR(Flush());
  cur_.bytes = flushed_;
  std::string path = out_dir_ + "/" + file_name_;
  bool ok = true;
  if (gz_ != nullptr) {
    ok = gzclose(gz_) == Z_OK;
    gz_ = nullptr;
  } else if (file_ != nullptr) {
    ok = std::fclose(file_) == 0;
    file_ = nullptr;
  }
  if (!ok) return Status::IoError("cannot close " + path);
  std::error_code ec;
  cur_.stored_bytes = std::filesystem::file_size(path, ec);
  if (ec) return Status::IoError("cannot stat " + path);
  written_ += cur_.bytes;
  gt_->files.push_back(cur_);
  return Status::Ok();
}

Status UnitWriter::MaybeRoll() {
  if (a_.size() >= kFlushBytes) SIPDEX_RETURN_IF_ERROR(Flush());
  if (FileBytes() >= p_.roll_bytes && written_ + FileBytes() < p_.budget) {
    SIPDEX_RETURN_IF_ERROR(ClosePart());
    SIPDEX_RETURN_IF_ERROR(OpenPart());
  }
  return Status::Ok();
}

void UnitWriter::EndRecord(RecordKind kind, std::uint32_t bits, bool time_ok, TimeMs t) {
  gt_->records_by_kind[static_cast<int>(kind)]++;
  cur_.records++;
  if (time_ok && (kind == RecordKind::kProtocol || kind == RecordKind::kDiagnostic || kind == RecordKind::kOther)) {
    gt_->NoteTime(t);
  }
  if (bits != 0) gt_->bad_records.push_back({file_name_, rec_line_, bits});
}

TimeMs UnitWriter::RecordTime() {
  // Another thread's record: a few ms behind the previous one.
  if (rng_.Below(25) == 0) {
    tid_ = srv_->tids[rng_.Below(8)];
    return clock_ - rng_.Range(1, 4);
  }
  if (rng_.Below(4) == 0) tid_ = srv_->tids[rng_.Below(8)];
  return clock_;
}

void UnitWriter::PutStamp(TimeMs t, int mode) {
  if (mode == kStampImpossible) {
    // Month 13, day 45, hour 25, minute 61: matches the timestamp pattern, is no date.
    a_.Put("13/45/");
    a_.Put(string_view(date_ + 6, 4));
    a_.Put("-25:61:");
    a_.Pad(static_cast<unsigned>(rng_.Below(60)), 2);
    a_.Put('.');
    a_.Pad(static_cast<unsigned>(rng_.Below(1000)), 3);
    return;
  }
  TimeMs ms = t - day_start_;
  if (ms >= 0 && ms < kDayMs) {
    a_.Put(string_view(date_, 10));
  } else {
    CivilTime c = ToCivil(t);
    a_.Pad(static_cast<unsigned>(c.month), 2);
    a_.Put('/');
    a_.Pad(static_cast<unsigned>(c.day), 2);
    a_.Put('/');
    a_.Pad(static_cast<unsigned>(c.year), 4);
    ms = ((t % kDayMs) + kDayMs) % kDayMs;
  }
  a_.Put(mode == kStampGarbled ? ' ' : '-');  // a garbled header line: "07/16/2014 10:17:57.003"
  a_.Pad(static_cast<unsigned>(ms / kMsPerHour), 2);
  a_.Put(':');
  a_.Pad(static_cast<unsigned>(ms / kMsPerMinute % 60), 2);
  a_.Put(':');
  a_.Pad(static_cast<unsigned>(ms / 1000 % 60), 2);
  a_.Put('.');
  a_.Pad(static_cast<unsigned>(ms % 1000), 3);
}

void UnitWriter::PutHeaderLine(string_view level, string_view flag, TimeMs t, int stamp_mode) {
  a_.Put("TL_");
  a_.Put(level);
  a_.Put("(TF_");
  a_.Put(flag);
  a_.Put(") [");
  if (srv_->style == TraceStyle::kCls) {
    a_.Put(srv_->machine);
    a_.Put('\\');
    a_.Put(srv_->machine);
  } else {
    a_.Put(static_cast<char>('0' + rng_.Below(legacy_part_ ? 8 : 4)));
  }
  a_.Put(']');
  a_.Hex(srv_->pid, 4, true);
  a_.Put('.');
  a_.Hex(tid_, 4, true);
  a_.Put("::");
  PutStamp(t, stamp_mode);
  a_.Put('.');
  seq_ += 1 + rng_.Below(24);
  a_.Hex(seq_, 8, srv_->upper_seq);
}

void UnitWriter::PutNameAddr(const Msg& m, const Party& p, bool with_tag) {
  a_.Put(p.name_addr);
  if (with_tag) {
    // UCMA puts epid first (as in the seed), Lync puts the tag first.
    if (m.style == HStyle::kUcma && p.with_epid) {
      a_.Put(";epid=");
      a_.Put(string_view(p.epid, 9));
      a_.Put(";tag=");
      a_.Put(string_view(p.tag, 9));
      return;
    }
    a_.Put(";tag=");
    a_.Put(string_view(p.tag, 9));
  }
  if (p.with_epid && with_tag) {
    a_.Put(";epid=");
    a_.Put(string_view(p.epid, 9));
  }
}

void UnitWriter::PutDiag(const Msg& m, const Diag& dg) {
  PutHeader(m, dg.hdr);
  a_.Dec(static_cast<std::uint64_t>(dg.code));
  switch (dg.format) {
    case 1:
      a_.Put(";Reason=\"");
      a_.Put(dg.reason);
      a_.Put("\";Source=\"");
      a_.Put(dg.source);
      a_.Put('"');
      break;
    case 2:
      a_.Put("; reason = \"");
      a_.Put(dg.reason);
      a_.Put("\"; source = ");
      a_.Put(dg.source);
      break;
    case 3:
      a_.Put(";reason=\xE2\x80\x9C");
      a_.Put(dg.reason);
      a_.Put("\xE2\x80\x9D;source=\"");
      a_.Put(dg.source);
      a_.Put('"');
      break;
    default:
      a_.Put(";reason=\"");
      a_.Put(dg.reason);
      a_.Put('"');
      if (dg.fold) {
        a_.Put(';');
        a_.Nl();
        a_.Put(" ");
      } else {
        a_.Put(';');
      }
      a_.Put("source=\"");
      a_.Put(dg.source);
      a_.Put('"');
      break;
  }
  a_.Nl();
}

void UnitWriter::WriteMsg(const Msg& m) {
  BeginRecord();
  TimeMs t = RecordTime();
  msg_time_ = t;
  bool bad_time = (m.bad & (kMalformedTime | kMalformedHeaderLine)) != 0;
  bool legacy = legacy_part_;
  PutHeaderLine("INFO", "PROTOCOL", t, StampMode(m.bad));
  if (legacy) {
    if (m.instance_tail) {
      a_.Put(" Instance-Id: ");
      a_.Hex(++instance_ & 0xFFFFFFF, 7, true);
    }
  } else {
    a_.Put(" (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125))$$begin_record");
  }
  a_.Nl();
  if (!legacy) {
    if (srv_->style == TraceStyle::kCls) {
      a_.Put("Trace-Correlation-Id: ");
      a_.Dec(corr_);
      a_.Nl();
    }
    a_.Put("Instance-Id: ");
    a_.Hex(++instance_, 8, true);
    a_.Nl();
    a_.Put("Direction: ");
    a_.Put(m.incoming ? "incoming" : "outgoing");
    if (srv_->role == ServerRole::kEdge) {
      a_.Put(m.incoming ? ";source=\"external edge\";destination=\"internal edge\""
                        : ";source=\"internal edge\";destination=\"external edge\"");
    }
    a_.Nl();
    a_.Put("Peer: ");
    a_.Put(m.peer);
    a_.Nl();
  } else {
    a_.Put("Direction: ");
    a_.Put(m.incoming ? "incoming" : "outgoing");
    a_.Nl();
  }
  a_.Put("Message-Type: ");
  a_.Put(m.request ? "request" : "response");
  a_.Nl();
  if (!legacy) {
    a_.Put("Start-Line: ");
    if (m.request) {
      a_.Put(kMethodNames[m.method]);
      a_.Put(' ');
      a_.Put(m.ruri);
      a_.Put(" SIP/2.0");
    } else {
      a_.Put("SIP/2.0 ");
      a_.Dec(static_cast<std::uint64_t>(m.status));
      a_.Put(' ');
      a_.Put(m.phrase);
    }
    a_.Nl();
  }
  PutHeader(m, hFrom);
  PutNameAddr(m, *m.from, true);
  a_.Nl();
  PutHeader(m, hTo);
  PutNameAddr(m, *m.to, m.to_tag);
  a_.Nl();
  if (m.bad & kMalformedSipLine) {
    a_.Put("this line lost its header name and colon");
    a_.Nl();
  }
  PutHeader(m, hCallId);
  a_.Put(string_view(m.call_id, 32));
  a_.Nl();
  PutHeader(m, hCSeq);
  a_.Dec(m.cseq);
  a_.Put(' ');
  a_.Put(kMethodNames[m.method]);
  a_.Nl();
  PutHeader(m, hVia);
  a_.Put("SIP/2.0/TLS ");
  a_.Put(srv_->ip);
  a_.Put(":5061;branch=z9hG4bK");
  a_.Put(string_view(m.branch, 8));
  a_.Put(";ms-received-port=5061;ms-received-cid=");
  a_.Hex(corr_ & 0xFFFFFF, 6, true);
  a_.Nl();
  if (m.style != HStyle::kCompact && rng_.Below(3) == 0) {
    PutHeader(m, hVia);
    a_.Put("SIP/2.0/TLS ");
    a_.Put(m.peer);
    a_.Put(";branch=z9hG4bK");
    a_.Hex(corr_, 8, true);
    a_.Put(";ms-internal-info=\"bqAAAAAA\"");
    a_.Nl();
  }
  if (m.request && m.method != kAck && m.method != kCancel && m.method != kBenotify) {
    PutHeader(m, hMaxForwards);
    a_.Put("70");
    a_.Nl();
  }
  if (!m.record_route.empty()) {
    PutHeader(m, hRecordRoute);
    a_.Put(m.record_route);
    a_.Nl();
    if (rng_.Below(2) == 0) {
      PutHeader(m, hRecordRoute);
      a_.Put("<sip:");
      a_.Put(srv_->fqdn);
      a_.Put(":5061;transport=tls;lr>");
      a_.Nl();
    }
  }
  if (!m.contact.empty()) {
    PutHeader(m, hContact);
    a_.Put(m.contact);
    a_.Nl();
  }
  if (!m.event.empty()) {
    PutHeader(m, hEvent);
    a_.Put(m.event);
    a_.Nl();
  }
  for (int i = 0; i < m.nextra; ++i) {
    a_.Put(m.extra_name[i]);
    a_.Put(": ");
    a_.Put(m.extra_value[i]);
    a_.Nl();
  }
  if (!m.user_agent.empty()) {
    PutHeader(m, hUserAgent);
    a_.Put(m.user_agent);
    a_.Nl();
  }
  if (!m.server_hdr.empty()) {
    PutHeader(m, hServer);
    a_.Put(m.server_hdr);
    a_.Nl();
  }
  if (m.request && rng_.Below(20) == 0) {
    // A long Supported header, folded onto a continuation line.
    PutHeader(m, hSupported);
    a_.Put("ms-dialog-route-set-update, msrtc-event-categories,");
    a_.Nl();
    a_.Put("\tms-benotify, ms-piggyback-first-notify, eventlist");
    a_.Nl();
  }
  for (int i = 0; i < m.ndiag; ++i) PutDiag(m, m.diags[i]);
  std::size_t body_len = m.body.size() + ((m.bad & kMalformedLongLine) ? 80000 : 0);
  if (!m.content_type.empty()) {
    PutHeader(m, hContentType);
    a_.Put(m.content_type);
    a_.Nl();
  }
  PutHeader(m, hContentLength);
  a_.Dec(body_len);
  a_.Nl();
  bool has_body = !m.body.empty() || (m.bad & (kMalformedBinary | kMalformedLongLine));
  if (!has_body) {
    a_.Put("Message-Body: -");
    a_.Nl();
  } else {
    if (rng_.Below(2) == 0 || m.body.empty()) {
      a_.Put("Message-Body:");
      a_.Nl();
    } else {
      a_.Put("Message-Body: ");
    }
    if (!m.body.empty()) {
      a_.PutText(m.body);
      a_.Nl();
    }
    if (m.bad & kMalformedBinary) {
      a_.Put("binary:");
      static constexpr char kJunk[] = {'\x00', '\x01', '\x02', '\x7f', '\x1b', '\x00', '\x13', '\x10'};
      a_.Put(string_view(kJunk, sizeof kJunk));
      a_.Nl();
    }
    if (m.bad & kMalformedLongLine) {
      a_.Reserve(80000 + 16);
      std::size_t n = 70000 + rng_.Below(10000);
      for (std::size_t i = 0; i < n; i += 16) a_.Hex(rng_.Next(), 16, false);
      a_.Nl();
    }
  }
  a_.Put("$$end_record");
  a_.Nl();

  // Ground truth for the record just written.
  if (m.request) {
    gt_->requests_by_method[m.method]++;
  } else {
    gt_->responses_by_method[m.method]++;
    if (legacy) {
      gt_->responses_without_status++;
    } else {
      gt_->responses_by_status[m.status]++;
    }
  }
  for (int i = 0; i < m.ndiag; ++i) {
    bool seen = false;
    for (int j = 0; j < i; ++j) seen = seen || m.diags[j].code == m.diags[i].code;
    if (!seen) gt_->diag_codes[m.diags[i].code]++;
  }
  EndRecord(RecordKind::kProtocol, m.bad, !bad_time, t);
  if (!bad_time) last_time_ = t;
}

void UnitWriter::WriteDiagRecord(string_view severity, string_view text, string_view result, const char* call_id,
                                 string_view start_line, std::uint32_t cseq, string_view cseq_method,
                                 string_view data, std::uint32_t bad) {
  BeginRecord();
  TimeMs t = RecordTime();
  bool bad_time = (bad & (kMalformedTime | kMalformedHeaderLine)) != 0;
  PutHeaderLine(severity == "error" ? "ERROR" : "WARN", "DIAG", t, StampMode(bad));
  a_.Put(" (SIPStack,SIPAdminLog::WriteDiagnosticEvent:SIPAdminLog.cpp(830)) [");
  a_.Dec(corr_);
  a_.Put("] $$begin_record");
  a_.Nl();
  a_.Put("LogType: diagnostic");
  a_.Nl();
  a_.Put("Severity: ");
  a_.Put(severity);
  a_.Nl();
  a_.Put("Text: ");
  a_.Put(text);
  a_.Nl();
  a_.Put("Result-Code: ");
  a_.Put(result);
  a_.Nl();
  if (call_id != nullptr) {
    a_.Put("SIP-Start-Line: ");
    a_.Put(start_line);
    a_.Nl();
    a_.Put("SIP-Call-ID: ");
    a_.Put(string_view(call_id, 32));
    a_.Nl();
    a_.Put("SIP-CSeq: ");
    a_.Dec(cseq);
    a_.Put(' ');
    a_.Put(cseq_method);
    a_.Nl();
  }
  a_.Put("Peer: ");
  a_.Put(srv_->fqdn);
  a_.Put(":5061");
  a_.Nl();
  if (bad & kMalformedSipLine) {
    a_.Put("diagnostic detail without a field name");
    a_.Nl();
  }
  if (!data.empty() || (bad & (kMalformedBinary | kMalformedLongLine))) {
    a_.Put("Data: ");
    a_.Put(data);
    if (bad & kMalformedBinary) {
      static constexpr char kJunk[] = {' ', '\x00', '\x02', '\x1b', '\x00', '\x07'};
      a_.Put(string_view(kJunk, sizeof kJunk));
    }
    if (bad & kMalformedLongLine) {
      a_.Reserve(80000 + 16);
      a_.Put(" dump=");
      std::size_t n = 70000 + rng_.Below(10000);
      for (std::size_t i = 0; i < n; i += 16) a_.Hex(rng_.Next(), 16, true);
    }
    a_.Nl();
  }
  a_.Put("$$end_record");
  a_.Nl();
  EndRecord(RecordKind::kDiagnostic, bad, !bad_time, t);
  if (!bad_time) last_time_ = t;
}

void UnitWriter::WriteComponentRecord(const char* call_id) {
  BeginRecord();
  TimeMs t = RecordTime();
  PutHeaderLine("VERBOSE", "COMPONENT", t, kStampNormal);
  a_.Put(" (SIPStack,CSIPRequest::GetNextHopByRouteHeader:SIPRequest.cpp(2440))( 0000000001");
  a_.Hex(rng_.Next(), 6, true);
  a_.Put(" ) Exit - next hop for ");
  a_.Put(string_view(call_id, 32));
  a_.Put(" not found, Result 0xC3E93C5E(SIPPROXY_E_ROUTING)");
  a_.Nl();  // one-line trace: no $$begin_record, so no $$end_record either
  EndRecord(RecordKind::kOther, 0, true, t);
  last_time_ = t;
}

void UnitWriter::WriteConnectionRecord() {
  BeginRecord();
  TimeMs t = RecordTime();
  PutHeaderLine("INFO", "CONNECTION", t, kStampNormal);
  a_.Put(" (SIPStack,SIPAdminLog::TraceConnectionRecord:SIPAdminLog.cpp(160))$$begin_record");
  a_.Nl();
  a_.Put("Connection-Id: 0x");
  a_.Hex(rng_.Next(), 6, true);
  a_.Nl();
  a_.Put("Local-Address: ");
  a_.Put(srv_->ip);
  a_.Put(":5061");
  a_.Nl();
  a_.Put("Remote-Address: ");
  a_.Put(ClientPeer());
  a_.Nl();
  a_.Put(rng_.Below(3) == 0 ? "Info: TLS negotiation completed" : "Info: connection closed by peer");
  a_.Nl();
  a_.Put("$$end_record");
  a_.Nl();
  EndRecord(RecordKind::kOther, 0, true, t);
  last_time_ = t;
}

void UnitWriter::WriteJunk() {
  // Bytes from a broken copy before the first record: no header line, control bytes.
  BeginRecord();
  static constexpr char kJunk[] = {'\x00', '\x00', '\x1f', '\x8b', '\x03', 'P', 'K', '\x03', '\x04', '\x00', '\xff',
                                   '\xfe', '\x10', '\x00', '\x7f', 'j', 'u', 'n', 'k'};
  int reps = rng_.Range(1, 20);
  for (int i = 0; i < reps; ++i) a_.Put(string_view(kJunk, sizeof kJunk));
  a_.Nl();
  EndRecord(RecordKind::kJunk, kMalformedJunk, false, 0);
}

void UnitWriter::WriteTruncatedTail() {
  // An OPTIONS request cut after its CSeq line: no body, no $$end_record.
  NewTxn();
  NewParty(pa_, d_.users[RandomUser()].name_addr, d_.users[0].uri);
  NewParty(pb_, srv_->fqdn, srv_->fqdn);
  BeginRecord();
  TimeMs t = RecordTime();
  bool legacy = legacy_part_;
  PutHeaderLine("INFO", "PROTOCOL", t, kStampNormal);
  if (!legacy) a_.Put(" (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125))$$begin_record");
  a_.Nl();
  a_.Put("Direction: incoming");
  a_.Nl();
  a_.Put("Message-Type: request");
  a_.Nl();
  if (!legacy) {
    a_.Put("Start-Line: OPTIONS sip:");
    a_.Put(srv_->fqdn);
    a_.Put(" SIP/2.0");
    a_.Nl();
  }
  a_.Put("From: ");
  a_.Put(pa_.name_addr);
  a_.Put(";tag=");
  a_.Put(string_view(pa_.tag, 9));
  a_.Nl();
  a_.Put("To: <sip:");
  a_.Put(srv_->fqdn);
  a_.Put('>');
  a_.Nl();
  a_.Put("Call-ID: ");
  a_.Put(string_view(call_id_, 32));
  a_.Nl();
  a_.Put("CSeq: 1 OPTIONS");
  a_.Nl();
  a_.Put("Via: SIP/2.0/TLS ");
  a_.Put(srv_->ip);
  if (rng_.Below(2) == 0) a_.Nl();  // cut at a line end or in the middle of a line
  gt_->requests_by_method[kOptions]++;
  EndRecord(RecordKind::kProtocol, kMalformedTruncated, true, t);
}

std::uint32_t UnitWriter::DrawBad() {
  std::uint32_t bits = 0;
  double r = p_.bad_rate;
  if (forced_.sip_line) {
    forced_.sip_line = false;
    return kMalformedSipLine;
  }
  if (forced_.binary) {
    forced_.binary = false;
    return kMalformedBinary;
  }
  if (forced_.bad_time) {
    forced_.bad_time = false;
    return kMalformedTime;
  }
  if (forced_.long_line) {
    forced_.long_line = false;
    return kMalformedLongLine;
  }
  if (forced_.header_line) {
    forced_.header_line = false;
    return kMalformedHeaderLine;
  }
  if (rng_.Chance(kPSipLine * r)) bits |= kMalformedSipLine;
  if (rng_.Chance(kPBinary * r)) bits |= kMalformedBinary;
  if (rng_.Chance(kPBadTime * r)) bits |= kMalformedTime;
  if (rng_.Chance(kPLongLine * r)) bits |= kMalformedLongLine;
  if (rng_.Chance(kPHeaderLine * r)) bits |= kMalformedHeaderLine;
  return bits;
}

int UnitWriter::RandomOnlineUser() {
  for (int tries = 0; tries < 16; ++tries) {
    int u = RandomUser();
    if (d_.users[u].OnlineOn(p_.day)) return u;
  }
  return 0;  // user 0 is online from the first day
}

// ---------------------------------------------------------------------------
// Traffic scenarios. Each writes a few records with times from clock_.

void UnitWriter::ScRegister() {
  NewTxn();
  const User& u = d_.users[RandomUser()];
  NewParty(pa_, u.name_addr, u.uri);
  pb_ = pa_;  // REGISTER: To = From
  Msg m;
  m.method = kRegister;
  m.ruri = d_.domains[u.domain];
  ruri_buf_ = "sip:" + d_.domains[u.domain];
  m.ruri = ruri_buf_;
  m.style = ClientStyle();
  m.peer = ClientPeer();
  m.from = &pa_;
  m.to = &pb_;
  m.call_id = call_id_;
  m.branch = branch_;
  m.user_agent = ClientUa();
  m.contact = "<sip:192.168.1.20:50110;transport=tls;ms-opaque=d3470f2e1d>;methods=\"INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY\";proxy=replace;+sip.instance=\"<urn:uuid:4ff1f3d9-5e0b-5fd6-9e7d-e2d6d48c1a72>\"";
  m.bad = DrawBad();
  WriteMsg(m);
  Step(1, 15);
  bool redirect = srv_->role == ServerRole::kDirector && rng_.Below(2) == 0;
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.bad = 0;
  r.to_tag = true;
  r.user_agent = {};
  r.server_hdr = ServerUa();
  r.contact = {};
  if (redirect) {
    r.status = 301;
    r.phrase = "Redirect request to Home Server";
    r.contact = "<sip:pool01.contoso.com:443;transport=tls>;q=0.7";
    WriteMsg(r);
    return;
  }
  r.status = 401;
  r.phrase = "Unauthorized";
  r.extra_name[0] = kHdrLync[hWwwAuth];
  r.extra_value[0] = "NTLM realm=\"SIP Communications Service\", targetname=\"fe01.contoso.com\", version=4";
  r.nextra = 1;
  WriteMsg(r);
  // Sequences: the client gives up after the challenge (never a 200).
  if (!legacy_part_ && Inject(0.03)) {
    gt_->register_401_only_call_ids.emplace_back(call_id_, 32);
    return;
  }
  Step(5, 60);
  m.cseq = 2;
  m.bad = 0;
  NewBranch();
  m.extra_name[0] = kHdrLync[hAuthorization];
  m.extra_value[0] = "NTLM qop=\"auth\", realm=\"SIP Communications Service\", opaque=\"8A1F3C2D\", crand=\"5b2c\", cnum=\"1\", targetname=\"fe01.contoso.com\", response=\"0100000067c4a0b1d6e8f3a2\"";
  m.nextra = 1;
  WriteMsg(m);
  Step(2, 30);
  r.cseq = 2;
  r.status = 200;
  r.phrase = "OK";
  r.nextra = 1;
  r.extra_name[0] = kHdrLync[hExpires];
  r.extra_value[0] = "7200";
  WriteMsg(r);
}

void UnitWriter::ScInvite(bool cancel) {
  NewTxn();
  const User& a = d_.users[RandomUser()];
  const User& b = d_.users[RandomUser()];
  NewParty(pa_, a.name_addr, a.uri);
  NewParty(pb_, b.name_addr, b.uri);
  pb_.with_epid = false;
  bool online = b.OnlineOn(p_.day);
  Msg m;
  m.method = kInvite;
  m.ruri = b.uri;
  m.style = ClientStyle();
  m.peer = ClientPeer();
  m.from = &pa_;
  m.to = &pb_;
  m.call_id = call_id_;
  m.branch = branch_;
  m.user_agent = ClientUa();
  m.record_route = online ? OnlineRoute() : string_view();
  m.content_type = "application/sdp";
  m.body = "v=0\no=- 0 0 IN IP4 192.168.1.20\ns=session\nc=IN IP4 192.168.1.20\nt=0 0\nm=audio 50020 RTP/SAVP 114 9 112 111 0 8 116 115 4 97 13 118 101\na=rtpmap:114 x-msrta/16000\na=rtpmap:9 G722/8000\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16";
  m.bad = DrawBad();
  WriteMsg(m);
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.bad = 0;
  r.content_type = {};
  r.body = {};
  r.user_agent = {};
  r.server_hdr = ServerUa();
  Step(1, 10);
  r.status = 100;
  r.phrase = "Trying";
  WriteMsg(r);
  Step(20, 400);
  r.to_tag = true;
  r.status = 180;
  r.phrase = "Ringing";
  WriteMsg(r);
  if (cancel) {
    Step(300, 3000);
    Msg c = m;
    c.method = kCancel;
    c.content_type = {};
    c.body = {};
    c.bad = 0;
    WriteMsg(c);
    Step(1, 10);
    Msg cr = r;
    cr.method = kCancel;
    cr.status = 200;
    cr.phrase = "OK";
    cr.to_tag = false;
    WriteMsg(cr);
    Step(1, 20);
    r.status = 487;
    r.phrase = "Request Terminated";
    WriteMsg(r);
    Step(1, 20);
    Msg ack = m;
    ack.method = kAck;
    ack.to_tag = true;
    ack.content_type = {};
    ack.body = {};
    ack.bad = 0;
    WriteMsg(ack);
    return;
  }
  // Sequences: no final response at all, or one more than 32 s later (the
  // request itself is a clean record with a status line to answer it).
  if (!legacy_part_ && m.bad == 0 && Inject(0.03)) {
    gt_->invite_unanswered_call_ids.emplace_back(call_id_, 32);
    if (rng_.Below(2) == 0) return;
    Step(34000, 60000);
  } else {
    Step(500, 4000);
  }
  r.status = 200;
  r.phrase = "OK";
  r.content_type = "application/sdp";
  r.body = "v=0\no=- 0 1 IN IP4 192.168.7.31\ns=session\nc=IN IP4 192.168.7.31\nt=0 0\nm=audio 19340 RTP/SAVP 114 0 101\na=rtpmap:114 x-msrta/16000\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000";
  WriteMsg(r);
  if (rng_.Below(10) == 0) {
    ruri_buf_ = "INVITE " + b.uri + " SIP/2.0";
    WriteDiagRecord("warning", "Media connectivity check took longer than expected", "0x0 S_OK", call_id_, ruri_buf_,
                    1, "INVITE", "elapsed=3120ms", 0);
  }
  Step(5, 80);
  Msg ack = m;
  ack.method = kAck;
  ack.to_tag = true;
  ack.content_type = {};
  ack.body = {};
  ack.bad = 0;
  NewBranch();
  WriteMsg(ack);
  Step(1000, 8000);
  Msg bye = ack;
  bye.method = kBye;
  bye.cseq = 2;
  NewBranch();
  if (rng_.Below(5) == 0) {
    bye.diags[0] = {hMsClientDiag, 52001, "Client-side general processing error.", "", 0, false};
    bye.ndiag = 1;
  }
  WriteMsg(bye);
  Step(1, 30);
  Msg br = r;
  br.method = kBye;
  br.cseq = 2;
  br.content_type = {};
  br.body = {};
  WriteMsg(br);
}


void UnitWriter::ScMessage() {
  NewTxn();
  const User& a = d_.users[RandomUser()];
  const User& b = d_.users[RandomUser()];
  NewParty(pa_, a.name_addr, a.uri);
  NewParty(pb_, b.name_addr, b.uri);
  Msg m;
  m.method = kMessage;
  m.ruri = b.uri;
  m.style = ClientStyle();
  m.peer = ClientPeer();
  m.from = &pa_;
  m.to = &pb_;
  m.to_tag = true;
  m.call_id = call_id_;
  m.cseq = static_cast<std::uint32_t>(rng_.Range(1, 40));
  m.branch = branch_;
  m.user_agent = ClientUa();
  m.content_type = "text/plain; charset=UTF-8";
  m.body = kMessageTexts[rng_.Below(std::size(kMessageTexts))];
  if (b.OnlineOn(p_.day)) m.record_route = OnlineRoute();
  m.bad = DrawBad();
  WriteMsg(m);
  Step(5, 120);
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.bad = 0;
  r.status = 200;
  r.phrase = "OK";
  r.content_type = {};
  r.body = {};
  r.user_agent = ClientUa();
  WriteMsg(r);
}

void UnitWriter::ScSimple(Method method) {
  NewTxn();
  const User& a = d_.users[RandomUser()];
  NewParty(pa_, a.name_addr, a.uri);
  Msg m;
  m.method = method;
  m.style = ClientStyle();
  m.peer = ClientPeer();
  m.from = &pa_;
  m.call_id = call_id_;
  m.branch = branch_;
  m.user_agent = ClientUa();
  if (method == kOptions) {
    ruri_buf_ = "sip:" + srv_->fqdn + ":5061;transport=tls";
    m.ruri = ruri_buf_;
    NewParty(pb_, srv_->fqdn, srv_->fqdn);
    body2_ = "<sip:" + srv_->fqdn + ">";
    pb_.name_addr = body2_;
    m.to = &pb_;
  } else {
    m.ruri = a.uri;
    m.to = &pa_;
    m.to_tag = method == kInfo;
    if (method == kService) {
      m.content_type = "application/SOAP+xml";
      m.body =
          "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body>"
          "<m:getPresence xmlns:m=\"http://schemas.microsoft.com/winrtc/2002/11/sip\"><m:presentities>"
          "<m:presentity m:uri=\"sip:self\"/></m:presentities></m:getPresence></SOAP-ENV:Body></SOAP-ENV:Envelope>";
    } else {
      m.content_type = "application/ms-session-state+xml";
      m.body = "<state xmlns=\"http://schemas.microsoft.com/2006/09/sip/session-state\"><hold>false</hold></state>";
    }
  }
  m.bad = DrawBad();
  WriteMsg(m);
  Step(1, 40);
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.bad = 0;
  r.status = 200;
  r.phrase = "OK";
  r.to_tag = true;
  r.content_type = {};
  r.body = {};
  r.user_agent = {};
  r.server_hdr = ServerUa();
  if (method == kOptions) {
    r.extra_name[0] = "Allow";
    r.extra_value[0] = "INVITE, BYE, ACK, CANCEL, INFO, MESSAGE, UPDATE, REFER, NOTIFY, BENOTIFY, OPTIONS";
    r.nextra = 1;
  }
  WriteMsg(r);
}

void UnitWriter::ScNotify() {
  NewTxn();
  const User& presentity = d_.users[RandomUser()];
  const User& watcher = d_.users[RandomUser()];
  NewParty(pa_, presentity.name_addr, presentity.uri);
  NewParty(pb_, watcher.name_addr, watcher.uri);
  pa_.with_epid = false;
  body_.clear();
  body_ += "<categories xmlns=\"http://schemas.microsoft.com/2006/09/sip/categories\" uri=\"";
  body_ += presentity.uri;
  body_ += "\"><category name=\"state\" instance=\"1\" publishTime=\"2014-07-16T10:17:57.003Z\" container=\"2\" "
           "version=\"";
  body_ += std::to_string(rng_.Range(1, 900));
  body_ += "\" expireType=\"endpoint\"><state xmlns=\"http://schemas.microsoft.com/2006/09/sip/state\" "
           "manual=\"false\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"aggregateState\">"
           "<availability>";
  static constexpr const char* kAvail[] = {"3500", "6500", "9500", "12500", "15500", "18500"};
  body_ += kAvail[rng_.Below(6)];
  body_ += "</availability></state></category></categories>";
  Msg m;
  m.method = rng_.Below(3) == 0 ? kNotify : kBenotify;
  m.ruri = watcher.uri;
  m.incoming = false;
  m.peer = ClientPeer();
  m.from = &pa_;
  m.to = &pb_;
  m.to_tag = true;
  m.call_id = call_id_;
  m.cseq = static_cast<std::uint32_t>(rng_.Range(2, 300));
  m.branch = branch_;
  m.event = "presence";
  m.server_hdr = ServerUa();
  m.content_type = "application/msrtc-event-categories+xml";
  m.body = body_;
  m.extra_name[0] = kHdrLync[hSubState];
  m.extra_value[0] = "active;expires=36000";
  m.nextra = 1;
  WriteMsg(m);
  if (m.method == kNotify) {
    Step(1, 60);
    Msg r = m;
    r.request = false;
    r.incoming = true;
    r.status = 200;
    r.phrase = "OK";
    r.content_type = {};
    r.body = {};
    r.nextra = 0;
    r.server_hdr = {};
    r.user_agent = ClientUa();
    WriteMsg(r);
  }
}

void UnitWriter::ScError() {
  NewTxn();
  const ErrorKind& e = kErrors[rng_.Below(std::size(kErrors))];
  const User& a = d_.users[RandomUser()];
  const User& b = d_.users[RandomUser()];
  NewParty(pa_, a.name_addr, a.uri);
  NewParty(pb_, b.name_addr, b.uri);
  Msg m;
  m.method = e.method;
  m.ruri = b.uri;
  m.style = ClientStyle();
  m.peer = ClientPeer();
  m.from = &pa_;
  m.to = &pb_;
  m.call_id = call_id_;
  m.branch = branch_;
  m.user_agent = ClientUa();
  if (e.method == kSubscribe) m.event = "presence";
  m.bad = DrawBad();
  WriteMsg(m);
  Step(2, 900);
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.bad = 0;
  r.to_tag = true;
  r.status = e.status;
  r.phrase = e.phrase;
  r.user_agent = {};
  r.server_hdr = ServerUa();
  r.diags[0] = {hMsDiag, e.code, e.reason, srv_->fqdn, static_cast<int>(rng_.Below(4)), rng_.Below(10) == 0};
  r.ndiag = 1;
  if (rng_.Below(5) == 0) {
    r.diags[1] = {hMsDiagPublic, e.code, e.reason, d_.domains[0], 0, false};
    r.ndiag = 2;
  }
  WriteMsg(r);
  if (rng_.Below(3) == 0) {
    Step(0, 3);
    ruri_buf_ = std::string(kMethodNames[e.method]) + " " + b.uri + " SIP/2.0";
    WriteDiagRecord("error", "Request failed at the next hop", "0xc3e93c5e SIPPROXY_E_ROUTING", call_id_, ruri_buf_,
                    1, kMethodNames[e.method], "", 0);
  }
  if (rng_.Below(4) == 0) WriteComponentRecord(call_id_);
}

void UnitWriter::ScDiagnostics() {
  NewTxn();
  int kind = static_cast<int>(rng_.Below(10));
  if (kind < 3) {
    WriteConnectionRecord();
  } else if (kind < 5) {
    WriteComponentRecord(call_id_);
  } else if (kind < 6) {
    // A decoy: 2157 in a diagnostic record's text and data, not in a SIP response.
    WriteDiagRecord("warning", "Retrying subscription batch 2157 after throttling", "0x0 S_OK", nullptr, {}, 0, {},
                    "msDiagCode=2157 retry=1", DrawBad());
  } else {
    const User& b = d_.users[RandomUser()];
    ruri_buf_ = "INVITE " + b.uri + " SIP/2.0";
    body2_ = "domain=\"" + d_.domains[b.domain] + "\"";
    WriteDiagRecord("warning", "Message was not sent because the domain was not found in DNS SRV",
                    "0xc3e93d6f SIPPROXY_E_EPROUTING_MSG_ALLOWED_DOMAIN_NO_SRV_MATCH", call_id_, ruri_buf_, 1,
                    "INVITE", body2_, DrawBad());
  }
}

// A single SUBSCRIBE from a user endpoint (Lync client): always succeeds, to
// on-premises and online users alike (the documented workaround).
void UnitWriter::ScUserSubscribe(bool to_online) {
  NewTxn();
  int ui = RandomOnpremUser();
  int ti = to_online ? RandomOnlineUser() : RandomOnpremUser();
  const User& a = d_.users[ui];
  const User& b = d_.users[ti];
  NewParty(pa_, a.name_addr, a.uri);
  NewParty(pb_, b.name_addr, b.uri);
  pb_.with_epid = false;
  bool online = b.OnlineOn(p_.day);
  Msg m;
  m.method = kSubscribe;
  m.ruri = b.uri;
  m.style = ClientStyle();
  m.peer = ClientPeer();
  m.from = &pa_;
  m.to = &pb_;
  m.call_id = call_id_;
  m.cseq = 1;
  m.branch = branch_;
  m.event = "presence";
  m.user_agent = ClientUa();
  m.extra_name[0] = kHdrLync[hAccept];
  m.extra_value[0] = "application/msrtc-event-categories+xml, application/xpidf+xml, text/xml+msrtc.pidf";
  m.nextra = 1;
  WriteMsg(m);
  Step(10, 300);
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.to_tag = true;
  r.status = 200;
  r.phrase = "OK";
  r.user_agent = {};
  r.server_hdr = ServerUa();
  r.nextra = 1;
  r.extra_name[0] = kHdrLync[hExpires];
  r.extra_value[0] = "36000";
  if (online) r.record_route = OnlineRoute();
  TimeMs t = clock_;
  WriteMsg(r);
  if (online) {
    gt_->user_endpoint_successes_by_day[static_cast<int>((t - d_.start) / kDayMs)]++;
    gt_->user_endpoint_events.push_back({msg_time_, ti});
  }
}

// force_app/force_user: an application sending a refused SUBSCRIBE again.
void UnitWriter::ScAppSingle(bool want_online, int force_app, int force_user) {
  NewTxn();
  int ai = force_app >= 0 ? force_app : static_cast<int>(rng_.Below(static_cast<std::uint32_t>(d_.apps.size())));
  const TrustedApp& app = d_.apps[ai];
  int ti = force_user >= 0 ? force_user : app.watch_list[rng_.Below(static_cast<std::uint32_t>(app.watch_list.size()))];
  if (want_online && !d_.users[ti].OnlineOn(p_.day)) ti = RandomOnlineUser();
  if (!want_online && d_.users[ti].OnlineOn(p_.day)) ti = RandomOnpremUser();
  const User& b = d_.users[ti];
  bool online = b.OnlineOn(p_.day);
  Msg m = AppSingleSubscribe(app, b);
  m.extra_name[0] = kHdrUcma[hAccept];
  m.extra_value[0] = "application/msrtc-event-categories+xml";
  m.nextra = 1;
  gt_->app_counts[ai].single_subscribes++;
  WriteMsg(m);
  Step(20, 600);
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.to_tag = true;
  r.user_agent = {};
  r.contact = {};
  r.server_hdr = ServerUa();
  r.nextra = 0;
  if (online) {
    r.record_route = OnlineRoute();
    r.status = 403;
    r.phrase = "Forbidden";
    int format = rng_.Below(5) == 0 ? static_cast<int>(rng_.Range(1, 3)) : 0;
    r.diags[0] = {hMsDiag, kDiag2157.code, kDiag2157.reason, "sipfed.online.lync.com", format, rng_.Below(4) == 0};
    r.ndiag = 1;
    if (rng_.Below(6) == 0) {
      r.diags[1] = {hMsDiagPublic, kDiag2157.code, kDiag2157.reason, "sip.online.lync.com", 0, false};
      r.ndiag = 2;
    }
    TimeMs t = clock_;
    WriteMsg(r);
    gt_->AddRefusal(RefusalKind::kSingle, static_cast<int>((t - d_.start) / kDayMs), ai, ti);
    gt_->refusal_events.push_back({msg_time_, ai, ti, RefusalKind::kSingle});
    // Sequences: the application tries again a few minutes later (and may be refused again).
    if (Inject(0.2)) retries_.push_back({clock_ + rng_.Range(2 * 60000, 15 * 60000), ai, ti});
    return;
  }
  r.status = 200;
  r.phrase = "OK";
  r.nextra = 1;
  r.extra_name[0] = kHdrLync[hExpires];
  r.extra_value[0] = "3600";
  WriteMsg(r);
}

void UnitWriter::BuildBatchRequestBody(string_view owner_uri, const std::vector<int>& users) {
  body_.clear();
  body_ += "<batchSub xmlns=\"http://schemas.microsoft.com/2006/01/sip/batch-subscribe\" uri=\"";
  body_ += owner_uri;
  body_ += "\" name=\"\">\n<action name=\"subscribe\" id=\"";
  body_ += std::to_string(rng_.Range(1000000, 99999999));
  body_ += "\"><adhocList>";
  for (int u : users) {
    body_ += "<resource uri=\"";
    body_ += d_.users[u].uri;
    body_ += "\"/>";
  }
  body_ += "</adhocList><categoryList xmlns=\"http://schemas.microsoft.com/2006/09/sip/categorylist\">"
           "<category name=\"calendarData\"/><category name=\"contactCard\"/><category name=\"note\"/>"
           "<category name=\"state\"/></categoryList></action>\n</batchSub>";
}

// mode: 0 = refusals inline (terminated), 1 = online users pending (refused later in a NOTIFY),
// 2 = a NOTIFY carrying only the refusals, 3 = everything active (a user endpoint's list).
void UnitWriter::BuildRlmiBody(string_view owner_uri, const std::vector<int>& users, int mode, bool legacy,
                               bool decoy, bool notify) {
  body_.clear();
  char boundary[9];
  NewId(boundary, 8);
  if (!legacy) {
    body_ += "--";
    body_.append(boundary, 8);
    body_ += "\nContent-Transfer-Encoding: binary\nContent-ID: <";
    body_.append(boundary, 8);
    body_ += "@";
    body_ += srv_->fqdn;
    body_ += ">\nContent-Type: application/rlmi+xml\n\n";
  } else {
    body_ += "Content-Type: application/rlmi+xml\n";
  }
  body_ += "<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"";
  body_ += owner_uri;
  body_ += "\" version=\"";
  body_ += notify ? "1" : "0";
  body_ += "\" fullState=\"false\">";
  for (int u : users) {
    const User& user = d_.users[u];
    bool online = user.OnlineOn(p_.day);
    string_view cid = string_view(user.uri).substr(4);
    if (mode == 2 && !online) continue;
    body_ += "<resource uri=\"";
    body_ += user.uri;
    body_ += "\"><instance id=\"0\" state=\"";
    bool refused = online && (mode == 0 || mode == 2);
    bool pending = online && mode == 1;
    gt_->resource_instances[refused ? kResRefused : (pending ? kResPending : kResActive)]++;
    if (refused) {
      body_ += "terminated\" reason=\"forbidden\" statusCode=\"403\" cid=\"";
      body_ += cid;
      body_ += "\" msDiagCode=\"2157\"/></resource>";
    } else if (pending) {
      body_ += "pending\" cid=\"";
      body_ += cid;
      body_ += "\"/></resource>";
    } else {
      body_ += "active\" cid=\"";
      body_ += cid;
      body_ += "\"/></resource>";
    }
  }
  if (decoy) {
    gt_->resource_instances[kResNotFound]++;
    body_ += "<resource uri=\"sip:former.employee";
    body_ += std::to_string(rng_.Range(1, 99));
    body_ += "@";
    body_ += d_.domains[0];
    body_ += "\"><instance id=\"0\" state=\"terminated\" reason=\"rejected\" statusCode=\"404\" msDiagCode=\"1003\"/>"
             "</resource>";
  }
  body_ += "</list>";
  if (!legacy) {
    body_ += "\n--";
    body_.append(boundary, 8);
    body_ += "\nContent-Transfer-Encoding: binary\nContent-ID: <categories>\nContent-Type: "
             "application/msrtc-event-categories+xml\n\n<categories xmlns=\"http://schemas.microsoft.com/2006/09/sip/"
             "categories\" uri=\"";
    body_ += owner_uri;
    body_ += "\"></categories>\n--";
    body_.append(boundary, 8);
    body_ += "--";
    body2_ = "multipart/related; type=\"application/rlmi+xml\";start=\"<";
    body2_.append(boundary, 8);
    body2_ += "@";
    body2_ += srv_->fqdn;
    body2_ += ">\";boundary=\"";
    body2_.append(boundary, 8);
    body2_ += "\"";
  } else {
    body2_ = "multipart/related; type=\"application/rlmi+xml\";start=resourceList;";
  }
}

// A batched SUBSCRIBE (application/msrtc-adrl-categorylist+xml). From a
// trusted application, online users in the list are refused in the response
// body or in a later NOTIFY; from a user endpoint, everything is active.
void UnitWriter::ScBatch(int ai, bool user_endpoint) {
  NewTxn();
  list_.clear();
  int k = rng_.Range(1, 24);
  const TrustedApp* app = user_endpoint ? nullptr : &d_.apps[ai];
  int owner_user = user_endpoint ? RandomOnpremUser() : -1;
  for (int i = 0; i < k; ++i) {
    int u = app ? app->watch_list[rng_.Below(static_cast<std::uint32_t>(app->watch_list.size()))] : RandomUser();
    if (std::find(list_.begin(), list_.end(), u) == list_.end()) list_.push_back(u);
  }
  string_view owner_uri = app ? string_view(app->uri) : string_view(d_.users[owner_user].uri);
  if (app) {
    NewParty(pa_, app->name_addr, app->uri);
  } else {
    NewParty(pa_, d_.users[owner_user].name_addr, d_.users[owner_user].uri);
  }
  // A list of one goes to that user (as in the seed); longer lists to the owner itself.
  if (list_.size() == 1) {
    NewParty(pb_, d_.users[list_[0]].name_addr, d_.users[list_[0]].uri);
  } else {
    pb_ = pa_;
    NewId(pb_.tag, 9);
  }
  pb_.with_epid = false;
  int online_count = 0;
  for (int u : list_) online_count += d_.users[u].OnlineOn(p_.day) ? 1 : 0;
  int mode = (app && online_count > 0 && rng_.Below(10) < 3) ? 1 : 0;
  bool legacy = legacy_part_;

  BuildBatchRequestBody(owner_uri, list_);
  Msg m;
  m.method = kSubscribe;
  m.ruri = list_.size() == 1 ? string_view(d_.users[list_[0]].uri) : owner_uri;
  m.style = app ? HStyle::kUcma : ClientStyle();
  ruri_buf_ = app ? app->host_fqdn + ":5061" : std::string(ClientPeer());
  m.peer = ruri_buf_;
  m.from = &pa_;
  m.to = &pb_;
  m.call_id = call_id_;
  m.cseq = static_cast<std::uint32_t>(rng_.Range(1, 40));
  m.branch = branch_;
  m.event = "presence";
  m.user_agent = app ? string_view(app->user_agent) : ClientUa();
  if (app) m.contact = app->contact;
  m.content_type = "application/msrtc-adrl-categorylist+xml";
  m.body = body_;
  m.extra_name[0] = m.style == HStyle::kUcma ? kHdrUcma[hAccept] : kHdrLync[hAccept];
  m.extra_value[0] = "application/msrtc-event-categories+xml, application/rlmi+xml, multipart/related";
  m.extra_name[1] = m.style == HStyle::kUcma ? kHdrUcma[hRequire] : kHdrLync[hRequire];
  m.extra_value[1] = "adhoclist, categoryList";
  m.nextra = 2;
  if (app) {
    gt_->app_counts[ai].batch_subscribes++;
    gt_->app_counts[ai].batch_resources += list_.size();
  }
  WriteMsg(m);
  if (app && mode == 0 && online_count > 0 && rng_.Below(40) == 0) {
    // Stuck: the batch never gets an answer.
    gt_->stuck_call_ids.emplace_back(call_id_, 32);
    return;
  }
  Step(30, 900);
  BuildRlmiBody(owner_uri, list_, app ? mode : 3, legacy, app != nullptr && rng_.Below(5) == 0, false);
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.to_tag = true;
  r.status = 200;
  r.phrase = "OK";
  r.user_agent = {};
  r.contact = {};
  r.server_hdr = ServerUa();
  r.content_type = body2_;
  r.body = body_;
  r.nextra = 1;
  r.extra_name[0] = kHdrLync[hExpires];
  r.extra_value[0] = "36000";
  r.instance_tail = true;
  if (online_count > 0) r.record_route = OnlineRoute();
  TimeMs t = clock_;
  WriteMsg(r);
  int day = static_cast<int>((t - d_.start) / kDayMs);
  for (int u : list_) {
    if (!d_.users[u].OnlineOn(p_.day)) continue;
    if (app && mode == 0) {
      gt_->AddRefusal(RefusalKind::kBatch, day, ai, u);
      gt_->refusal_events.push_back({msg_time_, ai, u, RefusalKind::kBatch});
    }
    if (!app) {
      gt_->user_endpoint_successes_by_day[day]++;
      gt_->user_endpoint_events.push_back({msg_time_, u});
    }
  }
  if (app && mode == 1) {
    // The refusals arrive later, in a NOTIFY for the same dialog.
    Step(150, 2500);
    BuildRlmiBody(owner_uri, list_, 2, legacy, false, true);
    Party notifier = pb_;
    Party subscriber = pa_;
    Msg n;
    n.method = kNotify;
    n.ruri = app->uri;
    n.incoming = false;
    n.peer = ruri_buf_;
    n.style = HStyle::kLync;
    n.from = &notifier;
    n.to = &subscriber;
    n.to_tag = true;
    n.call_id = call_id_;
    n.cseq = static_cast<std::uint32_t>(rng_.Range(1, 9));
    NewBranch();
    n.branch = branch_;
    n.event = "presence";
    n.server_hdr = ServerUa();
    n.content_type = body2_;
    n.body = body_;
    n.extra_name[0] = kHdrLync[hSubState];
    n.extra_value[0] = "active;expires=36000";
    n.nextra = 1;
    n.record_route = OnlineRoute();
    TimeMs tn = clock_;
    WriteMsg(n);
    int nday = static_cast<int>((tn - d_.start) / kDayMs);
    for (int u : list_) {
      if (d_.users[u].OnlineOn(p_.day)) {
        gt_->AddRefusal(RefusalKind::kNotify, nday, ai, u);
        gt_->refusal_events.push_back({msg_time_, ai, u, RefusalKind::kNotify});
      }
    }
    Step(1, 40);
    Msg nr = n;
    nr.request = false;
    nr.incoming = true;
    nr.style = HStyle::kUcma;
    nr.status = 200;
    nr.phrase = "OK";
    nr.content_type = {};
    nr.body = {};
    nr.nextra = 0;
    nr.server_hdr = {};
    nr.user_agent = app->user_agent;
    nr.record_route = {};
    WriteMsg(nr);
  }
}

// A trusted application's single SUBSCRIBE (no body) to user `b`, in the
// UCMA header style, on the current transaction. Sets the parties pa_/pb_.
Msg UnitWriter::AppSingleSubscribe(const TrustedApp& app, const User& b) {
  NewParty(pa_, app.name_addr, app.uri);
  NewParty(pb_, b.name_addr, b.uri);
  pb_.with_epid = false;
  Msg m;
  m.method = kSubscribe;
  m.ruri = b.uri;
  m.style = HStyle::kUcma;
  ruri_buf_ = app.host_fqdn + ":5061";
  m.peer = ruri_buf_;
  m.from = &pa_;
  m.to = &pb_;
  m.call_id = call_id_;
  m.cseq = static_cast<std::uint32_t>(rng_.Range(1, 30));
  m.branch = branch_;
  m.event = "presence";
  m.user_agent = app.user_agent;
  m.contact = app.contact;
  return m;
}

// A single SUBSCRIBE from a trusted application to an online user that never
// gets any answer: the application sits in "Subscribing" forever.
void UnitWriter::ScStuck() {
  NewTxn();
  int ai = static_cast<int>(rng_.Below(static_cast<std::uint32_t>(d_.apps.size())));
  const TrustedApp& app = d_.apps[ai];
  const User& b = d_.users[RandomOnlineUser()];
  Msg m = AppSingleSubscribe(app, b);
  gt_->app_counts[ai].single_subscribes++;
  WriteMsg(m);
  gt_->stuck_call_ids.emplace_back(call_id_, 32);
}

// Decoys: 403 to a trusted application's SUBSCRIBE with another code, or a
// successful SUBSCRIBE whose CSeq number is 2157.
void UnitWriter::ScDecoy403() {
  NewTxn();
  int ai = static_cast<int>(rng_.Below(static_cast<std::uint32_t>(d_.apps.size())));
  const TrustedApp& app = d_.apps[ai];
  int ti = RandomOnpremUser();
  const User& b = d_.users[ti];
  NewParty(pa_, app.name_addr, app.uri);
  NewParty(pb_, b.name_addr, b.uri);
  pb_.with_epid = false;
  bool cseq_decoy = rng_.Below(2) == 0;
  Msg m;
  m.method = kSubscribe;
  m.ruri = b.uri;
  m.style = HStyle::kUcma;
  ruri_buf_ = app.host_fqdn + ":5061";
  m.peer = ruri_buf_;
  m.from = &pa_;
  m.to = &pb_;
  m.call_id = call_id_;
  m.cseq = cseq_decoy ? 2157 : static_cast<std::uint32_t>(rng_.Range(1, 30));
  m.branch = branch_;
  m.event = "presence";
  m.user_agent = app.user_agent;
  m.contact = app.contact;
  gt_->app_counts[ai].single_subscribes++;
  WriteMsg(m);
  Step(20, 400);
  Msg r = m;
  r.request = false;
  r.incoming = false;
  r.to_tag = true;
  r.user_agent = {};
  r.contact = {};
  r.server_hdr = ServerUa();
  if (cseq_decoy) {
    r.status = 200;
    r.phrase = "OK";
  } else {
    const DiagInfo& dg = kDecoy403[rng_.Below(std::size(kDecoy403))];
    r.status = 403;
    r.phrase = "Forbidden";
    r.diags[0] = {hMsDiag, dg.code, dg.reason, srv_->fqdn, 0, false};
    r.ndiag = 1;
  }
  WriteMsg(r);
}

void UnitWriter::WriteForeignFile() {
  // Another product's trace: $$begin_record, Direction:, Start-Line:, a DD/MM/YYYY header, no TL_/TF_.
  cur_ = FileTruth();
  file_name_ = "SBC01_";
  file_name_.append(date_tag_, 8);
  file_name_ += "_1.log";
  cur_.name = file_name_;
  std::string path = out_dir_ + "/" + file_name_;
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) return;
  a_.Clear();
  a_.set_lines(0);
  a_.set_crlf(false);
  int n = rng_.Range(20, 60);
  TimeMs t = day_start_ + rng_.Range(0, 20 * 3600) * 1000LL;
  for (int i = 0; i < n; ++i) {
    BeginRecord();
    t += rng_.Range(5, 5000);
    CivilTime c = ToCivil(t);
    a_.Put("$$begin_record");
    a_.Nl();
    a_.Pad(static_cast<unsigned>(c.day), 2);
    a_.Put('/');
    a_.Pad(static_cast<unsigned>(c.month), 2);
    a_.Put('/');
    a_.Pad(static_cast<unsigned>(c.year), 4);
    a_.Put('-');
    a_.Pad(static_cast<unsigned>(c.hour), 2);
    a_.Put(':');
    a_.Pad(static_cast<unsigned>(c.minute), 2);
    a_.Put(':');
    a_.Pad(static_cast<unsigned>(c.second), 2);
    a_.Put('.');
    a_.Pad(static_cast<unsigned>(c.millisecond), 3);
    a_.Put(" SIPTRACE [SBC01] Session ");
    a_.Dec(rng_.Below(100000));
    a_.Nl();
    a_.Put(rng_.Below(2) ? "Direction: incoming" : "Direction: outgoing");
    a_.Nl();
    a_.Put("Start-Line: INVITE sip:+1425555");
    a_.Pad(rng_.Below(10000), 4);
    a_.Put("@sbc01.");
    a_.Put(d_.domains[0]);
    a_.Put(";user=phone SIP/2.0");
    a_.Nl();
    a_.Put("Call-ID: ");
    a_.RandomHex(rng_, 24);
    a_.Nl();
    a_.Put("$$end_record");
    a_.Nl();
    gt_->records_by_kind[static_cast<int>(RecordKind::kForeign)]++;
    cur_.records++;
    gt_->bad_records.push_back({file_name_, rec_line_, kMalformedForeign});
  }
  std::fwrite(a_.data(), 1, a_.size(), file_);
  std::fclose(file_);
  file_ = nullptr;
  cur_.bytes = cur_.stored_bytes = a_.size();
  gt_->files.push_back(cur_);
}

Status UnitWriter::Run() {
  forced_ = p_.forced;
  day_start_ = d_.start + static_cast<TimeMs>(p_.day) * kDayMs;
  CivilTime c = ToCivil(day_start_);
  {
    Appender tmp(32);
    tmp.Pad(static_cast<unsigned>(c.month), 2);
    tmp.Put('/');
    tmp.Pad(static_cast<unsigned>(c.day), 2);
    tmp.Put('/');
    tmp.Pad(static_cast<unsigned>(c.year), 4);
    tmp.Pad(static_cast<unsigned>(c.year), 4);
    tmp.Pad(static_cast<unsigned>(c.month), 2);
    tmp.Pad(static_cast<unsigned>(c.day), 2);
    std::memcpy(date_, tmp.data(), 10);
    std::memcpy(date_tag_, tmp.data() + 10, 8);
  }
  if (p_.server < 0) {
    srv_ = &d_.servers[0];
    WriteForeignFile();
    if (file_ == nullptr && gt_->files.empty()) return Status::IoError("cannot create " + out_dir_ + "/" + file_name_);
    return Status::Ok();
  }
  srv_ = &d_.servers[p_.server];
  tid_ = srv_->tids[0];
  seq_ = static_cast<std::uint32_t>(rng_.Next());
  instance_ = static_cast<std::uint32_t>(rng_.Next() & 0xFFFFF);

  // Traffic by hour of day (UTC): busy office hours, quiet nights; flatter on weekends.
  static constexpr double kWeekday[24] = {1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 13, 11, 13, 14, 13, 11, 8, 5, 3, 2, 2, 1, 1};
  static constexpr double kWeekend[24] = {2, 2, 2, 2, 2, 2, 3, 3, 4, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2};
  int dow = static_cast<int>(((day_start_ / kDayMs) + 3) % 7);  // 0 = Monday
  const double* hours = dow >= 5 ? kWeekend : kWeekday;
  double cum[25] = {0};
  for (int h = 0; h < 24; ++h) cum[h + 1] = cum[h] + hours[h];

  enum Sc {
    sRegister, sInvite, sCancel, sMessage, sInfo, sOptions, sService, sNotify, sError, sDiag, sUserSubOnprem,
    sUserSubOnline, sUserBatch, sAppSingleOnprem, sAppSingleOnline, sAppBatch, sStuck, sDecoy, kScCount,
  };
  static constexpr double kFe[kScCount] = {10, 7, 2, 6, 3, 6, 5, 12, 4, 4, 8, 2, 2, 4, 1.2, 2.5, 0.3, 0.8};
  static constexpr double kDir[kScCount] = {25, 2, 0, 0, 0, 12, 0, 0, 3, 5, 0, 0, 0, 0, 0, 0, 0, 0};
  static constexpr double kEdge[kScCount] = {0, 6, 1, 8, 0, 8, 0, 6, 5, 6, 3, 3, 0, 0, 0, 0, 0, 0};
  const double* w = srv_->role == ServerRole::kFrontEnd ? kFe : (srv_->role == ServerRole::kDirector ? kDir : kEdge);
  double wsum = 0;
  for (int i = 0; i < kScCount; ++i) wsum += w[i];

  SIPDEX_RETURN_IF_ERROR(OpenPart());
  clock_ = day_start_;
  while (written_ + FileBytes() < p_.budget) {
    double progress = static_cast<double>(written_ + FileBytes()) / static_cast<double>(p_.budget);
    double target = progress * cum[24];
    int h = 0;
    while (h < 23 && cum[h + 1] <= target) ++h;
    double frac = (target - cum[h]) / hours[h];
    TimeMs t0 = day_start_ + static_cast<TimeMs>((h + frac) * static_cast<double>(kMsPerHour));
    t0 = std::clamp<TimeMs>(t0, day_start_ + 50, day_start_ + kDayMs - 20000);
    clock_ = std::max(clock_, t0);
    if (clock_ > day_start_ + kDayMs - 20000) clock_ = day_start_ + kDayMs - 20000;

    if (!retries_.empty()) {
      auto due = std::min_element(retries_.begin(), retries_.end(),
                                  [](const Retry& a, const Retry& b) { return a.due < b.due; });
      if (due->due <= clock_) {
        Retry r = *due;
        retries_.erase(due);
        ScAppSingle(true, r.app, r.user);
        SIPDEX_RETURN_IF_ERROR(MaybeRoll());
        continue;
      }
    }
    double pick = rng_.Unit() * wsum;
    int sc = 0;
    while (sc < kScCount - 1 && pick >= w[sc]) pick -= w[sc++];
    switch (sc) {
      case sRegister: ScRegister(); break;
      case sInvite: ScInvite(false); break;
      case sCancel: ScInvite(true); break;
      case sMessage: ScMessage(); break;
      case sInfo: ScSimple(kInfo); break;
      case sOptions: ScSimple(kOptions); break;
      case sService: ScSimple(kService); break;
      case sNotify: ScNotify(); break;
      case sError: ScError(); break;
      case sDiag: ScDiagnostics(); break;
      case sUserSubOnprem: ScUserSubscribe(false); break;
      case sUserSubOnline: ScUserSubscribe(true); break;
      case sUserBatch: ScBatch(0, true); break;
      case sAppSingleOnprem: ScAppSingle(false); break;
      case sAppSingleOnline: ScAppSingle(true); break;
      case sAppBatch: ScBatch(static_cast<int>(rng_.Below(static_cast<std::uint32_t>(d_.apps.size()))), false); break;
      case sStuck: ScStuck(); break;
      case sDecoy: ScDecoy403(); break;
      default: break;
    }
    SIPDEX_RETURN_IF_ERROR(MaybeRoll());
  }
  SIPDEX_RETURN_IF_ERROR(ClosePart());
  if (forced_.empty_file || rng_.Chance(kPEmptyFile * p_.bad_rate)) {
    ++part_;
    file_name_ = srv_->name + "_" + std::string(date_tag_, 8) + "_" + std::to_string(part_) + ".log";
    std::string path = out_dir_ + "/" + file_name_;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fclose(f) != 0) return Status::IoError("cannot create " + path);
    FileTruth ft;
    ft.name = file_name_;
    ft.server = srv_->name;
    gt_->files.push_back(ft);
    gt_->bad_records.push_back({file_name_, 0, kMalformedEmptyFile});
  }
  return Status::Ok();
}

}  // namespace

Status WriteUnit(const Deployment& d, const UnitPlan& plan, const std::string& out_dir, GroundTruth* truth) {
  UnitWriter w(d, plan, out_dir, truth);
  return w.Run();
}

}  // namespace sipdex::corpus
