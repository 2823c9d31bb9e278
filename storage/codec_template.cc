#include "storage/codec_template.h"

#include <array>
#include <cstring>

#include "common/time.h"
#include "storage/coding.h"

namespace sipdex::storage {
namespace {

constexpr std::size_t kMaxNames = 4096;
constexpr std::size_t kMaxHeaderName = 48;
constexpr std::size_t kMaxPrefixKey = 24;
constexpr std::size_t kSlots = 32;
constexpr std::size_t kMaxHexLen = 16;      // hex tokens up to this length are integers
constexpr std::size_t kMaxDecLen = 19;      // decimal tokens up to this length are integers
constexpr std::size_t kMinHexLetters = 3;   // shorter tokens with letters stay literal
constexpr std::size_t kTimeLen = 23;        // "MM/DD/YYYY-HH:MM:SS.mmm"

// Skeleton bytes below 8 are placeholders; a literal byte below 8 is escaped.
enum Placeholder : std::uint8_t {
  kEscape = 0,   // next byte is literal
  kDec = 1,      // decimal integer without leading zeros, from the slot
  kDecWide = 2,  // u8(width): decimal integer zero-padded to width, from the slot
  kHexLower = 3, // u8(len): lower-case hex integer of len digits, from the slot
  kHexUpper = 4, // u8(len): upper-case hex integer of len digits, from the slot
  kLongLower = 5,  // varint(len): lower-case hex (or decimal) digits packed as nibbles in the long stream
  kLongUpper = 6,  // varint(len): upper-case hex digits packed as nibbles
  kTime = 7,     // the record's time as "MM/DD/YYYY-HH:MM:SS.mmm"
};

enum PartType : std::uint64_t { kPartSkeleton = 0, kPartLong = 1, kPartSlotBase = 2 };
enum SlotMode : std::uint8_t { kModeVarint = 0, kModeDelta = 1, kModeFixed = 2, kModeCount = 3 };
enum LineEnding : std::uint64_t { kLf = 0, kCrLf = 1, kNone = 2 };

// Byte classes of the tokenizer.
enum Class : std::uint8_t { kOther = 0, kControl = 1, kDigit = 2, kHexLowerLetter = 3, kHexUpperLetter = 4, kLetter = 5 };

constexpr std::array<std::uint8_t, 256> MakeClasses() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 8; ++c) t[c] = kControl;
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = c <= 'f' ? kHexLowerLetter : kLetter;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = c <= 'F' ? kHexUpperLetter : kLetter;
  return t;
}
constexpr std::array<std::uint8_t, 256> kClass = MakeClasses();

inline std::uint8_t ClassOf(char c) { return kClass[static_cast<std::uint8_t>(c)]; }
inline bool IsAlnum(std::uint8_t cls) { return cls >= kDigit; }
inline bool IsHexClass(std::uint8_t cls) { return cls >= kDigit && cls <= kHexUpperLetter; }

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

// The column key of a line: a header name with its colon and one following
// space ("CSeq: "), else the line's prefix up to its first digit or control
// byte (at most kMaxPrefixKey bytes).
std::string_view KeyOf(std::string_view line) {
  std::size_t n = std::min(line.size(), kMaxHeaderName + 1);
  for (std::size_t i = 0; i < n; ++i) {
    char c = line[i];
    if (c == ':') {
      if (i == 0) break;
      std::size_t end = i + 1;
      if (end < line.size() && line[end] == ' ') ++end;
      return line.substr(0, end);
    }
    if (!IsNameChar(c)) break;
  }
  n = std::min(line.size(), kMaxPrefixKey);
  std::size_t i = 0;
  while (i < n) {
    std::uint8_t cls = ClassOf(line[i]);
    if (cls == kDigit || cls == kControl) break;
    ++i;
  }
  return line.substr(0, i);
}

