#pragma once
// A record's facts: the typed fields that queries filter, group and pair on,
// stored per segment beside the text (storage/README.md, "facts"), so that a
// query reading only these fields decodes no text and parses nothing.
//
// IsFactField is the contract between storage and the query planner: for
// every field it names, the Record that IndexSnapshot::ReadFacts gives holds
// exactly the values IndexSnapshot::Parse would give for that field.

#include "storage/schema.h"

namespace sipdex::storage {

// Whether ReadFacts fills `field` exactly as Parse does. Fields outside the
// set (text, body, header.NAME, record_route, tags, epids, instance_id, peer,
// correlation_id, line, ...) are left empty by ReadFacts.
constexpr bool IsFactField(FieldId field) {
  switch (field) {
    case FieldId::kTime:
    case FieldId::kServer:
    case FieldId::kFile:
    case FieldId::kKind:
    case FieldId::kMalformed:
    case FieldId::kLevel:
    case FieldId::kFlag:
    case FieldId::kComponent:
    case FieldId::kDirection:
    case FieldId::kType:
    case FieldId::kMethod:
    case FieldId::kRuri:
    case FieldId::kStatus:
    case FieldId::kReason:
    case FieldId::kFrom:
    case FieldId::kFromUri:
    case FieldId::kFromUser:
    case FieldId::kFromHost:
    case FieldId::kFromName:
    case FieldId::kTo:
    case FieldId::kToUri:
    case FieldId::kToUser:
    case FieldId::kToHost:
    case FieldId::kToName:
    case FieldId::kCallId:
    case FieldId::kCseq:
    case FieldId::kCseqMethod:
    case FieldId::kEvent:
    case FieldId::kExpires:
    case FieldId::kContentType:
    case FieldId::kUserAgent:
    case FieldId::kServerHdr:
    case FieldId::kDiag:
    case FieldId::kDiagReason:
    case FieldId::kDiagSource:
    case FieldId::kResource:
    case FieldId::kResourceUri:
    case FieldId::kResourceState:
    case FieldId::kResourceReason:
    case FieldId::kResourceStatus:
    case FieldId::kResourceDiag:
    case FieldId::kSeverity:
    case FieldId::kResultCode:
    case FieldId::kResultText:
      return true;
    default:
      return false;
  }
}

}  // namespace sipdex::storage
