#include "storage/schema.h"

#include <array>

#include "storage/record.h"

namespace sipdex {
namespace {

using T = FieldType;
using F = FieldId;

// clang-format off
constexpr std::array<FieldInfo, static_cast<size_t>(F::kCount_)> kFields = {{
  {F::kTime,          "time",           T::kTime,    false, false, false, "record time (UTC)"},
  {F::kServer,        "server",         T::kString,  false, false, true,  "source server (from the file name or [machine])"},
  {F::kFile,          "file",           T::kString,  false, false, true,  "source file name"},
  {F::kLine,          "line",           T::kInteger, false, false, false, "1-based line of the record in its file"},
  {F::kKind,          "kind",           T::kString,  false, false, true,  "protocol, diagnostic, other, foreign or junk"},
  {F::kLevel,         "level",          T::kString,  false, false, true,  "TL_ level: FATAL ERROR WARN INFO VERBOSE NOISE"},
  {F::kFlag,          "flag",           T::kString,  false, false, true,  "TF_ flag: PROTOCOL, DIAG, COMPONENT, ..."},
  {F::kComponent,     "component",      T::kString,  false, false, true,  "component of the header line (SIPStack, ...)"},
  {F::kCorrelationId, "correlation_id", T::kInteger, false, false, true,  "Trace-Correlation-Id or [id] of the header line"},
  {F::kInstanceId,    "instance_id",    T::kString,  false, false, true,  "Instance-Id pseudo-header"},
  {F::kDirection,     "direction",      T::kString,  false, false, true,  "incoming or outgoing"},
  {F::kPeer,          "peer",           T::kString,  false, false, true,  "Peer pseudo-header (host:port)"},
  {F::kType,          "type",           T::kString,  false, false, true,  "request or response"},
  {F::kMethod,        "method",         T::kString,  false, false, true,  "request method; for responses the CSeq method"},
  {F::kRuri,          "ruri",           T::kUri,     false, false, true,  "request URI"},
  {F::kStatus,        "status",         T::kInteger, false, false, true,  "response status code"},
  {F::kReason,        "reason",         T::kString,  false, false, false, "response reason phrase"},
  {F::kFrom,          "from",           T::kUri,     false, false, true,  "From URI"},
  {F::kFromUri,       "from.uri",       T::kUri,     false, false, true,  "From URI"},
  {F::kFromUser,      "from.user",      T::kString,  false, false, true,  "user part of the From URI"},
  {F::kFromHost,      "from.host",      T::kString,  false, false, true,  "host part of the From URI"},
  {F::kFromName,      "from.name",      T::kString,  false, false, false, "From display name"},
  {F::kFromTag,       "from.tag",       T::kString,  false, false, true,  "From tag"},
  {F::kFromEpid,      "from.epid",      T::kString,  false, false, true,  "From epid"},
  {F::kTo,            "to",             T::kUri,     false, false, true,  "To URI"},
  {F::kToUri,         "to.uri",         T::kUri,     false, false, true,  "To URI"},
  {F::kToUser,        "to.user",        T::kString,  false, false, true,  "user part of the To URI"},
  {F::kToHost,        "to.host",        T::kString,  false, false, true,  "host part of the To URI"},
  {F::kToName,        "to.name",        T::kString,  false, false, false, "To display name"},
  {F::kToTag,         "to.tag",         T::kString,  false, false, true,  "To tag"},
  {F::kToEpid,        "to.epid",        T::kString,  false, false, true,  "To epid"},
  {F::kCallId,        "call_id",        T::kString,  false, false, true,  "Call-ID (or SIP-Call-ID of a diagnostic record)"},
  {F::kCseq,          "cseq",           T::kInteger, false, false, false, "CSeq number"},
  {F::kCseqMethod,    "cseq.method",    T::kString,  false, false, true,  "CSeq method"},
  {F::kEvent,         "event",          T::kString,  false, false, true,  "Event header"},
  {F::kExpires,       "expires",        T::kInteger, false, false, false, "Expires header"},
  {F::kContentType,   "content_type",   T::kString,  false, false, true,  "Content-Type header"},
  {F::kUserAgent,     "user_agent",     T::kString,  false, false, true,  "User-Agent header"},
  {F::kServerHdr,     "server_hdr",     T::kString,  false, false, true,  "Server header"},
  {F::kRecordRoute,   "record_route",   T::kString,  true,  false, false, "Record-Route values"},
  {F::kDiag,          "diag",           T::kInteger, true,  false, true,  "ms-diagnostics code (any variant)"},
  {F::kDiagReason,    "diag.reason",    T::kString,  true,  false, false, "ms-diagnostics reason"},
  {F::kDiagSource,    "diag.source",    T::kString,  true,  false, true,  "ms-diagnostics source"},
  {F::kBody,          "body",           T::kString,  false, false, false, "message body text"},
  {F::kText,          "text",           T::kString,  false, false, false, "the whole record text"},
  {F::kResource,      "resource",       T::kUri,     true,  true,  true,  "rlmi resource URI"},
  {F::kResourceUri,   "resource.uri",   T::kUri,     true,  true,  true,  "rlmi resource URI"},
  {F::kResourceState, "resource.state", T::kString,  true,  true,  true,  "rlmi instance state (active, terminated, ...)"},
  {F::kResourceReason,"resource.reason",T::kString,  true,  true,  true,  "rlmi instance reason (forbidden, ...)"},
  {F::kResourceStatus,"resource.status",T::kInteger, true,  true,  true,  "rlmi instance statusCode"},
  {F::kResourceDiag,  "resource.diag",  T::kInteger, true,  true,  true,  "rlmi instance msDiagCode"},
  {F::kSeverity,      "severity",       T::kString,  false, false, true,  "Severity of a diagnostic record"},
  {F::kResultCode,    "result_code",    T::kString,  false, false, true,  "Result-Code of a diagnostic record (0x...)"},
  {F::kResultText,    "result_text",    T::kString,  false, false, true,  "Result-Code name (SIPPROXY_E_...)"},
  {F::kMalformed,     "malformed",      T::kBool,    false, false, true,  "true for records the parser had to repair"},
}};
// clang-format on

constexpr bool InIdOrder() {
  for (size_t i = 0; i < kFields.size(); ++i) {
    if (static_cast<size_t>(kFields[i].id) != i) return false;
  }
  return true;
}
static_assert(InIdOrder(), "kFields must list fields in FieldId order");

}  // namespace

std::string_view FieldTypeName(FieldType t) {
  switch (t) {
    case T::kString: return "text";
    case T::kUri: return "a SIP URI";
    case T::kInteger: return "a number";
    case T::kTime: return "a time";
    case T::kBool: return "true or false";
  }
  return "?";
}

std::span<const FieldInfo> AllFields() { return kFields; }

const FieldInfo* FindField(std::string_view name) {
  for (const FieldInfo& f : kFields) {
    if (EqualsIgnoreCase(f.name, name)) return &f;
  }
  return nullptr;
}

const FieldInfo& GetField(FieldId id) { return kFields[static_cast<size_t>(id)]; }

}  // namespace sipdex