inline std::size_t VarintLength(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline std::uint64_t ZigZag(std::uint64_t delta) {
  auto v = static_cast<std::int64_t>(delta);
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

inline std::uint64_t UnZigZag(std::uint64_t u) { return (u >> 1) ^ (~(u & 1) + 1); }

inline std::size_t ByteWidth(std::uint64_t v) {
  std::size_t w = 1;
  while (w < 8 && (v >> (8 * w)) != 0) ++w;
  return w;
}

// Formats t as "MM/DD/YYYY-HH:MM:SS.mmm" into out[0, 23); false when the year
// does not have four digits.
bool FormatTraceTime(TimeMs t, char* out) {
  CivilTime c = ToCivil(t);
  if (c.year < 0 || c.year > 9999) return false;
  auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  two(out, c.month);
  out[2] = '/';
  two(out + 3, c.day);
  out[5] = '/';
  two(out + 6, c.year / 100);
  two(out + 8, c.year % 100);
  out[10] = '-';
  two(out + 11, c.hour);
  out[13] = ':';
  two(out + 14, c.minute);
  out[16] = ':';
  two(out + 17, c.second);
  out[19] = '.';
  out[20] = static_cast<char>('0' + c.millisecond / 100);
  two(out + 21, c.millisecond % 100);
  return true;
}

}  // namespace

// --- TemplateNames ------------------------------------------------------------

TemplateNames::TemplateNames() { Reset(); }

void TemplateNames::Reset() {
  ids_.clear();
  keys_.clear();
  keys_.emplace_back();
  ids_.emplace(std::string_view(keys_.back()), 0);
}

std::uint32_t TemplateNames::Intern(std::string_view key) {
  auto it = ids_.find(key);
  if (it != ids_.end()) return it->second;
  if (keys_.size() >= kMaxNames) return 0;
  auto id = static_cast<std::uint32_t>(keys_.size());
  keys_.emplace_back(key);
  ids_.emplace(std::string_view(keys_.back()), id);
  return id;
}

void TemplateNames::Serialize(std::string* out) const {
  PutVarint64(out, keys_.size());
  for (const std::string& k : keys_) PutLengthPrefixed(out, k);
}

// --- Encoder ------------------------------------------------------------------

struct TemplateChunkEncoder::Rep {
  struct Column {
    std::string skeleton;
    std::string longhex;
    std::array<std::vector<std::uint64_t>, kSlots> slots;
    bool used = false;
  };
  std::vector<Column> columns;
  std::vector<std::uint32_t> used;
  std::string ops;
  std::string part;

  Column& Use(std::uint32_t c) {
    if (c >= columns.size()) columns.resize(c + 1);
    Column& col = columns[c];
    if (!col.used) {
      col.used = true;
      used.push_back(c);
    }
    return col;
  }

  static void PutNibbles(std::string* out, const char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 2) {
      auto hi = static_cast<std::uint8_t>(HexValue(p[i]));
      std::uint8_t lo = i + 1 < n ? static_cast<std::uint8_t>(HexValue(p[i + 1])) : 0;
      out->push_back(static_cast<char>((hi << 4) | lo));
    }
  }
  static int HexValue(char c) {
    if (c <= '9') return c - '0';
    if (c >= 'a') return c - 'a' + 10;
    return c - 'A' + 10;
  }

  // Appends the skeleton of value `v` to col, its variables to col's streams.
  // `time` is the record's formatted time for TL_ lines, else nullptr.
  static void EncodeValue(std::string_view v, Column* col, const char* time) {
    std::string& sk = col->skeleton;
    const char* p = v.data();
    const char* end = p + v.size();
    std::size_t slot = 0;
    while (p < end) {
      std::uint8_t cls = ClassOf(*p);
      if (cls == kOther) {
        const char* start = p;
        while (p < end && ClassOf(*p) == kOther) ++p;
        sk.append(start, p);
        continue;
      }
      if (cls == kControl) {
        sk.push_back(static_cast<char>(kEscape));
        sk.push_back(*p++);
        continue;
      }
      // An alphanumeric run.
      if (time != nullptr && cls == kDigit && static_cast<std::size_t>(end - p) >= kTimeLen &&
          std::memcmp(p, time, kTimeLen) == 0) {
        sk.push_back(static_cast<char>(kTime));
        p += kTimeLen;
        time = nullptr;
        continue;
      }
      const char* start = p;
      bool digit = false;
      while (p < end) {
        std::uint8_t c = ClassOf(*p);
        if (!IsAlnum(c)) break;
        digit |= c == kDigit;
        ++p;
      }
      if (!digit) {
        sk.append(start, p);
        continue;
      }
      // The longest hex suffix of the run.
      const char* s = p;
      bool lower = false, upper = false, sdigit = false;
      while (s > start) {
        std::uint8_t c = ClassOf(s[-1]);
        if (!IsHexClass(c)) break;
        lower |= c == kHexLowerLetter;
        upper |= c == kHexUpperLetter;
        sdigit |= c == kDigit;
        --s;
      }
      auto len = static_cast<std::size_t>(p - s);
      if (!sdigit || (lower && upper) || ((lower || upper) && len < kMinHexLetters)) {
        sk.append(start, p);
        continue;
      }
      sk.append(start, s);
      std::vector<std::uint64_t>& out = col->slots[slot];
      if (!lower && !upper && len <= kMaxDecLen) {
        std::uint64_t value = 0;
        for (const char* q = s; q < p; ++q) value = value * 10 + static_cast<std::uint64_t>(*q - '0');
        if (*s == '0' && len > 1) {
          sk.push_back(static_cast<char>(kDecWide));
          sk.push_back(static_cast<char>(len));
        } else {
          sk.push_back(static_cast<char>(kDec));
        }
        out.push_back(value);
        if (slot + 1 < kSlots) ++slot;
      } else if ((lower || upper) && len <= kMaxHexLen) {
        std::uint64_t value = 0;
        for (const char* q = s; q < p; ++q) value = (value << 4) | static_cast<std::uint64_t>(HexValue(*q));
        sk.push_back(static_cast<char>(upper ? kHexUpper : kHexLower));
        sk.push_back(static_cast<char>(len));
        out.push_back(value);
        if (slot + 1 < kSlots) ++slot;
      } else {
        sk.push_back(static_cast<char>(upper ? kLongUpper : kLongLower));
        PutVarint64(&sk, len);
        PutNibbles(&col->longhex, s, len);
      }
    }
    sk.push_back('\n');
  }

  // Appends the stream of one slot: u8(mode) [u8(width)] values.
  static void PutSlot(const std::vector<std::uint64_t>& values, std::string* out) {
    std::size_t cost_varint = 0, cost_delta = 0;
    std::uint64_t prev = 0, max = 0;
    for (std::uint64_t v : values) {
      cost_varint += VarintLength(v);
      cost_delta += VarintLength(ZigZag(v - prev));
      prev = v;
      max = std::max(max, v);
    }
    std::size_t width = ByteWidth(max);
    std::size_t cost_fixed = width * values.size() + 1;
    if (cost_fixed < cost_varint && cost_fixed < cost_delta) {
      out->push_back(static_cast<char>(kModeFixed));
      out->push_back(static_cast<char>(width));
      for (std::uint64_t v : values) {
        char buf[8];
        for (std::size_t i = 0; i < width; ++i) buf[i] = static_cast<char>(v >> (8 * (width - 1 - i)));
        out->append(buf, width);
      }
    } else if (cost_delta < cost_varint) {
      out->push_back(static_cast<char>(kModeDelta));
      prev = 0;
      for (std::uint64_t v : values) {
        PutVarint64(out, ZigZag(v - prev));
        prev = v;
      }
    } else {
      out->push_back(static_cast<char>(kModeVarint));
      for (std::uint64_t v : values) PutVarint64(out, v);
    }
  }
};

