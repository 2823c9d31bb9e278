#pragma once
// The record model: what the indexer parses a trace record into, what storage
// encodes, and what the query engine reads back. indexer/ and query/ never
// include each other; they agree through this header and storage/schema.h.
//
// Ownership: every std::string_view in a Record points either into the record's
// own text (Record::text, owned by whoever framed the input: zero copy) or into
// Record::scratch (values that had to be rebuilt, e.g. unfolded headers). A
// Record is valid only while the text it was parsed from is alive. Records are
// meant to be reused: Clear() keeps vector capacity so parsing allocates little.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"

namespace sipdex {

// What a span of input bytes is. Framing cuts every input file into spans that
// cover it exactly (concatenated, the spans are the file), so nothing is lost.
enum class RecordKind : std::uint8_t {
  kProtocol = 0,    // TL_*(TF_PROTOCOL): a SIP message with pseudo-headers
  kDiagnostic = 1,  // a record with Severity:/Text:/Result-Code:/SIP-* fields (TF_DIAG, WriteDiagnosticEvent)
  kOther = 2,       // any other TL_ record (TF_COMPONENT, TF_CONNECTION, ...): header line and free text
  kForeign = 3,     // a look-alike from another product ($$begin_record, DD/MM/YYYY, no TL_/TF_): kept, not parsed
  kJunk = 4,        // bytes that belong to no record (before the first header, binary junk): kept, flagged
};
inline constexpr int kRecordKindCount = 5;
std::string_view RecordKindName(RecordKind k);  // "protocol", "diagnostic", "other", "foreign", "junk"

// Why a record was flagged malformed; a record may carry several (bit set).
enum MalformedBit : std::uint32_t {
  kMalformedNone = 0,
  kMalformedTruncated = 1u << 0,      // no $$end_record: cut by the next header line or end of file
  kMalformedHeaderLine = 1u << 1,     // a TL_ line whose fields do not parse (garbled header line)
  kMalformedTime = 1u << 2,           // impossible date or time in the header line (13/45/2014, 25:61)
  kMalformedSipLine = 1u << 3,        // a SIP/pseudo-header line without "Name:" or a bad start line
  kMalformedBinary = 1u << 4,         // NUL or other control bytes inside the record
  kMalformedLongLine = 1u << 5,       // a line longer than kMaxLineBytes (kept, not parsed past the limit)
  kMalformedDiagnostics = 1u << 6,    // an ms-diagnostics header without a leading code
  kMalformedBody = 1u << 7,           // an rlmi/XML body that could not be fully read
  kMalformedForeign = 1u << 8,        // a look-alike record from another product
  kMalformedJunk = 1u << 9,           // bytes outside any record
  kMalformedEmptyFile = 1u << 10,     // the file had no bytes at all (reported once per file)
};
inline constexpr int kMalformedBitCount = 11;
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;
// "truncated", "header-line", "time", "sip-line", "binary", "long-line",
// "diagnostics", "body", "foreign", "junk", "empty-file".
std::string_view MalformedBitName(std::uint32_t single_bit);
// All reasons of a bit set, comma separated ("truncated,binary").
std::string MalformedReasons(std::uint32_t bits);

enum class MessageType : std::uint8_t { kUnknown = 0, kRequest = 1, kResponse = 2 };

// A From/To header, parsed. `uri` is the addr-spec without <>; user and host
// are parts of it ("sip:bob@contoso.com" -> "bob", "contoso.com").
struct NameAddr {
  std::string_view display;  // without quotes; may be empty
  std::string_view uri;
  std::string_view user;
  std::string_view host;     // without port or uri parameters
  std::string_view tag;
  std::string_view epid;
  bool present = false;
};

// One ms-diagnostics entry (any spelling; a message can have several).
enum class DiagVariant : std::uint8_t { kMsDiagnostics = 0, kPublic = 1, kClient = 2 };
// The header a variant is read from: "ms-diagnostics", "ms-diagnostics-public", "ms-client-diagnostics".
std::string_view DiagHeaderName(DiagVariant v);
struct Diagnostic {
  DiagVariant variant = DiagVariant::kMsDiagnostics;
  std::int32_t code = -1;     // leading integer; -1 if missing (then kMalformedDiagnostics)
  std::int32_t subcode = -1;  // the ".sub" part, -1 if none
  std::string_view reason;    // value of reason=, unquoted
  std::string_view source;    // value of source=, unquoted
};

// One rlmi <resource><instance/> of a body (batched subscription results, NOTIFY).
struct ResourceInstance {
  std::string_view uri;      // resource uri
  std::string_view state;    // active | pending | terminated
  std::string_view reason;   // e.g. forbidden
  std::int32_t status = -1;  // statusCode, -1 if absent
  std::int32_t diag = -1;    // msDiagCode, -1 if absent
};

// A header as it appeared (name as sent, value unfolded and trimmed). Holds
// pseudo-headers (Direction, Peer, ...) and SIP headers alike, in order.
struct Header {
  std::string_view name;
  std::string_view value;
};

struct Record {
  // --- where it is ------------------------------------------------------
  RecordKind kind = RecordKind::kOther;
  std::uint32_t malformed = kMalformedNone;  // MalformedBit set
  std::uint64_t offset = 0;   // byte offset of the record's first byte in its (decompressed) file
  std::uint32_t line = 0;     // 1-based line number of its first line in that file
  std::string_view text;      // the exact bytes of the record, terminators included

