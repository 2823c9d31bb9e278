#pragma once
// Postings keys and values (storage/README.md, "postings"). Internal to storage/.
//
// A *value key* identifies one (field, value): field:u8 followed by the
// normalised value, or for hashed fields by the 4-byte big-endian low half of
// Hash64(normalised value). A run's postings key prefixes it with the run's
// first record id; hashed fields group their values in buckets of the hash's
// high 16 bits (one key per bucket).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/index.h"

namespace sipdex::storage {

// Receives every indexed (field, raw value) of a record (ExtractPostings).
class PostingSink {
 public:
  virtual ~PostingSink() = default;
  // `field` is already canonical (CanonicalPostingField); `value` is raw
  // (not normalised) and not empty.
  virtual void Add(FieldId field, std::string_view value) = 0;
};

// Calls sink->Add for every indexed (field, value) of a record. Duplicates
// are possible; the caller de-duplicates per record.
void ExtractPostings(const Record& r, std::string_view server, std::string_view file_name, PostingSink* sink);

// Replaces *out with the value key of (field, raw value). Reuses out's buffer.
void PostingValueKeyInto(FieldId field, std::string_view raw_value, std::string* out);
std::string PostingValueKey(FieldId field, std::string_view raw_value);

// The postings key of a value key in run `run`: fixed64be(run) field:u8 rest,
// where rest is the normalised value, or for hashed fields the 2-byte bucket
// (high half of the 4-byte hash).
std::string RunPostingKey(RecordId run, std::string_view value_key);
// Splits a postings key. False when it does not parse.
bool ParseRunPostingKey(std::string_view key, RecordId* run, FieldId* field, std::string_view* rest);

// Posting list of ordinals (ids relative to the run), strictly increasing:
//   list  := varint(n) token*
//   token := varint(gap << 1)                 one ordinal, prev + 1 + gap
//          | varint(gap << 1 | 1) varint(k)   k + 2 consecutive ordinals from prev + 1 + gap
// with prev = -1 before the first ordinal.
void EncodePostingList(std::span<const std::uint32_t> ordinals, std::string* out);
// Appends the list's ordinals to *ordinals. False on a malformed list
// (never reads out of bounds); `limit` bounds the ordinals accepted.
bool DecodePostingList(std::string_view* in, std::uint64_t limit, std::vector<std::uint32_t>* ordinals);
// The count of a list without decoding it.
bool PostingListCount(std::string_view in, std::uint64_t* n);

// A hashed bucket: varint(m) entry*m, entries sorted by lo,
//   entry := fixed16be(lo) lenpref(list)
// Finds the list of the hash whose low 16 bits are `lo`; false when the
// bucket is malformed. *found is false when lo is absent.
bool FindInBucket(std::string_view bucket, std::uint16_t lo, std::string_view* list, bool* found);

// Gathers one segment's postings (runs on a worker thread): interns each
// value key once (an open-addressing table of 64-bit hashes, keys compared on
// a hit), keeps one (key id, ordinal) pair per distinct posting, and sorts
// by value key only at Finish. No std::string or vector per key.
class PostingCollector final : public PostingSink {
 public:
  PostingCollector();
  // The ordinal of the record whose postings Add receives next. REQUIRES:
  // not below the previous one.
  void SetRecord(std::uint32_t ordinal) { ordinal_ = ordinal; }
  // Adds (field, raw value) to the current record; a repeat within the record
  // is ignored.
  void Add(FieldId field, std::string_view value) override;
  // The postings gathered, sorted by value key; the collector is empty after
  // (its buffers are kept for the next segment).
  SegmentPostings Finish();

 private:
  void Grow();

  std::vector<std::uint64_t> slots_;  // (hash >> 32) << 32 | (key id + 1); 0 = empty
  std::uint64_t mask_ = 0;
  std::string arena_;                    // value keys back to back
  std::vector<std::uint32_t> key_ends_;  // key id i ends at key_ends_[i]
  std::vector<std::uint32_t> last_ordinal_;
  std::vector<std::uint32_t> counts_;
  std::vector<std::uint64_t> pairs_;  // id << 32 | ordinal, in ordinal order
  std::string key_;
  std::uint32_t ordinal_ = 0;
};

// Merges the sorted postings of consecutive segments of one run. `parts`
// holds (ordinal base of the segment in the run, its postings), the bases
// increasing. Calls emit once per distinct value key, in key order, with the
// key's run ordinals (increasing); stops at the first error emit returns.
using PostingEmit = std::function<Status(std::string_view value_key, std::span<const std::uint32_t> ordinals)>;
Status MergeSegmentPostings(std::span<const std::pair<std::uint32_t, SegmentPostings>> parts, const PostingEmit& emit);

}  // namespace sipdex::storage
