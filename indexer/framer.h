#pragma once
// Record framing: cuts the decompressed bytes of one log file into spans.
//
// Every input byte belongs to exactly one span, and the spans of a file, in
// order, concatenate to exactly the file's bytes (so storage can be lossless).
// A span is one of:
//   - a record of this format (kind kOther until ParseRecord refines it to
//     kProtocol / kDiagnostic / kOther), starting at a column-0 line that
//     begins with "TL_";
//   - a look-alike record from another product (kForeign, flagged
//     kMalformedForeign);
//   - junk (kJunk): bytes that belong to no record.
//
// Rules (see also indexer/README.md):
//   * A record starts at a column-0 line beginning with "TL_". When the line
//     matches `TL_[A-Z]+\(TF_[A-Z_]+\) \[[^]]*\]HEX.HEX::NN/NN/NNNN-NN:NN:NN.NNN.HEX`
//     it is a well-formed header line; otherwise the record is still cut there
//     but flagged kMalformedHeaderLine (a garbled header line is never glued to
//     the previous record, and never silently dropped).
//   * A look-alike starts at a column-0 line of the shape `NN/NN/NNNN-` (a
//     DD/MM/YYYY header, no TL_) that contains "$$begin_record", or at a line
//     that is exactly "$$begin_record" outside a record.
//   * A record ends after its "$$end_record" line (line terminator included),
//     or where the next record / look-alike starts, or at end of file; the last
//     two cases flag it kMalformedTruncated when the record was expected to
//     end with "$$end_record": its header line holds "$$begin_record", or its
//     flag is TF_PROTOCOL or TF_DIAG. One-line traces of other flags (tail
//     shape 3, free text and no marker) legitimately have no end marker.
//   * Bytes between records are junk. A UTF-8 BOM at offset 0 is a 3-byte junk
//     span of its own with no malformed bit (the format allows it); other junk
//     spans are flagged kMalformedJunk unless they are only whitespace (blank
//     lines, a stray CR), which are kept as unflagged junk.
//   * Spans are cut at FramerOptions::max_span_bytes: a record longer than that
//     is emitted as a first piece flagged kMalformedTruncated|kMalformedLongLine
//     and the rest of it becomes junk spans (flagged kMalformedJunk), each at
//     most max_span_bytes. Memory is therefore bounded by about
//     max_span_bytes + batch_bytes + the size of one Feed() chunk, whatever the
//     file size.
//   * Lines are terminated by LF (CRLF lines keep their CR in the span). Line
//     numbers are 1-based; offsets are byte offsets in the decompressed file.
//   * Framing is linear in the input however it is chunked (a megabyte line
//     fed one byte at a time is scanned once).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/record.h"

namespace sipdex {

// One span of a batch.
struct FramedSpan {
  RecordKind kind = RecordKind::kOther;  // kOther (a TL_ record, refined by ParseRecord), kForeign or kJunk
  std::uint32_t malformed = kMalformedNone;  // bits the framer knows: truncated, header-line, long-line, foreign, junk
  std::uint64_t offset = 0;  // byte offset of the span's first byte in the file
  std::uint32_t line = 0;    // 1-based line of the span's first byte
  std::uint32_t size = 0;    // bytes
};

// Whole spans, back to back in one contiguous buffer. Batches of one file, in
// the order the framer hands them out, concatenate to the file.
struct RecordBatch {
  std::string data;               // the bytes of all spans, in order
  std::uint64_t offset = 0;       // file offset of data[0]
  std::uint32_t line = 0;         // 1-based line of data[0]
  std::uint64_t sequence = 0;     // 0, 1, 2, ... per framer (to restore order after parallel work)
  std::vector<FramedSpan> spans;  // cover `data` exactly, in order

