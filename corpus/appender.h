#pragma once
// A byte buffer with unchecked appends, for the generator's inner loop (no
// iostreams, no fmt). Callers reserve room for a whole record first, then
// append without bounds checks; Nl() writes the file's line ending and counts
// lines so bad records can be reported with their line number.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "corpus/rng.h"

namespace sipdex::corpus {

class Appender {
 public:
  explicit Appender(std::size_t capacity = 4u << 20) { Grow(capacity); }
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  // Guarantees room for `n` more bytes (grows the buffer, keeping its content).
  void Reserve(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) Grow(size() + n + (size() >> 1));
  }

  // Line ending written by Nl(): "\r\n" for CRLF files, "\n" otherwise.
  void set_crlf(bool crlf) { crlf_ = crlf; }
  bool crlf() const { return crlf_; }

  // REQUIRES for every Put*: room reserved.
  void Put(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void Put(char c) { *p_++ = c; }
  void Nl() {
    if (crlf_) *p_++ = '\r';
    *p_++ = '\n';
    ++lines_;
  }
  // Multi-line text written with '\n' separators: each '\n' becomes Nl().
  void PutText(std::string_view s) {
    for (;;) {
      const void* nl = std::memchr(s.data(), '\n', s.size());
      if (nl == nullptr) {
        Put(s);
        return;
      }
      std::size_t n = static_cast<const char*>(nl) - s.data();
      Put(s.substr(0, n));
      Nl();
      s.remove_prefix(n + 1);
    }
  }
  // Decimal without leading zeros.
  void Dec(std::uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p_++ = tmp[--n];
  }
  // Decimal with exactly `width` digits (leading zeros). REQUIRES: v < 10^width.
  void Pad(unsigned v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p_[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p_ += width;
  }
  // Hex with exactly `digits` digits.
  void Hex(std::uint64_t v, int digits, bool upper) {
    const char* d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (int i = digits - 1; i >= 0; --i) {
      p_[i] = d[v & 15];
      v >>= 4;
    }
    p_ += digits;
  }
  // `digits` random hex digits (an id: Call-ID, tag, epid, branch).
  void RandomHex(Rng& rng, int digits, bool upper = false) {
    while (digits > 0) {
      int n = digits > 16 ? 16 : digits;
      Hex(rng.Next(), n, upper);
      digits -= n;
    }
  }

  const char* data() const { return buf_.get(); }
  char* mutable_data() { return buf_.get(); }
  std::size_t size() const { return static_cast<std::size_t>(p_ - buf_.get()); }
  // Drops everything after the first `n` bytes. REQUIRES: n <= size().
  void Truncate(std::size_t n) { p_ = buf_.get() + n; }
  void Clear() { p_ = buf_.get(); }
  std::uint64_t lines() const { return lines_; }
  void set_lines(std::uint64_t n) { lines_ = n; }

 private:
  void Grow(std::size_t capacity) {
    std::size_t used = buf_ ? size() : 0;
    std::unique_ptr<char[]> next(new char[capacity]);
    if (used > 0) std::memcpy(next.get(), buf_.get(), used);
    buf_ = std::move(next);
    p_ = buf_.get() + used;
    end_ = buf_.get() + capacity;
  }

  std::unique_ptr<char[]> buf_;
  char* p_ = nullptr;
  char* end_ = nullptr;
  bool crlf_ = false;
  std::uint64_t lines_ = 0;
};

}  // namespace sipdex::corpus
