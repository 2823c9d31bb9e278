#include "storage/coding.h"

#include <cstring>

#include <xxhash.h>

namespace sipdex::storage {

void PutVarint64(std::string* dst, std::uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, static_cast<std::size_t>(n));
}

void PutSignedVarint64(std::string* dst, std::int64_t v) {
  std::uint64_t u = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
  PutVarint64(dst, u);
}

void PutFixed64BE(std::string* dst, std::uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  dst->append(buf, 8);
}

void PutFixed32BE(std::string* dst, std::uint32_t v) {
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  dst->append(buf, 4);
}

void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s);
}

bool GetVarint64(std::string_view* in, std::uint64_t* v) {
  std::uint64_t result = 0;
  for (int shift = 0, i = 0; i < 10; ++i, shift += 7) {
    if (static_cast<std::size_t>(i) >= in->size()) return false;
    std::uint64_t byte = static_cast<unsigned char>((*in)[static_cast<std::size_t>(i)]);
    if (i == 9 && byte > 1) return false;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      in->remove_prefix(static_cast<std::size_t>(i) + 1);
      *v = result;
      return true;
    }
  }
  return false;
}

bool GetVarint32(std::string_view* in, std::uint32_t* v) {
  std::uint64_t x = 0;
  if (!GetVarint64(in, &x) || x > 0xffffffffu) return false;
  *v = static_cast<std::uint32_t>(x);
  return true;
}

bool GetSignedVarint64(std::string_view* in, std::int64_t* v) {
  std::uint64_t u = 0;
  if (!GetVarint64(in, &u)) return false;
  *v = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

std::size_t CountLineFeeds(std::string_view text) {
  std::size_t n = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const void* hit = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    if (hit == nullptr) break;
    ++n;
    p = static_cast<const char*>(hit) + 1;
  }
  return n;
}

std::uint64_t DecodeFixed64BE(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

bool GetFixed64BE(std::string_view* in, std::uint64_t* v) {
  if (in->size() < 8) return false;
  *v = DecodeFixed64BE(in->data());
  in->remove_prefix(8);
  return true;
}

bool GetFixed32BE(std::string_view* in, std::uint32_t* v) {
  if (in->size() < 4) return false;
  std::uint32_t x = 0;
  for (int i = 0; i < 4; ++i) x = (x << 8) | static_cast<unsigned char>((*in)[static_cast<std::size_t>(i)]);
  *v = x;
  in->remove_prefix(4);
  return true;
}

bool GetLengthPrefixed(std::string_view* in, std::string_view* s) {
  std::uint64_t n = 0;
  if (!GetVarint64(in, &n) || n > in->size()) return false;
  *s = in->substr(0, static_cast<std::size_t>(n));
  in->remove_prefix(static_cast<std::size_t>(n));
  return true;
}

bool GetBytes(std::string_view* in, std::size_t n, std::string_view* s) {
  if (n > in->size()) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

std::uint64_t Hash64(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

}  // namespace sipdex::storage