  // --- header line: TL_LEVEL(TF_FLAG) [machine]PID.TID::MM/DD/YYYY-HH:MM:SS.mmm.SEQ tail
  std::string_view level;      // "INFO"
  std::string_view flag;       // "PROTOCOL"
  std::string_view machine;    // "4", "0", "fe01\\fe01"
  std::uint16_t pid = 0;
  std::uint16_t tid = 0;
  TimeMs time = 0;             // UTC; for records without a readable time, the previous record's time
  bool has_time = false;
  std::uint32_t seq = 0;
  std::string_view component;  // "SIPStack" from "(SIPStack,SIPAdminLog::...)"
  std::string_view function;   // "SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125)"
  std::string_view tail;       // free text after the component (shape 3), trimmed

  // --- pseudo-headers ---------------------------------------------------
  std::int64_t correlation_id = -1;  // Trace-Correlation-Id or the [123456789] of the header line
  std::string_view instance_id;      // hex as written
  std::string_view direction;        // "incoming" | "outgoing" (parameters dropped)
  std::string_view direction_params; // ";source=...;destination=..." as written
  std::string_view peer;
  MessageType type = MessageType::kUnknown;
  std::string_view start_line;

  // --- SIP message --------------------------------------------------------
  std::string_view method;   // request method, or the CSeq method of a response (upper case as written)
  std::string_view ruri;
  std::int32_t status = -1;  // response status code, -1 when none was logged
  std::string_view reason_phrase;
  NameAddr from;
  NameAddr to;
  std::string_view call_id;
  std::int64_t cseq = -1;
  std::string_view cseq_method;
  std::string_view event;
  std::int64_t expires = -1;
  std::string_view content_type;
  std::string_view user_agent;
  std::string_view server_hdr;
  std::vector<std::string_view> record_route;  // one entry per Record-Route value
  std::vector<Header> headers;                  // every header line, in order
  std::vector<Diagnostic> diagnostics;
  std::vector<ResourceInstance> resources;
  std::string_view body;     // after Message-Body: up to $$end_record ("" for "-")

  // --- diagnostic records -------------------------------------------------
  std::string_view severity;
  std::string_view diag_text;        // Text:
  std::string_view result_code;      // "0xc3e93d6f" part of Result-Code:
  std::string_view result_text;      // "SIPPROXY_E_..." part of Result-Code: (or of a tail "Result 0x..(NAME)")
  std::string_view sip_start_line;   // SIP-Start-Line:
  std::string_view sip_call_id;      // SIP-Call-ID:
  std::string_view sip_cseq;         // SIP-CSeq:

  // Values rebuilt by the parser (unfolded headers). A deque never moves its
  // elements, so views into it stay valid as it grows.
  std::deque<std::string> scratch;

  // Resets every field, keeping allocated capacity.
  void Clear();
  // First header with this name (case-insensitive), or "" if none.
  std::string_view FindHeader(std::string_view name) const;
};

// ASCII case-insensitive equality (header names, methods, hosts).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace sipdex
