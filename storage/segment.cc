#include "storage/segment.h"

#include <sys/mman.h>
#include <zstd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "storage/codec_template.h"
#include "storage/coding.h"

namespace sipdex::storage {
namespace {

constexpr std::string_view kMagic = "SXS1";
constexpr std::size_t kMaxHeaderName = 48;
constexpr std::size_t kMaxDictNames = 4096;
constexpr std::uint64_t kMaxRawSize = 1ull << 31;  // a segment never holds more than 2 GiB

enum LineEnding : std::uint32_t { kLf = 0, kCrLf = 1, kNone = 2 };

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

// The column key of a line: "Name:" plus one following space, or "" when the
// line does not start with a header name.
std::string_view HeaderKey(std::string_view line) {
  std::size_t n = std::min(line.size(), kMaxHeaderName + 1);
  for (std::size_t i = 0; i < n; ++i) {
    char c = line[i];
    if (c == ':') {
      if (i == 0) return {};
      std::size_t end = i + 1;
      if (end < line.size() && line[end] == ' ') ++end;
      return line.substr(0, end);
    }
    if (!IsNameChar(c)) return {};
  }
  return {};
}

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// Appends one zstd frame of `in` to *out.
void CompressAppend(std::string_view in, int level, std::string* out) {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
  thread_local std::string scratch;  // grows only, so reuse costs no memset
  ZSTD_CCtx_reset(cctx.get(), ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  int window = 20;
  while (window < 25 && (std::size_t{1} << window) < in.size()) ++window;
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, window);
  std::size_t bound = ZSTD_compressBound(in.size());
  if (scratch.size() < bound) scratch.resize(bound);
  std::size_t n = ZSTD_compress2(cctx.get(), scratch.data(), bound, in.data(), in.size());
  // Compression into a buffer of ZSTD_compressBound bytes cannot fail.
  if (!ZSTD_isError(n)) out->append(scratch.data(), n);
}

std::string Compress(std::string_view in, int level) {
  std::string out;
  CompressAppend(in, level, &out);
  return out;
}

// The zstd level of the facts section (small next to the text, read by every
// facts query).
constexpr int kFactsLevel = 9;

// Appends facts_section := fixed64be(XXH3-64 of facts_frame) varint(facts_size)
// lenpref(facts_frame); no facts: an empty frame and size 0.
void PutFactsSection(std::string_view facts, std::string* out) {
  std::string frame;
  if (!facts.empty()) CompressAppend(facts, kFactsLevel, &frame);
  PutFixed64BE(out, Hash64(frame));
  PutVarint64(out, facts.size());
  PutLengthPrefixed(out, frame);
}

// Reads a facts section from the front of *in (checksum, raw size, frame).
bool GetFactsSection(std::string_view* in, std::uint64_t* checksum, std::uint64_t* size, std::string_view* frame) {
  return GetFixed64BE(in, checksum) && GetVarint64(in, size) && GetLengthPrefixed(in, frame);
}


}  // namespace

std::string EncodeColumns(std::string_view text) {
  std::vector<std::string_view> names;
  std::unordered_map<std::string_view, std::uint32_t> ids;
  std::vector<std::string> cols(2);  // 0: TL_ header lines, 1: other lines, 2+i: names[i]
  std::string ops;
  std::uint64_t nlines = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line;
    std::uint32_t ending;
    if (nl == std::string_view::npos) {
      line = text.substr(pos);
      ending = kNone;
      pos = text.size();
    } else {
      line = text.substr(pos, nl - pos);
      ending = kLf;
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
        ending = kCrLf;
      }
      pos = nl + 1;
    }
    std::uint32_t col = 1;
    std::string_view value = line;
    if (line.starts_with("TL_")) {
      col = 0;
    } else if (std::string_view key = HeaderKey(line); !key.empty()) {
      auto it = ids.find(key);
      if (it != ids.end()) {
        col = it->second;
      } else if (names.size() < kMaxDictNames) {
        col = static_cast<std::uint32_t>(cols.size());
        ids.emplace(key, col);
        names.push_back(key);
        cols.emplace_back();
      }
      if (col != 1) value = line.substr(key.size());
    }
    cols[col].append(value);
    cols[col].push_back('\n');
    PutVarint64(&ops, std::uint64_t{col} * 3 + ending);
    ++nlines;
  }
  std::string out;
  PutVarint64(&out, names.size());
  for (std::string_view n : names) PutLengthPrefixed(&out, n);
  PutVarint64(&out, nlines);
  PutLengthPrefixed(&out, ops);
  PutVarint64(&out, cols.size());
  for (const std::string& c : cols) PutVarint64(&out, c.size());
  for (const std::string& c : cols) out.append(c);
  return out;
}

