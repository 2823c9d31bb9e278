#pragma once
// A record's facts: the typed fields that queries filter, group and pair on,
// stored per segment beside the text (storage/README.md, "facts"), so that a
// query reading only these fields decodes no text and parses nothing.
//
// IsFactField is the contract between storage and the query planner: for
// every field it names, the Record that IndexSnapshot::ReadFacts gives holds
// exactly the values IndexSnapshot::Parse would give for that field.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/record.h"
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

// ---------------------------------------------------------------------------
// The facts of one segment, column by column (storage/README.md, "facts").
// Internal to storage/ (and its tests and benchmarks).

// Collects the fact fields of consecutive records and encodes them as columns:
// strings dictionary-encoded per column, integers as zigzag varints, the
// multi-valued ms-diagnostics and rlmi resources as a count per record plus
// flat columns. One thread per encoder; it keeps its buffers between segments.
class FactsEncoder {
 public:
  FactsEncoder();
  ~FactsEncoder();
  FactsEncoder(const FactsEncoder&) = delete;
  FactsEncoder& operator=(const FactsEncoder&) = delete;

  // Adds the next record's fact fields (those IsFactField names, except the
  // ones the segment table holds: time, kind, malformed, server, file).
  // Copies what it keeps: r's views need to live only during the call.
  void Add(const Record& r);
  std::uint32_t count() const;
  // Appends the encoded (uncompressed) facts of the records added to *out and
  // empties the encoder.
  void Finish(std::string* out);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Reads encoded facts. Keeps its buffers between segments: Reset allocates
// nothing once they have grown. One thread per decoder.
class FactsDecoder {
 public:
  FactsDecoder();
  ~FactsDecoder();
  FactsDecoder(const FactsDecoder&) = delete;
  FactsDecoder& operator=(const FactsDecoder&) = delete;

  // Parses the facts of `count` records and checks every length, count and
  // dictionary reference (Corruption naming the column otherwise; never reads
  // out of bounds). `facts` must outlive every Fill: the views Fill gives
  // point into it.
  Status Reset(std::string_view facts, std::uint32_t count);
  std::uint32_t count() const;
  // Sets every fact field of *out (see FactsEncoder::Add) to record i's.
  // Leaves the other fields alone, so a Record cleared once stays empty
  // outside the facts. REQUIRES: a successful Reset, i < count().
  void Fill(std::uint32_t i, Record* out) const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// What one column of encoded facts costs: its bytes, and the bytes of its own
// zstd frame at `level` (the columns are stored in one frame; this is for
// `stats`-like breakdowns and the benchmark).
struct FactsColumnSize {
  std::string_view name;  // "call_id", "diag.code", ...
  std::uint64_t raw_bytes = 0;
  std::uint64_t zstd_bytes = 0;
  std::uint64_t dictionary_bytes = 0;  // of raw_bytes: the dictionary of a string column
};
// Adds the sizes of the columns of `facts` to *sizes (resized to the column
// count on first use). Corruption when `facts` does not parse.
Status AddFactsColumnSizes(std::string_view facts, int level, std::vector<FactsColumnSize>* sizes);

}  // namespace sipdex::storage
