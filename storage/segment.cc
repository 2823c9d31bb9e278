#include "storage/segment.h"

#include <zstd.h>

#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>

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

std::string Compress(std::string_view in, int level) {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
  ZSTD_CCtx_reset(cctx.get(), ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  int window = 20;
  while (window < 25 && (std::size_t{1} << window) < in.size()) ++window;
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, window);
  std::string out;
  out.resize(ZSTD_compressBound(in.size()));
  std::size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(), in.data(), in.size());
  // Compression into a buffer of ZSTD_compressBound bytes cannot fail.
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

Status Decompress(std::string_view in, std::uint64_t raw_size, std::string* out) {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx(ZSTD_createDCtx());
  if (raw_size > kMaxRawSize) return Status::Corruption("segment: impossible size " + std::to_string(raw_size));
  out->resize(static_cast<std::size_t>(raw_size));
  std::size_t n = ZSTD_decompressDCtx(dctx.get(), out->data(), out->size(), in.data(), in.size());
  if (ZSTD_isError(n)) return Status::Corruption(std::string("segment: zstd: ") + ZSTD_getErrorName(n));
  if (n != raw_size) return Status::Corruption("segment: decompressed size differs from the recorded size");
  return Status::Ok();
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

std::string EncodeSegment(const SegmentData& data, TextCodec codec, int level) {
  std::string body;
  PutVarint64(&body, data.records.size());
  PutVarint64(&body, data.start_offset);
  PutVarint64(&body, data.start_line);
  PutVarint64(&body, data.servers.size());
  for (const std::string& s : data.servers) PutLengthPrefixed(&body, s);
  // The table, one column after another (sizes, kinds, ...) so that each
  // compresses as a run of similar values.
  for (const auto& r : data.records) PutVarint64(&body, r.size);
  for (const auto& r : data.records) body.push_back(static_cast<char>(r.kind));
  for (const auto& r : data.records) PutVarint64(&body, r.malformed);
  TimeMs prev = 0;
  for (const auto& r : data.records) {
    PutSignedVarint64(&body, r.time - prev);
    prev = r.time;
  }
  for (const auto& r : data.records) PutVarint64(&body, (std::uint64_t{r.server} << 1) | (r.has_time ? 1 : 0));
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

Status DecodeSegment(std::string_view payload, SegmentData* out) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment: " + std::string(what)); };
  std::string_view magic;
  if (!GetBytes(&payload, kMagic.size(), &magic) || magic != kMagic) return bad("bad magic");
  if (payload.empty()) return bad("cut short");
  auto codec = static_cast<std::uint8_t>(payload[0]);
  payload.remove_prefix(1);
  if (codec > static_cast<std::uint8_t>(TextCodec::kColumns)) return bad("unknown codec " + std::to_string(codec));
  std::uint64_t checksum = 0;
  std::uint64_t body_size = 0;
  if (!GetFixed64BE(&payload, &checksum) || !GetVarint64(&payload, &body_size)) return bad("cut short");
  if (Hash64(payload) != checksum) return bad("checksum mismatch");
  std::string body;
  SIPDEX_RETURN_IF_ERROR(Decompress(payload, body_size, &body));
  std::string_view in(body);
  std::uint64_t count = 0, start_offset = 0, start_line = 0, nservers = 0;
  if (!GetVarint64(&in, &count) || !GetVarint64(&in, &start_offset) || !GetVarint64(&in, &start_line) ||
      !GetVarint64(&in, &nservers)) {
    return bad("header cut short");
  }
  if (count > in.size() || nservers > in.size() || start_line > 0xffffffffu) return bad("impossible counts");
  out->servers.assign(static_cast<std::size_t>(nservers), std::string());
  for (auto& s : out->servers) {
    std::string_view v;
    if (!GetLengthPrefixed(&in, &v)) return bad("servers cut short");
    s.assign(v);
  }
  out->records.assign(static_cast<std::size_t>(count), SegmentRecordMeta());
  out->start_offset = start_offset;
  out->start_line = static_cast<std::uint32_t>(start_line);
  std::uint64_t total = 0;
  for (auto& r : out->records) {
    if (!GetVarint32(&in, &r.size)) return bad("sizes cut short");
    total += r.size;
  }
  std::string_view kinds;
  if (!GetBytes(&in, out->records.size(), &kinds)) return bad("kinds cut short");
  for (std::size_t i = 0; i < out->records.size(); ++i) {
    auto k = static_cast<std::uint8_t>(kinds[i]);
    if (k >= kRecordKindCount) return bad("unknown record kind");
    out->records[i].kind = static_cast<RecordKind>(k);
  }
  for (auto& r : out->records) {
    if (!GetVarint32(&in, &r.malformed)) return bad("malformed bits cut short");
  }
  TimeMs prev = 0;
  for (auto& r : out->records) {
    std::int64_t d = 0;
    if (!GetSignedVarint64(&in, &d)) return bad("times cut short");
    prev = static_cast<TimeMs>(static_cast<std::uint64_t>(prev) + static_cast<std::uint64_t>(d));
    r.time = prev;
  }
  for (auto& r : out->records) {
    std::uint64_t v = 0;
    if (!GetVarint64(&in, &v)) return bad("flags cut short");
    r.has_time = (v & 1) != 0;
    if ((v >> 1) >= out->servers.size() && !(out->servers.empty() && (v >> 1) == 0)) return bad("unknown server");
    r.server = static_cast<std::uint32_t>(v >> 1);
  }
  if (codec == static_cast<std::uint8_t>(TextCodec::kColumns)) {
    SIPDEX_RETURN_IF_ERROR(DecodeColumns(in, &out->text));
  } else {
    out->text.assign(in);
  }
  if (out->text.size() != total) return bad("record sizes do not add up to the text");
  return Status::Ok();
}

}  // namespace sipdex::storage
