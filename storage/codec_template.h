#pragma once
// The templated text codec (segment codec 2, storage/README.md "segment_payload"):
// each line of a chunk of records is split into a column key (a header name
// such as "Call-ID: ", or the line's prefix up to its first digit), a skeleton
// (the rest of the line with numbers and hex identifiers replaced by typed
// placeholders) and typed variables (varints, fixed-width integers, packed hex
// nibbles). Lossless for any bytes. Internal to storage/.

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "storage/segment.h"

namespace sipdex::storage {

// Column keys of one segment, shared by all its chunks. Key 0 is always "".
class TemplateNames {
 public:
  TemplateNames();
  // Clears to the single key "".
  void Reset();
  // The column of `key`; 0 once the table is full (the key then stays in the
  // skeleton). `key` may be any bytes.
  std::uint32_t Intern(std::string_view key);
  std::size_t size() const { return keys_.size(); }
  std::string_view key(std::size_t i) const { return keys_[i]; }
  // Appends varint(n) lenpref(key)* to *out.
  void Serialize(std::string* out) const;

 private:
  std::deque<std::string> keys_;  // stable addresses for the views in ids_
  std::unordered_map<std::string_view, std::uint32_t> ids_;
};

// Encodes chunks of one segment. Keeps its buffers between calls; one per
// thread.
class TemplateChunkEncoder {
 public:
  TemplateChunkEncoder();
  ~TemplateChunkEncoder();
  TemplateChunkEncoder(const TemplateChunkEncoder&) = delete;
  TemplateChunkEncoder& operator=(const TemplateChunkEncoder&) = delete;

  // Starts a segment: forgets the skeletons and record shapes seen so far.
  void BeginSegment();
  // Appends the body of one chunk (uncompressed) to *body: the text of
  // `records` (whose sizes sum to text.size()), columns interned in *names,
  // skeletons and record shapes added to the segment's dictionary.
  // *line_feeds receives the number of '\n' in text.
  void Encode(std::string_view text, std::span<const SegmentRecordMeta> records, TemplateNames* names,
              std::string* body, std::uint64_t* line_feeds);
  // Appends the segment's dictionary (record shapes and skeletons of every
  // chunk since BeginSegment) to *dictionary (uncompressed).
  void FinishSegment(std::string* dictionary);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Decodes chunk bodies. Keeps its buffers between calls.
class TemplateChunkDecoder {
 public:
  TemplateChunkDecoder();
  ~TemplateChunkDecoder();
  TemplateChunkDecoder(const TemplateChunkDecoder&) = delete;
  TemplateChunkDecoder& operator=(const TemplateChunkDecoder&) = delete;

  // Loads a segment's dictionary (TemplateChunkEncoder::FinishSegment) for
  // the chunks decoded next; `dictionary` must outlive them. `nnames` is the
  // segment's number of column keys. Corruption when it is inconsistent.
  Status SetDictionary(std::string_view dictionary, std::size_t nnames);
  // Writes the text of a chunk made by TemplateChunkEncoder::Encode into
  // [out, out + out_size), which must be exactly the chunk's text size.
  // `names` are the segment's column keys, `records` the chunk's records.
  // Corruption when the body is inconsistent in any way; never reads or
  // writes out of bounds.
  Status Decode(std::string_view body, std::span<const std::string_view> names,
                std::span<const SegmentRecordMeta> records, char* out, std::size_t out_size);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace sipdex::storage
