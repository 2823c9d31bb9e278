#pragma once
// Segment payloads: the compressed bytes of consecutive records of one file
// plus their per-record table (storage/README.md, "Segment payload").
// Internal to storage/.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
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
  kTemplates = 2,  // chunks of records; lines split into column keys, skeletons and typed
                   // variables (storage/codec_template.h); supports point reads
};

// Raw text per chunk of a kTemplates segment (a point read decodes one chunk).
inline constexpr std::size_t kDefaultChunkBytes = 1 << 20;

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
  // The records' encoded facts (storage/facts.h, FactsEncoder::Finish), stored
  // by kTemplates payloads in a section of their own; empty: none. Decoders
  // leave it alone (SegmentDecoder::DecodeFacts reads it).
  std::string facts;
};

// Encodes `data` into a self-checking payload. `level` is the zstd level;
// `chunk_bytes` (kTemplates only) the raw text per independently compressed
// chunk of whole records (0: one chunk). REQUIRES: the records' sizes sum to
// data.text.size() and every record's server indexes data.servers (or is 0).
std::string EncodeSegment(const SegmentData& data, TextCodec codec, int level,
                          std::size_t chunk_bytes = kDefaultChunkBytes);

// A growable scratch byte buffer for decoding: never zero-filled, and from
// 256 KiB up it lives in transparent huge pages when the kernel gives them
// (on the VMs this runs on, a 4 KiB page fault costs 5-20 us, so a fresh
// 1 MiB buffer costs milliseconds; one 2 MiB page costs about one fault).
// Not copyable; contents are not kept when it grows.
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  // A buffer of at least n bytes (contents unspecified). Never fails: falls
  // back to operator new when mapping fails.
  char* Reserve(std::size_t n);

 private:
  char* data_ = nullptr;
  std::size_t capacity_ = 0;
  bool mapped_ = false;
};

// Where a record picked by SegmentDecoder::DecodeSelected lies in its file.
struct RecordPosition {
  std::uint64_t offset = 0;  // byte offset in the decompressed file
  std::uint32_t line = 0;    // 1-based line of its first line
};

// Decodes payloads, keeping its buffers between calls (decoding a segment
// allocates nothing once the buffers have grown). One per thread.
class SegmentDecoder {
 public:
  SegmentDecoder();
  ~SegmentDecoder();
  SegmentDecoder(const SegmentDecoder&) = delete;
  SegmentDecoder& operator=(const SegmentDecoder&) = delete;

  // Decodes a whole payload into *out, reusing the capacity of out's members.
  // Corruption (naming what is wrong) on a checksum mismatch, a bad zstd frame
  // or inconsistent sizes; never reads or writes out of bounds.
  Status Decode(std::string_view payload, SegmentData* out);

  // Decodes records [first, first + count) of a payload: out->records and
  // out->text hold just those records, out->start_offset and out->start_line
  // are those of record `first`, out->servers all the segment's servers. For
  // kTemplates payloads only the chunks holding those records are
  // decompressed. InvalidArgument when the range is not inside the segment;
  // Corruption as for Decode.
  Status DecodeRecords(std::string_view payload, std::uint32_t first, std::uint32_t count, SegmentData* out);

  // Decodes the records at `ordinals` (strictly ascending positions in the
  // segment): out->records and out->text hold just those records, back to
  // back; (*positions)[i] is the file offset and 1-based line of record
  // ordinals[i]; out->servers all the segment's servers; out->start_offset
  // and out->start_line those of the first picked record. For kTemplates
  // payloads only the chunks holding them are decompressed, each once, and no
  // buffer is zero-filled. InvalidArgument when an ordinal is outside the
  // segment or out of order; Corruption as for Decode.
  Status DecodeSelected(std::string_view payload, std::span<const std::uint32_t> ordinals, SegmentData* out,
                        std::vector<RecordPosition>* positions);