Status DecodeColumns(std::string_view in, std::string* text) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment columns: " + std::string(what)); };
  std::uint64_t ndict = 0;
  if (!GetVarint64(&in, &ndict) || ndict > kMaxDictNames) return bad("bad name count");
  std::vector<std::string_view> names(static_cast<std::size_t>(ndict));
  for (auto& n : names) {
    if (!GetLengthPrefixed(&in, &n)) return bad("names cut short");
  }
  std::uint64_t nlines = 0;
  std::string_view ops;
  std::uint64_t ncols = 0;
  if (!GetVarint64(&in, &nlines) || !GetLengthPrefixed(&in, &ops) || !GetVarint64(&in, &ncols)) {
    return bad("header cut short");
  }
  if (ncols != ndict + 2) return bad("column count does not match the names");
  std::vector<std::string_view> cols(static_cast<std::size_t>(ncols));
  std::vector<std::uint64_t> sizes(cols.size());
  for (auto& s : sizes) {
    if (!GetVarint64(&in, &s)) return bad("column sizes cut short");
  }
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (!GetBytes(&in, static_cast<std::size_t>(std::min<std::uint64_t>(sizes[i], in.size() + 1)), &cols[i])) {
      return bad("column cut short");
    }
  }
  if (!in.empty()) return bad("trailing bytes");
  text->clear();
  for (std::uint64_t i = 0; i < nlines; ++i) {
    std::uint64_t op = 0;
    if (!GetVarint64(&ops, &op)) return bad("line stream cut short");
    std::uint64_t col = op / 3;
    std::uint64_t ending = op % 3;
    if (col >= cols.size()) return bad("line names an unknown column");
    if (ending == kNone && i + 1 != nlines) return bad("unterminated line before the end");
    std::string_view& c = cols[static_cast<std::size_t>(col)];
    std::size_t nl = c.find('\n');
    if (nl == std::string_view::npos) return bad("column ran out of values");
    if (col >= 2) text->append(names[static_cast<std::size_t>(col - 2)]);
    text->append(c.substr(0, nl));
    c.remove_prefix(nl + 1);
    if (ending == kLf) text->push_back('\n');
    if (ending == kCrLf) text->append("\r\n");
  }
  if (!ops.empty()) return bad("trailing line stream bytes");
  for (std::string_view c : cols) {
    if (!c.empty()) return bad("unused column values");
  }
  return Status::Ok();
}

namespace {

// Reads a payload's magic and codec byte from the front of *p.
Status ReadPayloadCodec(std::string_view* p, std::uint8_t* codec) {
  std::string_view magic;
  if (!GetBytes(p, kMagic.size(), &magic) || magic != kMagic) return Status::Corruption("segment: bad magic");
  if (p->empty()) return Status::Corruption("segment: cut short");
  *codec = static_cast<std::uint8_t>((*p)[0]);
  p->remove_prefix(1);
  return Status::Ok();
}

// Appends the segment header and the per-record table (shared by all codecs).
void PutHeaderTable(const SegmentData& data, std::string* body) {
  PutVarint64(body, data.records.size());
  PutVarint64(body, data.start_offset);
  PutVarint64(body, data.start_line);
  PutVarint64(body, data.servers.size());
  for (const std::string& s : data.servers) PutLengthPrefixed(body, s);
  // The table, one column after another (sizes, kinds, ...) so that each
  // compresses as a run of similar values.
  for (const auto& r : data.records) PutVarint64(body, r.size);
  for (const auto& r : data.records) body->push_back(static_cast<char>(r.kind));
  for (const auto& r : data.records) PutVarint64(body, r.malformed);
  TimeMs prev = 0;
  for (const auto& r : data.records) {
    PutSignedVarint64(body, r.time - prev);
    prev = r.time;
  }
  for (const auto& r : data.records) PutVarint64(body, (std::uint64_t{r.server} << 1) | (r.has_time ? 1 : 0));
}

// Parses what PutHeaderTable wrote into *out (all but text); *total receives
// the sum of the record sizes.
Status ParseHeaderTable(std::string_view* in, SegmentData* out, std::uint64_t* total) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment: " + std::string(what)); };
  std::uint64_t count = 0, start_offset = 0, start_line = 0, nservers = 0;
  if (!GetVarint64(in, &count) || !GetVarint64(in, &start_offset) || !GetVarint64(in, &start_line) ||
      !GetVarint64(in, &nservers)) {
    return bad("header cut short");
  }
  if (count > in->size() || nservers > in->size() || start_line > 0xffffffffu) return bad("impossible counts");
  out->servers.resize(static_cast<std::size_t>(nservers));
  for (auto& s : out->servers) {
    std::string_view v;
    if (!GetLengthPrefixed(in, &v)) return bad("servers cut short");
    s.assign(v);
  }
  out->records.resize(static_cast<std::size_t>(count));
  out->start_offset = start_offset;
  out->start_line = static_cast<std::uint32_t>(start_line);
  *total = 0;
  for (auto& r : out->records) {
    if (!GetVarint32(in, &r.size)) return bad("sizes cut short");
    *total += r.size;
  }
  if (*total > kMaxRawSize) return bad("impossible text size");
  std::string_view kinds;
  if (!GetBytes(in, out->records.size(), &kinds)) return bad("kinds cut short");
  for (std::size_t i = 0; i < out->records.size(); ++i) {
    auto k = static_cast<std::uint8_t>(kinds[i]);
    if (k >= kRecordKindCount) return bad("unknown record kind");
    out->records[i].kind = static_cast<RecordKind>(k);
  }
  for (auto& r : out->records) {
    if (!GetVarint32(in, &r.malformed)) return bad("malformed bits cut short");
  }
  TimeMs prev = 0;
  for (auto& r : out->records) {
    std::int64_t d = 0;
    if (!GetSignedVarint64(in, &d)) return bad("times cut short");
    prev = static_cast<TimeMs>(static_cast<std::uint64_t>(prev) + static_cast<std::uint64_t>(d));
    r.time = prev;
  }
  for (auto& r : out->records) {
    std::uint64_t v = 0;
    if (!GetVarint64(in, &v)) return bad("flags cut short");
    r.has_time = (v & 1) != 0;
    if ((v >> 1) >= out->servers.size() && !(out->servers.empty() && (v >> 1) == 0)) return bad("unknown server");
    r.server = static_cast<std::uint32_t>(v >> 1);
  }
  return Status::Ok();
}

