#include "indexer/framer.h"

#include <algorithm>
#include <cstring>

namespace sipdex {
namespace {

// How much of a line framing looks at to classify it. A header line is
// recognised from its first kPeekBytes; longer prefixes (a machine name of
// hundreds of bytes) make it a garbled header line.
constexpr std::size_t kPeekBytes = 512;

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kEndRecord = "$$end_record";
constexpr std::string_view kBeginRecord = "$$begin_record";

struct IsUpperFn {
  bool operator()(char c) const { return c >= 'A' && c <= 'Z'; }
};
struct IsDigitFn {
  bool operator()(char c) const { return c >= '0' && c <= '9'; }
};
struct IsHexFn {
  bool operator()(char c) const { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }
};
constexpr IsUpperFn IsUpper;
constexpr IsDigitFn IsDigit;
constexpr IsHexFn IsHex;

// Consumes [min, max] characters satisfying pred at *i.
template <typename Pred>
inline bool Run(std::string_view s, std::size_t* i, std::size_t min, std::size_t max, Pred pred) {
  std::size_t n = 0;
  while (*i + n < s.size() && n < max && pred(s[*i + n])) ++n;
  if (n < min) return false;
  *i += n;
  return true;
}

bool Lit(std::string_view s, std::size_t* i, std::string_view lit) {
  if (s.substr(*i, lit.size()) != lit) return false;
  *i += lit.size();
  return true;
}

// Strips one trailing "\n" and then one "\r".
std::string_view StripEol(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool IsEndLine(std::string_view line) { return StripEol(line) == kEndRecord; }

// DD/MM/YYYY- at column 0 with $$begin_record on the line, or a lone marker.
bool IsForeignStart(std::string_view peek) {
  std::string_view line = StripEol(peek);
  if (line == kBeginRecord) return true;
  if (line.size() < 11) return false;
  std::size_t i = 0;
  if (!(Run(line, &i, 2, 2, IsDigit) && Lit(line, &i, "/") && Run(line, &i, 2, 2, IsDigit) &&
        Lit(line, &i, "/") && Run(line, &i, 4, 4, IsDigit) && Lit(line, &i, "-"))) {
    return false;
  }
  return line.find(kBeginRecord) != std::string_view::npos;
}

// Records that open with $$begin_record, and protocol / diagnostic records,
// end with $$end_record; one-line traces (shape 3: free text, no marker) of
// other flags end where the next record starts, without being truncated.
bool ExpectsEndMarker(std::string_view header) {
  return header.find(kBeginRecord) != std::string_view::npos ||
         header.find("(TF_PROTOCOL)") != std::string_view::npos || header.find("(TF_DIAG)") != std::string_view::npos;
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

bool IsHeaderLine(std::string_view s) {
  std::size_t i = 0;
  return Lit(s, &i, "TL_") && Run(s, &i, 1, 16, IsUpper) && Lit(s, &i, "(TF_") &&
         Run(s, &i, 1, 64, [](char c) { return IsUpper(c) || c == '_'; }) && Lit(s, &i, ") [") &&
         Run(s, &i, 1, 128, [](char c) { return c != ']' && static_cast<unsigned char>(c) >= 0x20; }) &&
         Lit(s, &i, "]") && Run(s, &i, 1, 4, IsHex) && Lit(s, &i, ".") && Run(s, &i, 1, 4, IsHex) &&
         Lit(s, &i, "::") && Run(s, &i, 2, 2, IsDigit) && Lit(s, &i, "/") && Run(s, &i, 2, 2, IsDigit) &&
         Lit(s, &i, "/") && Run(s, &i, 4, 4, IsDigit) && Lit(s, &i, "-") && Run(s, &i, 2, 2, IsDigit) &&
         Lit(s, &i, ":") && Run(s, &i, 2, 2, IsDigit) && Lit(s, &i, ":") && Run(s, &i, 2, 2, IsDigit) &&
         Lit(s, &i, ".") && Run(s, &i, 3, 3, IsDigit) && Lit(s, &i, ".") && Run(s, &i, 1, 8, IsHex) &&
         (i == s.size() || !IsHex(s[i]));
}

RecordFramer::RecordFramer(const FramerOptions& options) : options_(options) {
  if (options_.batch_bytes == 0) options_.batch_bytes = 1;
  if (options_.max_span_bytes < kPeekBytes) options_.max_span_bytes = kPeekBytes;
}

void RecordFramer::Feed(std::string_view bytes) {
  if (finished_ || bytes.empty()) return;
  fed_ += bytes.size();
  if (buf_.capacity() < buf_.size() + bytes.size()) {
    // Grow once to hold a whole batch plus a chunk or two, not by doubling.
    std::string bigger = TakeSpare();
    bigger.reserve(std::max(buf_.size() + bytes.size(), options_.batch_bytes + 2 * bytes.size()));
    bigger.append(buf_);
    buf_.swap(bigger);
  }
  buf_.append(bytes.data(), bytes.size());
  Scan(false);
  MaybeEmitBatch(false);
}

void RecordFramer::Finish() {
  if (finished_) return;
  Scan(true);
  finished_ = true;
  MaybeEmitBatch(true);
}

std::uint32_t RecordFramer::CutBits() const {
  if (state_ == State::kForeign || (state_ == State::kRecord && span_expects_end_)) return kMalformedTruncated;
  return 0;
}

void RecordFramer::StartSpan(std::size_t pos, State state, std::uint32_t malformed) {
  state_ = state;
  span_begin_ = pos;
  span_line_ = line_no_;
  span_bits_ = malformed;
  span_blank_ = true;
  span_expects_end_ = true;
}

// Closes the open span (record, look-alike or junk) at end_pos, if it is not
// empty, and leaves the framer outside any span.
void RecordFramer::CloseSpan(std::size_t end_pos, std::uint32_t extra_bits) {
  if (end_pos > span_begin_) {
    FramedSpan span;
    span.offset = buf_offset_ + span_begin_;
    span.line = span_line_;
    span.size = static_cast<std::uint32_t>(end_pos - span_begin_);
    span.malformed = span_bits_ | extra_bits;
    switch (state_) {
      case State::kRecord: span.kind = RecordKind::kOther; break;
      case State::kForeign: span.kind = RecordKind::kForeign; break;
      case State::kOutside:
        span.kind = RecordKind::kJunk;
        std::string_view junk = std::string_view(buf_).substr(span_begin_, end_pos - span_begin_);
        if (junk != kBom && (!span_blank_ || !IsBlank(junk))) {
          span.malformed |= kMalformedJunk;
        }
        break;
    }
    spans_.push_back(span);
  }
  done_ = end_pos;
  state_ = State::kOutside;
  span_begin_ = end_pos;
  span_line_ = line_no_;
  span_bits_ = 0;
  span_blank_ = true;
}

void RecordFramer::Scan(bool at_eof) {
  for (;;) {
    // 1. Judge the current line from its first bytes.
    if (!line_classified_) {
      std::size_t avail = buf_.size() - line_begin_;
      if (avail == 0) break;
      std::string_view rest = std::string_view(buf_).substr(line_begin_);
      if (at_file_start_) {
        if (avail < kBom.size() && !at_eof && rest == kBom.substr(0, avail)) break;  // may become a BOM
        at_file_start_ = false;
        if (rest.substr(0, kBom.size()) == kBom) {
          // A BOM is a junk span of its own, without a malformed bit.
          CloseSpan(line_begin_ + kBom.size(), 0);
          line_begin_ += kBom.size();
          scan_pos_ = std::max(scan_pos_, line_begin_);
          continue;
        }
      }
      // Fast path: most lines cannot start or end anything. Only lines
      // beginning "TL_", "$$", a digit or a BOM byte need a closer look.
      {
        char c0 = rest[0];
        bool candidate;
        if (c0 == 'T') {
          candidate = avail < 3 ? (rest == std::string_view("TL_").substr(0, avail)) : rest.substr(0, 3) == "TL_";
        } else if (c0 == '$') {
          candidate = avail < 2 || rest[1] == '$';
        } else {
          candidate = IsDigit(c0) || c0 == kBom[0];
        }
        if (!candidate) {
          line_classified_ = true;
          pending_end_ = false;
        }
      }
    }
    if (!line_classified_) {
      std::string_view rest = std::string_view(buf_).substr(line_begin_);
      std::string_view peek = rest.substr(0, kPeekBytes);
      std::size_t nl = peek.find('\n');
      bool complete = nl != std::string_view::npos;
      if (!complete && peek.size() < kPeekBytes && !at_eof) break;  // need more bytes
      if (complete) peek = peek.substr(0, nl + 1);
      std::uint32_t cut_bits = CutBits();

      // A BOM at the start of a line that then starts a record (several
      // outputs appended): the BOM is its own unflagged junk span.
      if (peek.substr(0, kBom.size()) == kBom &&
          (peek.substr(kBom.size(), 3) == "TL_" || IsForeignStart(peek.substr(kBom.size())))) {
        CloseSpan(line_begin_, cut_bits);
        CloseSpan(line_begin_ + kBom.size(), 0);
        line_begin_ += kBom.size();
        scan_pos_ = std::max(scan_pos_, line_begin_);
        continue;
      }

      line_classified_ = true;
      pending_end_ = false;
      if (peek.substr(0, 3) == "TL_") {
        CloseSpan(line_begin_, cut_bits);
        StartSpan(line_begin_, State::kRecord, IsHeaderLine(StripEol(peek)) ? 0u : std::uint32_t{kMalformedHeaderLine});
        span_expects_end_ = ExpectsEndMarker(peek);
      } else if (!peek.empty() && (IsDigit(peek[0]) || (peek[0] == '$' && state_ == State::kOutside)) &&
                 IsForeignStart(peek)) {
        CloseSpan(line_begin_, cut_bits);
        StartSpan(line_begin_, State::kForeign, kMalformedForeign);
      } else if ((complete || at_eof) && state_ != State::kOutside && IsEndLine(peek)) {
        pending_end_ = true;
      }
      // Any other line continues the open record, look-alike or junk.
    }

    // 2. Find the end of the line, never looking past the longest span.
    std::size_t span_cap = span_begin_ + options_.max_span_bytes;
    std::size_t limit = std::min(buf_.size(), span_cap);
    const char* found = nullptr;
    if (scan_pos_ < limit) {
      found = static_cast<const char*>(std::memchr(buf_.data() + scan_pos_, '\n', limit - scan_pos_));
    }
    if (found == nullptr) {
      if (limit == span_cap) {
        // The open span reached max_span_bytes inside a line: cut it there;
        // what follows is junk until the next record starts.
        bool was_record = state_ != State::kOutside;
        CloseSpan(limit, was_record ? std::uint32_t{kMalformedTruncated | kMalformedLongLine} : 0u);
        if (was_record) span_blank_ = false;
        scan_pos_ = limit;
        continue;
      }
      scan_pos_ = limit;
      if (!at_eof) break;
      // End of file inside a line: the open span ends with the file.
      CloseSpan(buf_.size(), pending_end_ ? 0u : CutBits());
      pending_end_ = false;
      line_begin_ = scan_pos_ = buf_.size();
      line_classified_ = false;
      break;
    }
    std::size_t line_end = static_cast<std::size_t>(found - buf_.data()) + 1;
    ++line_no_;
    line_begin_ = scan_pos_ = line_end;
    line_classified_ = false;
    if (pending_end_) {
      pending_end_ = false;
      CloseSpan(line_end, 0);
    }
  }
  if (at_eof && done_ < buf_.size()) {
    CloseSpan(buf_.size(), CutBits());
  }
}

void RecordFramer::MaybeEmitBatch(bool force) {
  // Hand out batches of closed spans, each at least batch_bytes (except the
  // last one at the end of the file). The common case (the batch starts the
  // buffer and less than a batch follows it) moves the buffer into the batch
  // and copies only the tail, so each input byte is copied once by Feed().
  std::size_t first = 0;
  std::size_t consumed = 0;  // bytes at the front of buf_ already handed out by copy
  while (first < spans_.size()) {
    std::size_t bytes = 0;
    std::size_t last = first;
    while (last < spans_.size() && bytes < options_.batch_bytes) bytes += spans_[last++].size;
    if (bytes < options_.batch_bytes && !force) break;
    RecordBatch batch;
    batch.offset = spans_[first].offset;
    batch.line = spans_[first].line;
    batch.sequence = next_sequence_++;
    batch.spans.assign(spans_.begin() + static_cast<std::ptrdiff_t>(first),
                       spans_.begin() + static_cast<std::ptrdiff_t>(last));
    std::size_t begin = static_cast<std::size_t>(batch.offset - buf_offset_);
    std::size_t tail = buf_.size() - (begin + bytes);
    if (begin == 0 && tail <= bytes) {
      std::string next = TakeSpare();
      next.reserve(std::max(buf_.capacity(), tail));
      next.assign(buf_, bytes, tail);
      batch.data = std::move(buf_);
      batch.data.resize(bytes);
      buf_ = std::move(next);
      Shift(bytes);
    } else {
      batch.data = TakeSpare();
      batch.data.assign(buf_, begin, bytes);
      consumed = begin + bytes;
    }
    ready_.push_back(std::move(batch));
    first = last;
  }
  if (first > 0) spans_.erase(spans_.begin(), spans_.begin() + static_cast<std::ptrdiff_t>(first));
  if (consumed > 0) {
    buf_.erase(0, consumed);
    Shift(consumed);
  }
}

// Positions into buf_ move back by n bytes (dropped from its front).
void RecordFramer::Shift(std::size_t n) {
  buf_offset_ += n;
  done_ -= n;
  span_begin_ -= n;
  line_begin_ -= n;
  scan_pos_ -= n;
}

void RecordFramer::Recycle(RecordBatch&& batch) {
  if (batch.data.capacity() >= options_.batch_bytes && spare_.size() < 4) spare_.push_back(std::move(batch.data));
  batch.data = std::string();
  batch.spans.clear();
}

std::string RecordFramer::TakeSpare() {
  if (spare_.empty()) return std::string();
  std::string s = std::move(spare_.back());
  spare_.pop_back();
  s.clear();
  return s;
}

bool RecordFramer::NextBatch(RecordBatch* batch) {
  if (ready_head_ >= ready_.size()) {
    ready_.clear();
    ready_head_ = 0;
    return false;
  }
  // The caller's previous batch buffer is reused for later batches.
  Recycle(std::move(*batch));
  *batch = std::move(ready_[ready_head_++]);
  if (ready_head_ == ready_.size()) {
    ready_.clear();
    ready_head_ = 0;
  }
  return true;
}

}  // namespace sipdex