  // A record found by Search: its ordinal in the segment, its text (valid
  // during the callback only) and where it lies in its file.
  struct Found {
    std::uint32_t ordinal = 0;
    std::string_view text;
    RecordPosition position;
  };
  // Finds the records of a payload whose own bytes hold at least one of
  // `literals` (FindRecordsHolding: a hit spanning two records counts for
  // neither; an empty literal is in every record), chunk by chunk: each
  // kTemplates chunk is decoded into one buffer and searched as a whole, so
  // records without a hit are never copied, positioned or reported (other
  // codecs: the whole text is one chunk). `want`, when set, is asked first
  // about each record (the segment's table is in *table by then): a record it
  // refuses is never reported, and a chunk without a wanted record is not
  // decompressed. Calls fn for each found record in segment order. *table
  // receives the table (records, servers, start offset and line; its text is
  // unspecified). Corruption as for Decode.
  Status Search(std::string_view payload, std::span<const std::string> literals,
                const std::function<bool(const SegmentData& table, std::uint32_t ordinal)>& want, SegmentData* table,
                const std::function<void(const Found&)>& fn);

  // Decodes only the per-record table (sizes, kinds, malformed bits, times,
  // servers) and the start offset and line of a payload of `payload_size`
  // bytes; out->text is left empty. `head` is the payload or a prefix of it.
  // For kTemplates payloads a prefix suffices: no text chunk is read or
  // decompressed, and the payload checksum (it covers the chunks) is not
  // checked (Verify does); other codecs need the whole payload. When `head`
  // is too short, returns ok with *needed set to a longer prefix length to
  // try (at most payload_size) and *out unspecified; else *needed is 0.
  // Corruption on bad bytes; never reads out of bounds.
  Status DecodeTable(std::string_view head, std::uint64_t payload_size, SegmentData* out, std::size_t* needed);

  // Like DecodeTable, and also the segment's facts: *facts views their
  // decompressed bytes (in this decoder's buffer, valid until its next call;
  // empty when the payload stores none, as codecs 0 and 1 never do). Only
  // the header, table and facts are read and decompressed, never a text
  // chunk; the facts section's own checksum is checked, not the payload's.
  // Same `needed` protocol as DecodeTable. Corruption on bad bytes, never
  // reads out of bounds.
  Status DecodeFacts(std::string_view head, std::uint64_t payload_size, SegmentData* out, std::string_view* facts,
                     std::size_t* needed);

 private:
  // Reads a payload's codec and its table into *table: for kTemplates the
  // table and chunk entries only (*total = the text size they declare), for
  // the other codecs the whole decode (*total = its text size).
  Status OpenPayload(std::string_view payload, SegmentData* table, bool* templates, std::uint64_t* total);

  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// The compressed size of the facts section of a payload of `payload_size`
// bytes, from `head`, a prefix of it (0 for codecs 0 and 1, which store no
// facts). When `head` is too short: ok with *needed set to a longer prefix
// length to try, else *needed is 0. Corruption on bad bytes.
Status FactsFrameSize(std::string_view head, std::uint64_t payload_size, std::uint64_t* frame_bytes,
                      std::size_t* needed);

// SegmentDecoder::Decode with a decoder owned by the calling thread.
Status DecodeSegment(std::string_view payload, SegmentData* out);
// SegmentDecoder::DecodeRecords with a decoder owned by the calling thread.
Status DecodeSegmentRecords(std::string_view payload, std::uint32_t first, std::uint32_t count, SegmentData* out);

// Marks the records of `text` (records[i].size bytes each, back to back;
// the sizes sum to text.size()) whose own bytes hold at least one of
// `literals`: (*found)[i] = 1, else 0 (resized to records.size()). Each
// literal is searched once over the whole text; a hit is mapped to its record
// through the sizes and counts only when it ends inside that record, so a
// literal spanning a record boundary matches neither record. An empty literal
// is in every record. When `wanted` is not empty (one byte per record),
// records whose byte is 0 are never marked. Equivalent to memmem on each
// record's bytes; the searches skip the rest of a record once it is marked.
void FindRecordsHolding(std::string_view text, std::span<const SegmentRecordMeta> records,
                        std::span<const std::string> literals, std::span<const std::uint8_t> wanted,
                        std::vector<std::uint8_t>* found);

// The first occurrence of `literal` in [data, data + size), or nullptr; like
// memmem, an empty literal is found at `data`. Compares 16 candidate positions
// at a time on their first and last bytes (SSE2) where available.
const char* FindLiteral(const char* data, std::size_t size, std::string_view literal);

// Splits text into the columns layout and back (exposed for tests).
std::string EncodeColumns(std::string_view text);
Status DecodeColumns(std::string_view encoded, std::string* text);

}  // namespace sipdex::storage