// Decompresses one zstd frame of exactly `size` bytes into dst.
Status DecompressTo(std::string_view in, char* dst, std::size_t size) {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx(ZSTD_createDCtx());
  std::size_t n = ZSTD_decompressDCtx(dctx.get(), dst, size, in.data(), in.size());
  if (ZSTD_isError(n)) return Status::Corruption(std::string("segment: zstd: ") + ZSTD_getErrorName(n));
  if (n != size) return Status::Corruption("segment: decompressed size differs from the recorded size");
  return Status::Ok();
}

// A buffer of at least n bytes in *buf (never zero-filled).
char* Reserve(ScratchBuffer* buf, std::size_t n) { return buf->Reserve(n); }

struct ChunkEntry {
  std::uint32_t first = 0;       // index of the chunk's first record in the segment
  std::uint32_t count = 0;
  std::uint64_t text_offset = 0; // of the chunk's text in the segment's text
  std::uint64_t text_size = 0;
  std::uint64_t line_feeds_before = 0;
  std::uint64_t line_feeds = 0;
  std::uint64_t body_size = 0;
  std::uint64_t frame_size = 0;
  std::string_view frame;
};

std::string EncodeTemplates(const SegmentData& data, int level, std::size_t chunk_bytes) {
  thread_local TemplateChunkEncoder encoder;
  thread_local TemplateNames names;
  thread_local std::string body;
  thread_local std::string frames;
  names.Reset();
  encoder.BeginSegment();
  frames.clear();
  std::string dir;
  std::uint64_t nchunks = 0;
  std::size_t i = 0;
  std::size_t offset = 0;
  const std::size_t n = data.records.size();
  while (i < n) {
    std::size_t j = i;
    std::size_t size = 0;
    while (j < n && (j == i || chunk_bytes == 0 || size + data.records[j].size <= chunk_bytes)) {
      size += data.records[j].size;
      ++j;
    }
    body.clear();
    std::uint64_t feeds = 0;
    encoder.Encode(std::string_view(data.text).substr(offset, size),
                   std::span<const SegmentRecordMeta>(data.records.data() + i, j - i), &names, &body, &feeds);
    std::size_t before = frames.size();
    CompressAppend(body, level, &frames);
    PutVarint64(&dir, j - i);
    PutVarint64(&dir, size);
    PutVarint64(&dir, feeds);
    PutVarint64(&dir, body.size());
    PutVarint64(&dir, frames.size() - before);
    ++nchunks;
    offset += size;
    i = j;
  }
  body.clear();
  PutHeaderTable(data, &body);
  names.Serialize(&body);
  encoder.FinishSegment(&body);
  std::string out;
  out.reserve(frames.size() + dir.size() + body.size() / 4 + 64);
  out.append(kMagic);
  out.push_back(static_cast<char>(TextCodec::kTemplates));
  out.append(8, '\0');  // the checksum, set below
  PutVarint64(&out, body.size());
  std::string meta_frame;
  // The dictionary is small next to the chunks and used by every read: it
  // gets a higher level.
  CompressAppend(body, std::max(level, 7), &meta_frame);
  PutLengthPrefixed(&out, meta_frame);
  PutFactsSection(data.facts, &out);
  PutVarint64(&out, nchunks);
  out.append(dir);
  out.append(frames);
  std::string sum;
  PutFixed64BE(&sum, Hash64(std::string_view(out).substr(kMagic.size() + 9)));
  out.replace(kMagic.size() + 1, 8, sum);
  return out;
}

}  // namespace

std::string EncodeSegment(const SegmentData& data, TextCodec codec, int level, std::size_t chunk_bytes) {
  if (codec == TextCodec::kTemplates) return EncodeTemplates(data, level, chunk_bytes);
  std::string body;
  PutHeaderTable(data, &body);
  if (codec == TextCodec::kColumns) {
    body.append(EncodeColumns(data.text));
  } else {
    body.append(data.text);
  }
  std::string frame = Compress(body, level);
  std::string out;
  out.reserve(frame.size() + 32);
  out.append(kMagic);
  out.push_back(static_cast<char>(codec));
  PutFixed64BE(&out, Hash64(frame));
  PutVarint64(&out, body.size());
  out.append(frame);
  return out;
}

ScratchBuffer::~ScratchBuffer() {
  if (mapped_) {
    ::munmap(data_, capacity_);
  } else {
    delete[] data_;
  }
}

char* ScratchBuffer::Reserve(std::size_t n) {
  if (n <= capacity_ && data_ != nullptr) return data_;
  constexpr std::size_t kSmall = 256u << 10;
  constexpr std::size_t kHuge = 2u << 20;
  if (mapped_) {
    ::munmap(data_, capacity_);
  } else {
    delete[] data_;
  }
  data_ = nullptr;
  capacity_ = 0;
  mapped_ = false;
  if (n >= kSmall) {
    // 2 MiB aligned, so that every 2 MiB of it can be one huge page.
    std::size_t cap = (n + kHuge - 1) / kHuge * kHuge;
    void* p = ::mmap(nullptr, cap + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      auto base = reinterpret_cast<std::uintptr_t>(p);
      std::uintptr_t aligned = (base + kHuge - 1) / kHuge * kHuge;
      if (aligned > base) ::munmap(p, aligned - base);
      std::size_t tail = base + cap + kHuge - (aligned + cap);
      if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + cap), tail);
      ::madvise(reinterpret_cast<void*>(aligned), cap, MADV_HUGEPAGE);  // advice only: may be refused
      data_ = reinterpret_cast<char*>(aligned);
      capacity_ = cap;
      mapped_ = true;
      return data_;
    }
  }
  capacity_ = std::max<std::size_t>(n, 4096);
  data_ = new char[capacity_];
  return data_;
}

