#pragma once
// Postings keys and values (storage/README.md, "postings"). Internal to storage/.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/index.h"

namespace sipdex::storage {

// field:u8 | varint(len) | value, where value is the normalised value, or for
// hashed fields the 4-byte big-endian low half of Hash64(normalised value).
std::string PostingValueKey(FieldId field, std::string_view raw_value);
// Splits a full postings key (value key + run id) into its parts.
bool ParsePostingKey(std::string_view key, FieldId* field, std::string_view* value, RecordId* run);

// Calls emit(value key) for every indexed (field, value) of a record.
// Duplicates are possible; the caller de-duplicates per record.
void ExtractPostings(const Record& r, std::string_view server, std::string_view file_name,
                     const std::function<void(std::string&& key)>& emit);

// Posting list: varint count, then ordinals as varint deltas (first absolute).
void EncodePostingList(const std::vector<std::uint32_t>& ordinals, std::string* out);
bool DecodePostingList(std::string_view in, std::vector<std::uint32_t>* ordinals);

}  // namespace sipdex::storage
