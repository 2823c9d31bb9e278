#pragma once
// Segment payloads: the compressed bytes of consecutive records of one file
// plus their per-record table (storage/README.md, "Segment payload").
// Internal to storage/.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "storage/record.h"

namespace sipdex::storage {

enum class TextCodec : std::uint8_t {
  kPlain = 0,    // the record bytes as they are
  kColumns = 1,  // lines split into a line-kind stream and per-header-name value columns
};

struct SegmentRecordMeta {
  std::uint32_t size = 0;
  RecordKind kind = RecordKind::kOther;
  std::uint32_t malformed = 0;
  TimeMs time = 0;
  bool has_time = false;
  std::uint32_t server = 0;  // index into SegmentData::servers
};

// The logical content of a segment.
struct SegmentData {
  std::string text;                        // the records' bytes, back to back
  std::vector<SegmentRecordMeta> records;  // sizes sum to text.size()
  std::vector<std::string> servers;
  std::uint64_t start_offset = 0;          // file offset of text[0]
  std::uint32_t start_line = 1;            // 1-based line of text[0]
};

// Encodes `data` into a self-checking payload. `level` is the zstd level.
std::string EncodeSegment(const SegmentData& data, TextCodec codec, int level);

// Decodes a payload. Corruption (naming what is wrong) on a checksum
// mismatch, a bad zstd frame or inconsistent sizes; never reads out of bounds.
Status DecodeSegment(std::string_view payload, SegmentData* out);

// Splits text into the columns layout and back (exposed for tests).
std::string EncodeColumns(std::string_view text);
Status DecodeColumns(std::string_view encoded, std::string* text);

}  // namespace sipdex::storage