struct SegmentDecoder::Rep {
  TemplateChunkDecoder chunks;
  ScratchBuffer meta;         // decompressed meta section
  ScratchBuffer chunk_body;   // decompressed chunk body
  ScratchBuffer chunk_text;   // a chunk's text (point reads)
  ScratchBuffer facts;        // decompressed facts section
  std::vector<std::string_view> names;
  std::vector<ChunkEntry> entries;
  SegmentData all;            // the whole table (point reads)

  // Parses a kTemplates payload after its codec byte: the table into *table
  // (text untouched), the names and the chunk directory into this.
  Status ParseTemplates(std::string_view payload, SegmentData* table, std::uint64_t* total);
  Status DecodeChunk(const ChunkEntry& e, const SegmentData& table, char* out);
  // Codecs 0 and 1 (whole segment only).
  Status DecodeLegacy(std::uint8_t codec, std::string_view payload, SegmentData* out);
};

Status SegmentDecoder::Rep::ParseTemplates(std::string_view payload, SegmentData* table, std::uint64_t* total) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment: " + std::string(what)); };
  std::uint64_t checksum = 0;
  if (!GetFixed64BE(&payload, &checksum)) return bad("cut short");
  if (Hash64(payload) != checksum) return bad("checksum mismatch");
  std::uint64_t meta_size = 0, nchunks = 0, facts_checksum = 0, facts_size = 0;
  std::string_view meta_frame, facts_frame;
  if (!GetVarint64(&payload, &meta_size) || !GetLengthPrefixed(&payload, &meta_frame) ||
      !GetFactsSection(&payload, &facts_checksum, &facts_size, &facts_frame) || !GetVarint64(&payload, &nchunks)) {
    return bad("cut short");
  }
  if (meta_size > kMaxRawSize || nchunks > payload.size()) return bad("impossible sizes");
  char* m = Reserve(&meta, static_cast<std::size_t>(meta_size));
  SIPDEX_RETURN_IF_ERROR(DecompressTo(meta_frame, m, static_cast<std::size_t>(meta_size)));
  std::string_view in(m, static_cast<std::size_t>(meta_size));
  SIPDEX_RETURN_IF_ERROR(ParseHeaderTable(&in, table, total));
  std::uint64_t nnames = 0;
  if (!GetVarint64(&in, &nnames) || nnames == 0 || nnames > in.size() + 1) return bad("bad column names");
  names.resize(static_cast<std::size_t>(nnames));
  for (auto& n : names) {
    if (!GetLengthPrefixed(&in, &n)) return bad("column names cut short");
  }
  if (!names[0].empty()) return bad("column 0 has a name");
  SIPDEX_RETURN_IF_ERROR(chunks.SetDictionary(in, names.size()));
  entries.resize(static_cast<std::size_t>(nchunks));
  std::uint64_t first = 0, offset = 0, feeds = 0;
  for (ChunkEntry& e : entries) {
    std::uint64_t count = 0, frame_size = 0;
    if (!GetVarint64(&payload, &count) || !GetVarint64(&payload, &e.text_size) ||
        !GetVarint64(&payload, &e.line_feeds) || !GetVarint64(&payload, &e.body_size) ||
        !GetVarint64(&payload, &frame_size)) {
      return bad("chunk directory cut short");
    }
    if (count > table->records.size() - first || e.text_size > *total - offset || e.line_feeds > e.text_size ||
        e.body_size > kMaxRawSize) {
      return bad("chunk directory inconsistent");
    }
    e.first = static_cast<std::uint32_t>(first);
    e.count = static_cast<std::uint32_t>(count);
    e.text_offset = offset;
    e.line_feeds_before = feeds;
    first += count;
    offset += e.text_size;
    feeds += e.line_feeds;
    e.frame_size = frame_size;
  }
  // Frames follow the directory.
  for (ChunkEntry& e : entries) {
    if (!GetBytes(&payload, static_cast<std::size_t>(std::min<std::uint64_t>(e.frame_size, payload.size() + 1)),
                  &e.frame)) {
      return bad("chunk frames cut short");
    }
  }
  if (!payload.empty()) return bad("trailing bytes");
  if (first != table->records.size() || offset != *total) return bad("chunks do not cover the records");
  return Status::Ok();
}

Status SegmentDecoder::Rep::DecodeChunk(const ChunkEntry& e, const SegmentData& table, char* out) {
  char* b = Reserve(&chunk_body, static_cast<std::size_t>(e.body_size));
  SIPDEX_RETURN_IF_ERROR(DecompressTo(e.frame, b, static_cast<std::size_t>(e.body_size)));
  std::span<const SegmentRecordMeta> records(table.records.data() + e.first, e.count);
  std::span<const std::string_view> keys(names);
  return chunks.Decode(std::string_view(b, static_cast<std::size_t>(e.body_size)), keys, records, out,
                       static_cast<std::size_t>(e.text_size));
}

Status SegmentDecoder::Rep::DecodeLegacy(std::uint8_t codec, std::string_view payload, SegmentData* out) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment: " + std::string(what)); };
  std::uint64_t checksum = 0;
  std::uint64_t body_size = 0;
  if (!GetFixed64BE(&payload, &checksum) || !GetVarint64(&payload, &body_size)) return bad("cut short");
  if (Hash64(payload) != checksum) return bad("checksum mismatch");
  if (body_size > kMaxRawSize) return bad("impossible size " + std::to_string(body_size));
  char* b = Reserve(&chunk_body, static_cast<std::size_t>(body_size));
  SIPDEX_RETURN_IF_ERROR(DecompressTo(payload, b, static_cast<std::size_t>(body_size)));
  std::string_view in(b, static_cast<std::size_t>(body_size));
  std::uint64_t total = 0;
  SIPDEX_RETURN_IF_ERROR(ParseHeaderTable(&in, out, &total));
  if (codec == static_cast<std::uint8_t>(TextCodec::kColumns)) {
    SIPDEX_RETURN_IF_ERROR(DecodeColumns(in, &out->text));
  } else {
    out->text.assign(in);
  }
  if (out->text.size() != total) return bad("record sizes do not add up to the text");
  return Status::Ok();
}

