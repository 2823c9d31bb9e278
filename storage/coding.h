#pragma once
// Byte encodings shared by the index's keys and values (storage/README.md):
// LEB128 varints, zigzag for signed deltas, big-endian fixed integers for keys
// (so RocksDB's bytewise order is numeric order). Internal to storage/.

#include <cstdint>
#include <string>
#include <string_view>

namespace sipdex::storage {

void PutVarint64(std::string* dst, std::uint64_t v);
// Appends zigzag(v) as a varint.
void PutSignedVarint64(std::string* dst, std::int64_t v);
void PutFixed64BE(std::string* dst, std::uint64_t v);
void PutFixed32BE(std::string* dst, std::uint32_t v);
// Appends varint(size) then the bytes.
void PutLengthPrefixed(std::string* dst, std::string_view s);

// Readers consume from the front of *in and return false (leaving *in in an
// unspecified position) when the input ends early or a varint is longer than
// 10 bytes. They never read past the end of *in.
bool GetVarint64(std::string_view* in, std::uint64_t* v);
bool GetVarint32(std::string_view* in, std::uint32_t* v);  // false too when the value exceeds 32 bits
bool GetSignedVarint64(std::string_view* in, std::int64_t* v);
bool GetFixed64BE(std::string_view* in, std::uint64_t* v);
bool GetFixed32BE(std::string_view* in, std::uint32_t* v);
bool GetLengthPrefixed(std::string_view* in, std::string_view* s);
bool GetBytes(std::string_view* in, std::size_t n, std::string_view* s);

std::uint64_t DecodeFixed64BE(const char* p);

// The number of '\n' bytes in `text` (memchr steps: several times faster than
// a byte loop on record text, whose lines are tens of bytes long).
std::size_t CountLineFeeds(std::string_view text);

// XXH3-64 of bytes (checksums, content hashes, hashed postings).
std::uint64_t Hash64(std::string_view bytes);

}  // namespace sipdex::storage