TemplateChunkEncoder::TemplateChunkEncoder() : rep_(std::make_unique<Rep>()) {}
TemplateChunkEncoder::~TemplateChunkEncoder() = default;

void TemplateChunkEncoder::Encode(std::string_view text, std::span<const SegmentRecordMeta> records,
                                  TemplateNames* names, std::string* body, std::uint64_t* line_feeds) {
  Rep& r = *rep_;
  r.ops.clear();
  std::uint64_t nlines = 0;
  std::uint64_t feeds = 0;
  std::size_t rec = 0;
  std::size_t rec_end = records.empty() ? 0 : records[0].size;
  std::size_t time_rec = static_cast<std::size_t>(-1);
  bool time_ok = false;
  char time[kTimeLen];
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos >= rec_end && rec + 1 < records.size()) rec_end += records[++rec].size;
    const void* nlp = std::memchr(text.data() + pos, '\n', text.size() - pos);
    std::string_view line;
    std::uint64_t ending;
    if (nlp == nullptr) {
      line = text.substr(pos);
      ending = kNone;
      pos = text.size();
    } else {
      std::size_t nl = static_cast<std::size_t>(static_cast<const char*>(nlp) - text.data());
      line = text.substr(pos, nl - pos);
      ending = kLf;
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
        ending = kCrLf;
      }
      pos = nl + 1;
      ++feeds;
    }
    std::string_view key = KeyOf(line);
    std::uint32_t c = names->Intern(key);
    if (c == 0) key = {};
    const char* t = nullptr;
    if (line.starts_with("TL_") && rec < records.size()) {
      if (time_rec != rec) {
        time_rec = rec;
        time_ok = FormatTraceTime(records[rec].time, time);
      }
      if (time_ok) t = time;
    }
    Rep::EncodeValue(line.substr(key.size()), &r.Use(c), t);
    PutVarint64(&r.ops, std::uint64_t{c} * 3 + ending);
    ++nlines;
  }
  *line_feeds = feeds;

  PutVarint64(body, nlines);
  PutLengthPrefixed(body, r.ops);
  std::size_t nparts = 0;
  for (std::uint32_t c : r.used) {
    const Rep::Column& col = r.columns[c];
    nparts += 1 + (col.longhex.empty() ? 0 : 1);
    for (const auto& s : col.slots) nparts += s.empty() ? 0 : 1;
  }
  PutVarint64(body, nparts);
  // Skeletons first, then integer slots, then packed hex: similar bytes sit
  // together for the compressor.
  for (std::uint32_t c : r.used) {
    PutVarint64(body, c);
    PutVarint64(body, kPartSkeleton);
    PutLengthPrefixed(body, r.columns[c].skeleton);
  }
  for (std::uint32_t c : r.used) {
    Rep::Column& col = r.columns[c];
    for (std::size_t s = 0; s < kSlots; ++s) {
      if (col.slots[s].empty()) continue;
      r.part.clear();
      Rep::PutSlot(col.slots[s], &r.part);
      PutVarint64(body, c);
      PutVarint64(body, kPartSlotBase + s);
      PutLengthPrefixed(body, r.part);
    }
  }
  for (std::uint32_t c : r.used) {
    Rep::Column& col = r.columns[c];
    if (!col.longhex.empty()) {
      PutVarint64(body, c);
      PutVarint64(body, kPartLong);
      PutLengthPrefixed(body, col.longhex);
    }
  }
  for (std::uint32_t c : r.used) {
    Rep::Column& col = r.columns[c];
    col.used = false;
    col.skeleton.clear();
    col.longhex.clear();
    for (auto& s : col.slots) s.clear();
  }
  r.used.clear();
}