SegmentDecoder::SegmentDecoder() : rep_(std::make_unique<Rep>()) {}
SegmentDecoder::~SegmentDecoder() = default;

Status SegmentDecoder::Decode(std::string_view payload, SegmentData* out) {
  std::uint8_t codec = 0;
  SIPDEX_RETURN_IF_ERROR(ReadPayloadCodec(&payload, &codec));
  if (codec > static_cast<std::uint8_t>(TextCodec::kTemplates)) {
    return Status::Corruption("segment: unknown codec " + std::to_string(codec));
  }
  if (codec != static_cast<std::uint8_t>(TextCodec::kTemplates)) return rep_->DecodeLegacy(codec, payload, out);
  std::uint64_t total = 0;
  SIPDEX_RETURN_IF_ERROR(rep_->ParseTemplates(payload, out, &total));
  out->text.resize(static_cast<std::size_t>(total));
  for (const ChunkEntry& e : rep_->entries) {
    SIPDEX_RETURN_IF_ERROR(rep_->DecodeChunk(e, *out, out->text.data() + e.text_offset));
  }
  return Status::Ok();
}

Status SegmentDecoder::DecodeRecords(std::string_view payload, std::uint32_t first, std::uint32_t count,
                                     SegmentData* out) {
  Rep& r = *rep_;
  std::string_view p = payload;
  std::uint8_t codec = 0;
  SIPDEX_RETURN_IF_ERROR(ReadPayloadCodec(&p, &codec));
  std::uint64_t total = 0;
  if (codec == static_cast<std::uint8_t>(TextCodec::kTemplates)) {
    SIPDEX_RETURN_IF_ERROR(r.ParseTemplates(p, &r.all, &total));
  } else {
    SIPDEX_RETURN_IF_ERROR(Decode(payload, &r.all));
    total = r.all.text.size();
  }
  const std::vector<SegmentRecordMeta>& recs = r.all.records;
  if (first > recs.size() || count > recs.size() - first) {
    return Status::InvalidArgument("segment: records " + std::to_string(first) + "+" + std::to_string(count) +
                                   " outside a segment of " + std::to_string(recs.size()));
  }
  std::uint64_t before = 0;  // text bytes before record `first`
  for (std::uint32_t i = 0; i < first; ++i) before += recs[i].size;
  std::uint64_t size = 0;
  for (std::uint32_t i = first; i < first + count; ++i) size += recs[i].size;
  out->servers = r.all.servers;
  out->records.assign(recs.begin() + first, recs.begin() + first + count);
  out->start_offset = r.all.start_offset + before;
  out->text.resize(static_cast<std::size_t>(size));
  std::uint64_t feeds = 0;  // line feeds before record `first`
  if (codec != static_cast<std::uint8_t>(TextCodec::kTemplates)) {
    std::string_view text(r.all.text);
    for (std::uint64_t i = 0; i < before; ++i) feeds += text[i] == '\n' ? 1 : 0;
    std::memcpy(out->text.data(), text.data() + before, static_cast<std::size_t>(size));
  } else {
    std::uint64_t end = before + size;
    bool first_chunk = true;
    for (const ChunkEntry& e : r.entries) {
      std::uint64_t cbegin = e.text_offset, cend = e.text_offset + e.text_size;
      bool holds_first = first >= e.first && first < e.first + e.count;
      if (cend <= before && !holds_first) continue;
      if (cbegin >= end && !holds_first) break;
      char* t = Reserve(&r.chunk_text, static_cast<std::size_t>(e.text_size));
      SIPDEX_RETURN_IF_ERROR(r.DecodeChunk(e, r.all, t));
      if (first_chunk) {
        feeds = e.line_feeds_before;
        for (std::uint64_t i = cbegin; i < before && i < cend; ++i) feeds += t[i - cbegin] == '\n' ? 1 : 0;
        first_chunk = false;
      }
      std::uint64_t lo = std::max(cbegin, before), hi = std::min(cend, end);
      if (lo < hi) std::memcpy(out->text.data() + (lo - before), t + (lo - cbegin), static_cast<std::size_t>(hi - lo));
    }
  }
  std::uint64_t line = r.all.start_line + feeds;
  out->start_line = line > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(line);
  return Status::Ok();
}

Status SegmentDecoder::OpenPayload(std::string_view payload, SegmentData* table, bool* templates,
                                   std::uint64_t* total) {
  std::string_view p = payload;
  std::uint8_t codec = 0;
  SIPDEX_RETURN_IF_ERROR(ReadPayloadCodec(&p, &codec));
  *templates = codec == static_cast<std::uint8_t>(TextCodec::kTemplates);
  if (*templates) return rep_->ParseTemplates(p, table, total);
  SIPDEX_RETURN_IF_ERROR(Decode(payload, table));
  *total = table->text.size();
  return Status::Ok();
}

