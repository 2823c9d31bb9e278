#pragma once
// Postings keys and values (storage/README.md, "postings"). Internal to storage/.
//
// A *value key* identifies one (field, value): field:u8 followed by the
// normalised value, or for hashed fields by the 4-byte big-endian low half of
// Hash64(normalised value). A run's postings key prefixes it with the run's
// first record id; hashed fields group their values in buckets of the hash's
// high 16 bits (one key per bucket).

#include <cstdint>
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

}  // namespace sipdex::storage