// --- Decoder ------------------------------------------------------------------

struct TemplateChunkDecoder::Rep {
  struct Slot {
    std::string_view in;
    std::uint8_t mode = kModeVarint;
    std::uint8_t width = 0;
    std::uint64_t prev = 0;
  };
  struct Column {
    std::uint64_t epoch = 0;
    std::string_view skeleton;
    std::string_view longhex;
    std::array<Slot, kSlots> slots;
  };
  std::vector<Column> columns;
  std::uint64_t epoch = 0;

  Column& Get(std::size_t c) {
    Column& col = columns[c];
    if (col.epoch != epoch) {
      col.epoch = epoch;
      col.skeleton = {};
      col.longhex = {};
      for (Slot& s : col.slots) s = Slot();
    }
    return col;
  }

  static bool NextValue(Slot* s, std::uint64_t* v) {
    switch (s->mode) {
      case kModeVarint:
        return GetVarint64(&s->in, v);
      case kModeDelta: {
        std::uint64_t u = 0;
        if (!GetVarint64(&s->in, &u)) return false;
        s->prev += UnZigZag(u);
        *v = s->prev;
        return true;
      }
      default: {
        if (s->in.size() < s->width) return false;
        std::uint64_t x = 0;
        for (std::size_t i = 0; i < s->width; ++i) x = (x << 8) | static_cast<std::uint8_t>(s->in[i]);
        s->in.remove_prefix(s->width);
        *v = x;
        return true;
      }
    }
  }
};