Status SegmentDecoder::DecodeSelected(std::string_view payload, std::span<const std::uint32_t> ordinals,
                                      SegmentData* out, std::vector<RecordPosition>* positions) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment: " + std::string(what)); };
  Rep& r = *rep_;
  bool templates = false;
  std::uint64_t total = 0;
  SIPDEX_RETURN_IF_ERROR(OpenPayload(payload, &r.all, &templates, &total));
  const std::vector<SegmentRecordMeta>& recs = r.all.records;
  for (std::size_t k = 0; k < ordinals.size(); ++k) {
    if (ordinals[k] >= recs.size() || (k > 0 && ordinals[k] <= ordinals[k - 1])) {
      return Status::InvalidArgument("segment: record " + std::to_string(ordinals[k]) +
                                     " is out of order or outside a segment of " + std::to_string(recs.size()));
    }
  }
  out->servers = r.all.servers;
  out->records.clear();
  out->text.clear();
  positions->clear();
  out->start_offset = r.all.start_offset;
  out->start_line = r.all.start_line;
  // Walk the table once: `before` is the text offset of record i; the chunk
  // cursor (chunk ci, its text at t, `scanned` bytes of it counted into
  // `feeds`) only moves forward.
  std::uint64_t before = 0;
  std::uint32_t i = 0;
  std::size_t ci = 0;
  bool chunk_ready = false;
  const char* t = nullptr;
  std::uint64_t cbegin = 0;   // text offset of the current chunk (or segment)
  std::uint64_t scanned = 0;  // bytes of it whose line feeds are in `feeds`
  std::uint64_t feeds = 0;    // line feeds before text offset cbegin + scanned
  if (!templates) {
    t = r.all.text.data();
    chunk_ready = true;
  }
  for (std::uint32_t ord : ordinals) {
    for (; i < ord; ++i) before += recs[i].size;
    const std::uint64_t size = recs[ord].size;
    if (templates) {
      while (ci < r.entries.size() && ord >= r.entries[ci].first + r.entries[ci].count) {
        ++ci;
        chunk_ready = false;
      }
      if (ci == r.entries.size()) return bad("chunks do not cover the records");
      const ChunkEntry& e = r.entries[ci];
      if (!chunk_ready) {
        char* buf = Reserve(&r.chunk_text, static_cast<std::size_t>(e.text_size));
        SIPDEX_RETURN_IF_ERROR(r.DecodeChunk(e, r.all, buf));
        t = buf;
        cbegin = e.text_offset;
        scanned = 0;
        feeds = e.line_feeds_before;
        chunk_ready = true;
      }
      if (before < cbegin || before + size > cbegin + e.text_size) return bad("a record crosses its chunk");
    } else if (before + size > r.all.text.size()) {
      return bad("record sizes do not add up to the text");
    }
    const std::uint64_t at = before - cbegin;
    feeds += CountLineFeeds(std::string_view(t + scanned, static_cast<std::size_t>(at - scanned)));
    scanned = at;
    std::uint64_t line = r.all.start_line + feeds;
    positions->push_back(RecordPosition{r.all.start_offset + before,
                                        line > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(line)});
    out->records.push_back(recs[ord]);
    out->text.append(t + at, static_cast<std::size_t>(size));
  }
  if (!positions->empty()) {
    out->start_offset = positions->front().offset;
    out->start_line = positions->front().line;
  }
  return Status::Ok();
}

const char* FindLiteral(const char* data, std::size_t size, std::string_view literal) {
  const std::size_t k = literal.size();
  if (k == 0) return data;
  if (k > size) return nullptr;
  if (k == 1) return static_cast<const char*>(std::memchr(data, literal[0], size));
  std::size_t i = 0;
#if defined(__SSE2__)
  // Candidates: positions whose first and last bytes match (16 at a time);
  // only those are compared in full.
  const __m128i first = _mm_set1_epi8(literal[0]);
  const __m128i last = _mm_set1_epi8(literal[k - 1]);
  for (; i + k - 1 + 16 <= size; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + k - 1));
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
    while (mask != 0) {
      const auto bit = static_cast<std::size_t>(__builtin_ctz(mask));
      if (std::memcmp(data + i + bit + 1, literal.data() + 1, k - 2) == 0) return data + i + bit;
      mask &= mask - 1;
    }
  }
#endif
  return static_cast<const char*>(memmem(data + i, size - i, literal.data(), k));
}

namespace {

// The number of '\n' in text, 16 bytes at a time (SSE2) where available: a
// found record's line is counted from its chunk's start, and lines are about
// 50 bytes, so a memchr per line would cost more than the search.
std::uint64_t CountNewlines(std::string_view text) {
  std::uint64_t n = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  // Per byte lane, subtract the compare masks (-1 per match) for at most 255
  // blocks, then add the lanes up (no popcount instruction in baseline x86-64).
  const __m128i nl = _mm_set1_epi8('\n');
  const __m128i zero = _mm_setzero_si128();
  while (i + 16 <= text.size()) {
    const std::size_t blocks = std::min<std::size_t>((text.size() - i) / 16, 255);
    __m128i acc = zero;
    for (std::size_t b = 0; b < blocks; ++b, i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, nl));
    }
    const __m128i sums = _mm_sad_epu8(acc, zero);
    n += static_cast<std::uint64_t>(_mm_cvtsi128_si32(sums)) + static_cast<std::uint64_t>(_mm_extract_epi16(sums, 4));
  }
#endif
  for (; i < text.size(); ++i) n += text[i] == '\n' ? 1 : 0;
  return n;
}

}  // namespace

