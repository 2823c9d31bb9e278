#pragma once
// The field catalogue: every field a query can name, its type, and whether
// storage keeps postings for it. The query binder checks names and types
// against this table; storage decides encodings from it. `header.NAME` and
// `response.FIELD` are built on top of these by the binder.

#include <cstdint>
#include <span>
#include <string_view>

namespace sipdex {

enum class FieldType : std::uint8_t {
  kString,   // compared as text (methods and header names case-insensitively)
  kUri,      // a SIP URI: scheme and host compare case-insensitively
  kInteger,
  kTime,     // TimeMs
  kBool,
};
std::string_view FieldTypeName(FieldType t);  // "text", "uri", "number", "time", "true/false"

enum class FieldId : std::uint16_t {
  kTime, kServer, kFile, kLine, kKind,
  kLevel, kFlag, kComponent,
  kCorrelationId, kInstanceId, kDirection, kPeer, kType,
  kMethod, kRuri, kStatus, kReason,
  kFrom, kFromUri, kFromUser, kFromHost, kFromName, kFromTag, kFromEpid,
  kTo, kToUri, kToUser, kToHost, kToName, kToTag, kToEpid,
  kCallId, kCseq, kCseqMethod,
  kEvent, kExpires, kContentType, kUserAgent, kServerHdr, kRecordRoute,
  kDiag, kDiagReason, kDiagSource,
  kBody, kText,
  kResource, kResourceUri, kResourceState, kResourceReason, kResourceStatus, kResourceDiag,
  kSeverity, kResultCode, kResultText,
  kMalformed,
  kCount_,
};

struct FieldInfo {
  FieldId id;
  std::string_view name;   // lower case, as typed in queries ("from.uri")
  FieldType type;
  bool multi;              // several values per record (diag, record_route, resource.*)
  bool per_resource;       // evaluated per rlmi resource instance (resource.*)
  bool indexed;            // storage keeps postings (field, value) -> records
  std::string_view help;   // one line for `query --help` and the language README
};

// All fields, in FieldId order.
std::span<const FieldInfo> AllFields();
// Case-insensitive lookup by name; nullptr if unknown.
const FieldInfo* FindField(std::string_view name);
const FieldInfo& GetField(FieldId id);

}  // namespace sipdex