TemplateChunkDecoder::TemplateChunkDecoder() : rep_(std::make_unique<Rep>()) {}
TemplateChunkDecoder::~TemplateChunkDecoder() = default;

Status TemplateChunkDecoder::Decode(std::string_view body, std::span<const std::string_view> names,
                                    std::span<const SegmentRecordMeta> records, char* out, std::size_t out_size) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment chunk: " + std::string(what)); };
  Rep& r = *rep_;
  if (names.empty() || names.size() > kMaxNames) return bad("bad column names");
  if (r.columns.size() < names.size()) r.columns.resize(names.size());
  ++r.epoch;
  std::uint64_t nlines = 0, nparts = 0;
  std::string_view ops;
  if (!GetVarint64(&body, &nlines) || !GetLengthPrefixed(&body, &ops) || !GetVarint64(&body, &nparts)) {
    return bad("header cut short");
  }
  if (nlines > out_size + 1 || nparts > body.size()) return bad("impossible counts");
  for (std::uint64_t i = 0; i < nparts; ++i) {
    std::uint64_t c = 0, type = 0;
    std::string_view bytes;
    if (!GetVarint64(&body, &c) || !GetVarint64(&body, &type) || !GetLengthPrefixed(&body, &bytes)) {
      return bad("parts cut short");
    }
    if (c >= names.size()) return bad("part names an unknown column");
    Rep::Column& col = r.Get(static_cast<std::size_t>(c));
    if (type == kPartSkeleton) {
      col.skeleton = bytes;
    } else if (type == kPartLong) {
      col.longhex = bytes;
    } else if (type - kPartSlotBase < kSlots) {
      Rep::Slot& s = col.slots[static_cast<std::size_t>(type - kPartSlotBase)];
      if (bytes.empty()) return bad("empty slot");
      s.mode = static_cast<std::uint8_t>(bytes[0]);
      bytes.remove_prefix(1);
      if (s.mode >= kModeCount) return bad("unknown slot mode");
      if (s.mode == kModeFixed) {
        if (bytes.empty()) return bad("fixed slot without width");
        s.width = static_cast<std::uint8_t>(bytes[0]);
        bytes.remove_prefix(1);
        if (s.width < 1 || s.width > 8) return bad("bad slot width");
      }
      s.in = bytes;
    } else {
      return bad("unknown part type");
    }
  }
  if (!body.empty()) return bad("trailing bytes");

  char* o = out;
  char* const oend = out + out_size;
  std::size_t rec = 0;
  std::size_t rec_end = records.empty() ? 0 : records[0].size;
  char time[kTimeLen];
  std::size_t time_rec = static_cast<std::size_t>(-1);
  bool time_ok = false;
  char digits[24];
  for (std::uint64_t li = 0; li < nlines; ++li) {
    auto pos = static_cast<std::size_t>(o - out);
    while (pos >= rec_end && rec + 1 < records.size()) rec_end += records[++rec].size;
    std::uint64_t op = 0;
    if (!GetVarint64(&ops, &op)) return bad("line stream cut short");
    std::uint64_t c = op / 3;
    std::uint64_t ending = op % 3;
    if (c >= names.size()) return bad("line names an unknown column");
    if (ending == kNone && li + 1 != nlines) return bad("unterminated line before the end");
    std::string_view key = names[static_cast<std::size_t>(c)];
    if (static_cast<std::size_t>(oend - o) < key.size()) return bad("text longer than recorded");
    std::memcpy(o, key.data(), key.size());
    o += key.size();
    Rep::Column& col = r.Get(static_cast<std::size_t>(c));
    std::string_view& sk = col.skeleton;
    std::size_t slot = 0;
    for (;;) {
      if (sk.empty()) return bad("skeleton ran out");
      auto b = static_cast<std::uint8_t>(sk[0]);
      if (b == '\n') {
        sk.remove_prefix(1);
        break;
      }
      if (b >= 8) {
        std::size_t n = 1;
        while (n < sk.size() && static_cast<std::uint8_t>(sk[n]) >= 8 && sk[n] != '\n') ++n;
        if (static_cast<std::size_t>(oend - o) < n) return bad("text longer than recorded");
        std::memcpy(o, sk.data(), n);
        o += n;
        sk.remove_prefix(n);
        continue;
      }
      sk.remove_prefix(1);
      switch (b) {
        case kEscape: {
          if (sk.empty()) return bad("escape cut short");
          if (o == oend) return bad("text longer than recorded");
          *o++ = sk[0];
          sk.remove_prefix(1);
          break;
        }
        case kDec:
        case kDecWide:
        case kHexLower:
        case kHexUpper: {
          std::size_t width = 0;
          if (b != kDec) {
            if (sk.empty()) return bad("placeholder cut short");
            width = static_cast<std::uint8_t>(sk[0]);
            sk.remove_prefix(1);
          }
          std::uint64_t v = 0;
          if (!Rep::NextValue(&col.slots[slot], &v)) return bad("slot ran out of values");
          if (slot + 1 < kSlots) ++slot;
          std::size_t n = 0;
          if (b == kDec || b == kDecWide) {
            if (b == kDecWide && (width < 1 || width > kMaxDecLen)) return bad("bad decimal width");
            do {
              digits[sizeof(digits) - 1 - n++] = static_cast<char>('0' + v % 10);
              v /= 10;
            } while (v != 0);
            if (b == kDecWide) {
              if (n > width) return bad("decimal wider than its width");
              while (n < width) digits[sizeof(digits) - 1 - n++] = '0';
            }
          } else {
            if (width < 1 || width > kMaxHexLen) return bad("bad hex length");
            if (width < kMaxHexLen && (v >> (4 * width)) != 0) return bad("hex value longer than its length");
            const char* alphabet = b == kHexUpper ? "0123456789ABCDEF" : "0123456789abcdef";
            for (std::size_t i = 0; i < width; ++i) {
              digits[sizeof(digits) - 1 - i] = alphabet[v & 15];
              v >>= 4;
            }
            n = width;
          }
          if (static_cast<std::size_t>(oend - o) < n) return bad("text longer than recorded");
          std::memcpy(o, digits + sizeof(digits) - n, n);
          o += n;
          break;
        }
        case kLongLower:
        case kLongUpper: {
          std::uint64_t len = 0;
          if (!GetVarint64(&sk, &len)) return bad("long hex length cut short");
          std::uint64_t nbytes = (len + 1) / 2;
          if (len > out_size || col.longhex.size() < nbytes) return bad("long hex stream ran out");
          if (static_cast<std::uint64_t>(oend - o) < len) return bad("text longer than recorded");
          const char* alphabet = b == kLongUpper ? "0123456789ABCDEF" : "0123456789abcdef";
          const auto* src = reinterpret_cast<const std::uint8_t*>(col.longhex.data());
          for (std::uint64_t i = 0; i < len; ++i) {
            std::uint8_t byte = src[i / 2];
            *o++ = alphabet[(i & 1) == 0 ? byte >> 4 : byte & 15];
          }
          col.longhex.remove_prefix(static_cast<std::size_t>(nbytes));
          break;
        }
        default: {  // kTime
          if (records.empty()) return bad("time placeholder without a record");
          if (time_rec != rec) {
            time_rec = rec;
            time_ok = FormatTraceTime(records[rec].time, time);
          }
          if (!time_ok) return bad("record time out of range");
          if (static_cast<std::size_t>(oend - o) < kTimeLen) return bad("text longer than recorded");
          std::memcpy(o, time, kTimeLen);
          o += kTimeLen;
          break;
        }
      }
    }
    std::size_t end_len = ending == kLf ? 1 : ending == kCrLf ? 2 : 0;
    if (static_cast<std::size_t>(oend - o) < end_len) return bad("text longer than recorded");
    if (ending == kCrLf) *o++ = '\r';
    if (ending != kNone) *o++ = '\n';
  }
  if (o != oend) return bad("text shorter than recorded");
  if (!ops.empty()) return bad("trailing line stream bytes");
  return Status::Ok();
}

}  // namespace sipdex::storage