void FindRecordsHolding(std::string_view text, std::span<const SegmentRecordMeta> records,
                        std::span<const std::string> literals, std::span<const std::uint8_t> wanted,
                        std::vector<std::uint8_t>* found) {
  const std::size_t n = records.size();
  const bool all_wanted = wanted.size() != n;
  found->assign(n, 0);
  for (const std::string& lit : literals) {
    if (lit.empty()) {
      for (std::size_t i = 0; i < n; ++i) (*found)[i] = all_wanted || wanted[i] != 0 ? 1 : 0;
      return;
    }
  }
  // Record ends (prefix sums of the sizes), computed once.
  thread_local std::vector<std::uint64_t> ends;
  ends.resize(n);
  std::uint64_t end = 0;
  for (std::size_t i = 0; i < n; ++i) ends[i] = end += records[i].size;
  const std::uint64_t size = std::min<std::uint64_t>(end, text.size());
  for (const std::string& lit : literals) {
    std::uint64_t pos = 0;  // search from here
    std::size_t r = 0;      // the record holding pos
    while (pos < size) {
      const char* hit = FindLiteral(text.data() + pos, static_cast<std::size_t>(size - pos), lit);
      if (hit == nullptr) break;
      const auto at = static_cast<std::uint64_t>(hit - text.data());
      while (r < n && ends[r] <= at) ++r;
      if (r == n) break;
      // Any later hit that starts in record r ends after this one: whether
      // this one fits decides the record; the search goes on at the next.
      if (at + lit.size() <= ends[r] && (all_wanted || wanted[r] != 0)) (*found)[r] = 1;
      pos = ends[r];
      ++r;
      // Skip records already found (by an earlier literal) or not wanted.
      while (r < n && ((*found)[r] != 0 || (!all_wanted && wanted[r] == 0))) pos = ends[r++];
    }
  }
}

Status SegmentDecoder::Search(std::string_view payload, std::span<const std::string> literals,
                              const std::function<bool(const SegmentData& table, std::uint32_t ordinal)>& want,
                              SegmentData* table, const std::function<void(const Found&)>& fn) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment: " + std::string(what)); };
  Rep& r = *rep_;
  bool templates = false;
  std::uint64_t total = 0;
  SIPDEX_RETURN_IF_ERROR(OpenPayload(payload, table, &templates, &total));
  const std::size_t nchunks = templates ? r.entries.size() : 1;
  std::vector<std::uint8_t> wanted;  // not thread_local: fn may search again
  std::vector<std::uint8_t> found;
  for (std::size_t ci = 0; ci < nchunks; ++ci) {
    ChunkEntry whole;
    if (!templates) {
      whole.count = static_cast<std::uint32_t>(table->records.size());
      whole.text_size = total;
    }
    const ChunkEntry& e = templates ? r.entries[ci] : whole;
    std::span<const SegmentRecordMeta> recs(table->records.data() + e.first, e.count);
    wanted.clear();
    if (want) {
      wanted.resize(e.count);
      bool any = false;
      for (std::uint32_t i = 0; i < e.count; ++i) {
        wanted[i] = want(*table, e.first + i) ? 1 : 0;
        any = any || wanted[i] != 0;
      }
      if (!any) continue;
    }
    const char* t = table->text.data();
    if (templates) {
      char* buf = Reserve(&r.chunk_text, static_cast<std::size_t>(e.text_size));
      SIPDEX_RETURN_IF_ERROR(r.DecodeChunk(e, *table, buf));
      t = buf;
    }
    const std::string_view text(t, static_cast<std::size_t>(e.text_size));
    FindRecordsHolding(text, recs, literals, wanted, &found);
    std::uint64_t at = 0;       // text offset of record i in the chunk
    std::uint64_t scanned = 0;  // bytes whose line feeds are in `feeds`
    std::uint64_t feeds = e.line_feeds_before;
    for (std::uint32_t i = 0; i < e.count; ++i) {
      const std::uint32_t size = recs[i].size;
      if (found[i] != 0) {
        if (at + size > text.size()) return bad("record sizes do not add up to the text");
        feeds += CountNewlines(text.substr(static_cast<std::size_t>(scanned), static_cast<std::size_t>(at - scanned)));
        scanned = at;
        const std::uint64_t line = table->start_line + feeds;
        Found f;
        f.ordinal = e.first + i;
        f.text = text.substr(static_cast<std::size_t>(at), size);
        f.position.offset = table->start_offset + e.text_offset + at;
        f.position.line = line > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(line);
        fn(f);
      }
      at += size;
    }
  }
  return Status::Ok();
}

Status SegmentDecoder::DecodeTable(std::string_view head, std::uint64_t payload_size, SegmentData* out,
                                   std::size_t* needed) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment: " + std::string(what)); };
  *needed = 0;
  if (head.size() > payload_size) return Status::InvalidArgument("segment: head longer than the payload");
  const bool whole = head.size() == payload_size;
  auto more = [&](std::uint64_t n) {
    *needed = static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::uint64_t>(n, head.size() + 1), payload_size));
    return Status::Ok();
  };
  std::string_view p = head;
  std::string_view magic;
  if (p.size() < kMagic.size() + 1) return whole ? bad("cut short") : more(64u << 10);
  GetBytes(&p, kMagic.size(), &magic);
  if (magic != kMagic) return bad("bad magic");
  auto codec = static_cast<std::uint8_t>(p[0]);
  p.remove_prefix(1);
  if (codec != static_cast<std::uint8_t>(TextCodec::kTemplates)) {
    if (!whole) return more(payload_size);
    SIPDEX_RETURN_IF_ERROR(Decode(head, out));
    out->text.clear();
    return Status::Ok();
  }
  std::uint64_t checksum = 0, meta_size = 0, frame_size = 0;
  if (!GetFixed64BE(&p, &checksum) || !GetVarint64(&p, &meta_size) || !GetVarint64(&p, &frame_size)) {
    return whole ? bad("cut short") : more(2 * head.size() + 64);
  }
  if (meta_size > kMaxRawSize || frame_size > kMaxRawSize) return bad("impossible sizes");
  if (frame_size > p.size()) {
    if (whole) return bad("cut short");
    return more(head.size() - p.size() + frame_size);
  }
  std::string_view meta_frame = p.substr(0, static_cast<std::size_t>(frame_size));
  Rep& r = *rep_;
  char* m = Reserve(&r.meta, static_cast<std::size_t>(meta_size));
  SIPDEX_RETURN_IF_ERROR(DecompressTo(meta_frame, m, static_cast<std::size_t>(meta_size)));
  std::string_view in(m, static_cast<std::size_t>(meta_size));
  std::uint64_t total = 0;
  SIPDEX_RETURN_IF_ERROR(ParseHeaderTable(&in, out, &total));
  out->text.clear();
  return Status::Ok();
}