  // The bytes of spans[i]. REQUIRES: i < spans.size().
  std::string_view Text(std::size_t i) const {
    return std::string_view(data).substr(static_cast<std::size_t>(spans[i].offset - offset), spans[i].size);
  }
};

struct FramerOptions {
  // A batch is handed out once it holds at least this many bytes (or at
  // Finish()). Default: 4 MB, large enough to amortise a thread hand-off.
  std::size_t batch_bytes = 4u << 20;
  // Longest span kept whole; see the rules above. Default: 64 MB.
  std::size_t max_span_bytes = 64u << 20;
};

// True when `line` (without its terminator) is a well-formed header line
// start: `TL_LEVEL(TF_FLAG) [m]PID.TID::MM/DD/YYYY-HH:MM:SS.mmm.SEQ` (shape
// only; the date's values are checked by the parser).
bool IsHeaderLine(std::string_view line);

// Frames one file. Not thread-safe; one framer per file. Typical use:
//   RecordFramer framer;
//   while (read chunk) { framer.Feed(chunk); while (framer.NextBatch(&b)) use(b); }
//   framer.Finish(); while (framer.NextBatch(&b)) use(b);
class RecordFramer {
 public:
  explicit RecordFramer(const FramerOptions& options = FramerOptions());

  RecordFramer(const RecordFramer&) = delete;
  RecordFramer& operator=(const RecordFramer&) = delete;

  // Appends the next bytes of the file (any size, including 0). Bytes are
  // copied; `bytes` may be reused by the caller after the call.
  // REQUIRES: Finish() has not been called.
  void Feed(std::string_view bytes);

  // Declares the end of the file: the pending record (if any) is closed,
  // flagged kMalformedTruncated when it has no $$end_record. An empty file
  // yields no span at all (the caller reports kMalformedEmptyFile).
  void Finish();

  // Moves the next complete batch into *batch and returns true; returns
  // false when no batch is ready yet (feed more, or Finish()). The previous
  // content of *batch is replaced; its buffer is kept for reuse by later
  // batches (so a caller that reuses one RecordBatch avoids allocations).
  bool NextBatch(RecordBatch* batch);

  // Gives a batch's buffer back for reuse once the caller is done with it
  // (optional: it saves the page faults of fresh multi-megabyte buffers).
  void Recycle(RecordBatch&& batch);

  // Total bytes fed so far.
  std::uint64_t bytes_fed() const { return fed_; }

 private:
  enum class State : std::uint8_t { kOutside, kRecord, kForeign };

  void Scan(bool at_eof);
  void StartSpan(std::size_t pos, State state, std::uint32_t malformed);
  void CloseSpan(std::size_t end_pos, std::uint32_t extra_bits);
  std::uint32_t CutBits() const;  // bits for the open span when it is cut short
  void MaybeEmitBatch(bool force);
  void Shift(std::size_t n);
  std::string TakeSpare();

  FramerOptions options_;
  std::string buf_;              // bytes not yet handed out; buf_[0] is at file offset buf_offset_
  std::uint64_t buf_offset_ = 0;
  std::size_t done_ = 0;         // buf_[0, done_) are closed spans of the batch being built
  std::vector<FramedSpan> spans_;

  State state_ = State::kOutside;
  std::size_t span_begin_ = 0;   // start of the open span in buf_
  std::uint32_t span_line_ = 1;
  std::uint32_t span_bits_ = 0;
  bool span_blank_ = true;       // junk span holds only whitespace so far
  bool span_expects_end_ = true; // the open record must end with $$end_record

  std::size_t line_begin_ = 0;   // start of the current (incomplete) line in buf_
  std::size_t scan_pos_ = 0;     // where the search for '\n' resumes
  std::uint32_t line_no_ = 1;    // line number of line_begin_
  bool line_classified_ = false; // the current line's first bytes were already judged
  bool pending_end_ = false;     // the current line is "$$end_record": close the span at its end
  bool at_file_start_ = true;

  std::uint64_t fed_ = 0;
  std::uint64_t next_sequence_ = 0;
  bool finished_ = false;
  std::vector<std::string> spare_;  // buffers of batches the caller gave back, for reuse
  std::vector<RecordBatch> ready_;
  std::size_t ready_head_ = 0;
};

}  // namespace sipdex