Status SegmentDecoder::DecodeFacts(std::string_view head, std::uint64_t payload_size, SegmentData* out,
                                   std::string_view* facts, std::size_t* needed) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment: facts: " + std::string(what)); };
  *facts = std::string_view();
  SIPDEX_RETURN_IF_ERROR(DecodeTable(head, payload_size, out, needed));
  if (*needed != 0) return Status::Ok();
  std::string_view p = head;
  std::uint8_t codec = 0;
  SIPDEX_RETURN_IF_ERROR(ReadPayloadCodec(&p, &codec));
  if (codec != static_cast<std::uint8_t>(TextCodec::kTemplates)) return Status::Ok();  // no facts
  // DecodeTable read these already: they parse.
  std::uint64_t checksum = 0, meta_size = 0;
  std::string_view meta_frame;
  GetFixed64BE(&p, &checksum);
  GetVarint64(&p, &meta_size);
  GetLengthPrefixed(&p, &meta_frame);
  const bool whole = head.size() == payload_size;
  std::string_view section = p;
  std::uint64_t facts_checksum = 0, facts_size = 0;
  std::string_view frame;
  if (!GetFactsSection(&section, &facts_checksum, &facts_size, &frame)) {
    if (whole) return bad("cut short");
    // Room for the checksum and the two sizes; the frame's length is known then.
    const std::uint64_t at = head.size() - p.size();
    std::uint64_t want = at + 28;
    std::string_view q = p;
    std::uint64_t size = 0, frame_size = 0;
    if (q.size() >= 8) {
      q.remove_prefix(8);
      if (GetVarint64(&q, &size) && GetVarint64(&q, &frame_size)) want = head.size() - q.size() + frame_size;
    }
    *needed = static_cast<std::size_t>(
        std::min<std::uint64_t>(std::max<std::uint64_t>(want, head.size() + 1), payload_size));
    return Status::Ok();
  }
  if (Hash64(frame) != facts_checksum) return bad("checksum mismatch");
  if (facts_size > kMaxRawSize) return bad("impossible size");
  if (facts_size == 0) {
    if (!frame.empty()) return bad("a frame without a size");
    return Status::Ok();
  }
  // The size is outside the checksummed frame: check it against the frame's
  // own header before reserving that much.
  if (ZSTD_getFrameContentSize(frame.data(), frame.size()) != facts_size) return bad("size mismatch");
  char* f = Reserve(&rep_->facts, static_cast<std::size_t>(facts_size));
  SIPDEX_RETURN_IF_ERROR(DecompressTo(frame, f, static_cast<std::size_t>(facts_size)));
  *facts = std::string_view(f, static_cast<std::size_t>(facts_size));
  return Status::Ok();
}

Status FactsFrameSize(std::string_view head, std::uint64_t payload_size, std::uint64_t* frame_bytes,
                      std::size_t* needed) {
  *frame_bytes = 0;
  *needed = 0;
  if (head.size() > payload_size) return Status::InvalidArgument("segment: head longer than the payload");
  const bool whole = head.size() == payload_size;
  std::string_view p = head;
  std::uint8_t codec = 0;
  if (p.size() < kMagic.size() + 1 && !whole) {
    *needed = static_cast<std::size_t>(std::min<std::uint64_t>(4096, payload_size));
    return Status::Ok();
  }
  SIPDEX_RETURN_IF_ERROR(ReadPayloadCodec(&p, &codec));
  if (codec != static_cast<std::uint8_t>(TextCodec::kTemplates)) return Status::Ok();
  std::uint64_t checksum = 0, meta_size = 0, frame_size = 0, facts_checksum = 0, facts_size = 0, facts_frame = 0;
  if (!GetFixed64BE(&p, &checksum) || !GetVarint64(&p, &meta_size) || !GetVarint64(&p, &frame_size)) {
    if (whole) return Status::Corruption("segment: cut short");
    *needed = static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::size_t>(4096, head.size() + 1), payload_size));
    return Status::Ok();
  }
  const std::uint64_t at = head.size() - p.size();  // the meta frame
  if (frame_size > payload_size - at) return Status::Corruption("segment: cut short");
  // The facts section header takes at most 28 bytes (fixed64, two varints).
  const std::uint64_t want = std::min<std::uint64_t>(at + frame_size + 28, payload_size);
  if (head.size() < want) {
    *needed = static_cast<std::size_t>(want);
    return Status::Ok();
  }
  p.remove_prefix(static_cast<std::size_t>(frame_size));
  if (!GetFixed64BE(&p, &facts_checksum) || !GetVarint64(&p, &facts_size) || !GetVarint64(&p, &facts_frame)) {
    return Status::Corruption("segment: facts cut short");
  }
  *frame_bytes = facts_frame;
  return Status::Ok();
}

Status DecodeSegment(std::string_view payload, SegmentData* out) {
  thread_local SegmentDecoder decoder;
  return decoder.Decode(payload, out);
}

Status DecodeSegmentRecords(std::string_view payload, std::uint32_t first, std::uint32_t count, SegmentData* out) {
  thread_local SegmentDecoder decoder;
  return decoder.DecodeRecords(payload, first, count, out);
}


}  // namespace sipdex::storage
