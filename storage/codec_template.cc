#include "storage/codec_template.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "common/time.h"
#include "storage/coding.h"

namespace sipdex::storage {
namespace {

constexpr std::size_t kMaxNames = 4096;
constexpr std::size_t kMaxHeaderName = 48;
constexpr std::size_t kMaxPrefixKey = 24;
constexpr std::size_t kSlots = 64;        // integer streams per column, chosen by SlotOf
constexpr std::size_t kSlotContext = 4;   // literal bytes before a placeholder that choose its slot
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

enum PartType : std::uint64_t { kPartRefs = 1, kPartLong = 2, kPartSlotBase = 3 };
enum SlotMode : std::uint8_t { kModeVarint = 0, kModeDelta = 1, kModeFixed = 2, kModeHistory = 3, kModeCount = 4 };
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

// The slot of an integer placeholder of type `type` preceded in its skeleton
// by the bytes [begin, end) (only the last kSlotContext count, placeholders
// included): values that follow the same text ("tag=", "branch=z9hG4bK",
// the second octet of an address) share a stream.
inline std::size_t SlotOf(const char* begin, const char* end, std::uint8_t type) {
  if (end - begin > static_cast<std::ptrdiff_t>(kSlotContext)) begin = end - kSlotContext;
  std::uint64_t h = 0xcbf29ce484222325ULL ^ type;
  for (const char* p = begin; p < end; ++p) h = (h ^ static_cast<std::uint8_t>(*p)) * 0x100000001b3ULL;
  return static_cast<std::size_t>((h ^ (h >> 29)) & (kSlots - 1));
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

// --- Shared helpers -----------------------------------------------------------

namespace {

// Open-addressing map from 64-bit hashes to 32-bit values (kAbsent when
// unset), cleared in O(capacity) per use.
class FlatMap {
 public:
  static constexpr std::uint32_t kAbsent = 0xffffffffu;
  void Reset(std::size_t expected) {
    std::size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    mask_ = cap - 1;
    size_ = 0;
    entries_.assign(cap, Entry());
  }
  // The value slot of `key` (kAbsent when new; the caller may store into it).
  // The slot stays valid until the next call.
  std::uint32_t* Find(std::uint64_t key) {
    if (2 * (size_ + 1) > mask_ + 1) Grow();
    Entry& e = entries_[Probe(key)];
    if (e.value == kAbsent) {
      e.key = key;
      ++size_;
    }
    return &e.value;
  }

 private:
  struct Entry {
    std::uint64_t key = 0;
    std::uint32_t value = kAbsent;
  };
  std::size_t Probe(std::uint64_t key) const {
    std::size_t i = static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ULL) >> 40) & mask_;
    while (entries_[i].value != kAbsent && entries_[i].key != key) i = (i + 1) & mask_;
    return i;
  }
  void Grow() {
    std::vector<Entry> old;
    old.swap(entries_);
    std::size_t cap = 2 * (mask_ + 1);
    mask_ = cap - 1;
    entries_.assign(cap, Entry());
    size_ = 0;
    for (const Entry& e : old) {
      if (e.value == kAbsent) continue;
      entries_[Probe(e.key)] = e;
      ++size_;
    }
  }
  std::size_t mask_ = 15;
  std::size_t size_ = 0;
  std::vector<Entry> entries_ = std::vector<Entry>(16);
};

}  // namespace

// --- Encoder ------------------------------------------------------------------

struct TemplateChunkEncoder::Rep {
  static constexpr std::size_t kRecent = 512;
  struct Long {
    std::uint32_t offset;  // in Column::longbuf
    std::uint32_t size;
  };
  struct Column {
    std::string skeletons;  // lenpref(distinct skeleton)* of the segment
    std::uint32_t distinct = 0;
    bool in_segment = false;
    std::string refs;       // per line of the chunk: varint(skeleton id << 1 | 0) or varint(distance << 1 | 1)
    std::uint32_t nlines = 0;  // lines of the chunk so far
    std::array<std::uint32_t, kRecent> recent;  // hash of a value -> its latest index in lines
    std::string longbuf;    // packed nibbles of the long hex values, back to back
    std::vector<Long> longs;
    std::array<std::vector<std::uint64_t>, kSlots> slots;
    bool used = false;
  };
  struct Skeleton {
    std::uint32_t column;
    std::uint32_t id;
    std::uint64_t hash;
    std::string_view bytes;  // into `arena`
  };
  struct Line {
    std::uint32_t column;
    std::uint32_t ordinal;  // among the column's lines of the chunk
    std::uint32_t offset;   // of the value in the chunk's text
    std::uint32_t size;
  };
  std::vector<Line> lines;  // of the chunk
  std::vector<Column> columns;
  std::vector<std::uint32_t> used;          // columns of the chunk
  std::vector<std::uint32_t> segment_used;  // columns of the segment
  std::string cur;         // the skeleton of the line being encoded
  std::string shape;       // the ops of the record being encoded
  std::deque<std::string> arena;  // stable copies of distinct skeletons and shapes
  std::vector<Skeleton> skeletons;
  FlatMap skeleton_map;
  std::string shapes;      // lenpref(distinct shape)*
  std::string shape_refs;  // varint(shape id) per record
  std::vector<std::string_view> shape_list;
  FlatMap shape_map;
  FlatMap value_map;
  std::vector<std::uint32_t> last;  // occurrence index of each distinct long value
  std::string part;

  Column& Use(std::uint32_t c) {
    if (c >= columns.size()) columns.resize(c + 1);
    Column& col = columns[c];
    if (!col.used) {
      col.used = true;
      col.recent.fill(FlatMap::kAbsent);
      used.push_back(c);
    }
    if (!col.in_segment) {
      col.in_segment = true;
      segment_used.push_back(c);
    }
    return col;
  }

  static int HexValue(char c) {
    if (c <= '9') return c - '0';
    if (c >= 'a') return c - 'a' + 10;
    return c - 'A' + 10;
  }

  // Writes the skeleton of value `v` to `cur`, its variables to col's
  // streams. `time` is the record's formatted time for TL_ lines, else nullptr.
  void EncodeValue(std::string_view v, Column* col, Column* vars, const char* time) {
    std::string& sk = cur;
    sk.clear();
    const char* p = v.data();
    const char* end = p + v.size();
    while (p < end) {
      std::uint8_t cls = ClassOf(*p);
      if (cls == kOther) {
        const char* start = p;
        while (p < end && ClassOf(*p) == kOther) ++p;
        sk.append(start, static_cast<std::size_t>(p - start));
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
        sk.append(start, static_cast<std::size_t>(p - start));
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
        sk.append(start, static_cast<std::size_t>(p - start));
        continue;
      }
      sk.append(start, static_cast<std::size_t>(s - start));
      if (!lower && !upper && len <= kMaxDecLen) {
        std::uint64_t value = 0;
        for (const char* q = s; q < p; ++q) value = value * 10 + static_cast<std::uint64_t>(*q - '0');
        auto type = static_cast<std::uint8_t>(*s == '0' && len > 1 ? kDecWide : kDec);
        col->slots[SlotOf(sk.data(), sk.data() + sk.size(), type)].push_back(value);
        sk.push_back(static_cast<char>(type));
        if (type == kDecWide) sk.push_back(static_cast<char>(len));
      } else if ((lower || upper) && len <= kMaxHexLen) {
        std::uint64_t value = 0;
        for (const char* q = s; q < p; ++q) value = (value << 4) | static_cast<std::uint64_t>(HexValue(*q));
        auto type = static_cast<std::uint8_t>(upper ? kHexUpper : kHexLower);
        col->slots[SlotOf(sk.data(), sk.data() + sk.size(), type)].push_back(value);
        sk.push_back(static_cast<char>(type));
        sk.push_back(static_cast<char>(len));
      } else {
        sk.push_back(static_cast<char>(upper ? kLongUpper : kLongLower));
        PutVarint64(&sk, len);
        Long l{static_cast<std::uint32_t>(vars->longbuf.size()), static_cast<std::uint32_t>((len + 1) / 2)};
        for (std::size_t i = 0; i < len; i += 2) {
          auto hi = static_cast<std::uint8_t>(HexValue(s[i]));
          std::uint8_t lo = i + 1 < len ? static_cast<std::uint8_t>(HexValue(s[i + 1])) : 0;
          vars->longbuf.push_back(static_cast<char>((hi << 4) | lo));
        }
        vars->longs.push_back(l);
      }
    }
  }

  // Appends cur as the next line of column c: a reference to an earlier equal
  // skeleton of the chunk, or a new one.
  void PutSkeleton(std::uint32_t c, Column* col) {
    std::uint64_t h = Hash64(cur) ^ (std::uint64_t{c} * 0x9e3779b97f4a7c15ULL);
    std::uint32_t* v = skeleton_map.Find(h);
    if (*v != FlatMap::kAbsent) {
      const Skeleton& e = skeletons[*v];
      if (e.column == c && e.bytes == cur) {
        PutVarint64(&col->refs, std::uint64_t{e.id} << 1);
        return;
      }
    }
    PutVarint64(&col->refs, std::uint64_t{col->distinct} << 1);
    PutLengthPrefixed(&col->skeletons, cur);
    if (*v == FlatMap::kAbsent) {  // on a hash collision the first skeleton keeps the slot
      arena.emplace_back(cur);
      *v = static_cast<std::uint32_t>(skeletons.size());
      skeletons.push_back(Skeleton{c, col->distinct, h, arena.back()});
    }
    ++col->distinct;
  }

  void PutShape() {
    std::uint64_t h = Hash64(shape);
    std::uint32_t* v = shape_map.Find(h);
    if (*v != FlatMap::kAbsent && shape_list[*v] == shape) {
      PutVarint64(&shape_refs, *v);
      return;
    }
    auto id = static_cast<std::uint32_t>(shape_list.size());
    PutVarint64(&shape_refs, id);
    PutLengthPrefixed(&shapes, shape);
    arena.emplace_back(shape);
    shape_list.push_back(arena.back());
    if (*v == FlatMap::kAbsent) *v = id;
  }

  // Appends the stream of one slot: u8(mode) [u8(width)] values.
  void PutSlot(const std::vector<std::uint64_t>& values, std::string* out) {
    std::size_t cost_varint = 0, cost_delta = 0, cost_history = 0;
    std::uint64_t prev = 0, max = 0;
    for (std::uint64_t v : values) {
      cost_varint += VarintLength(v);
      cost_delta += VarintLength(ZigZag(v - prev));
      prev = v;
      max = std::max(max, v);
    }
    std::size_t width = ByteWidth(max);
    std::size_t cost_fixed = width * values.size() + 1;
    value_map.Reset(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::uint32_t* v = value_map.Find(values[i]);
      cost_history += *v == FlatMap::kAbsent ? 1 + width : VarintLength(i - *v);
      *v = static_cast<std::uint32_t>(i);
    }
    cost_history += 1;
    std::size_t best = std::min({cost_varint, cost_delta, cost_fixed, cost_history});
    auto put_fixed = [&](std::uint64_t v) {
      char buf[8];
      for (std::size_t i = 0; i < width; ++i) buf[i] = static_cast<char>(v >> (8 * (width - 1 - i)));
      out->append(buf, width);
    };
    if (best == cost_varint) {
      out->push_back(static_cast<char>(kModeVarint));
      for (std::uint64_t v : values) PutVarint64(out, v);
    } else if (best == cost_delta) {
      out->push_back(static_cast<char>(kModeDelta));
      prev = 0;
      for (std::uint64_t v : values) {
        PutVarint64(out, ZigZag(v - prev));
        prev = v;
      }
    } else if (best == cost_fixed) {
      out->push_back(static_cast<char>(kModeFixed));
      out->push_back(static_cast<char>(width));
      for (std::uint64_t v : values) put_fixed(v);
    } else {
      out->push_back(static_cast<char>(kModeHistory));
      out->push_back(static_cast<char>(width));
      value_map.Reset(values.size());
      for (std::size_t i = 0; i < values.size(); ++i) {
        std::uint32_t* v = value_map.Find(values[i]);
        if (*v == FlatMap::kAbsent) {
          out->push_back(0);
          put_fixed(values[i]);
        } else {
          PutVarint64(out, i - *v);
        }
        *v = static_cast<std::uint32_t>(i);
      }
    }
  }

  // Appends the long values of a column: per value varint(distance to its
  // previous occurrence), 0 followed by the packed bytes for a first one.
  void PutLongs(const Column& col, std::string* out) {
    value_map.Reset(col.longs.size());
    last.clear();
    for (std::size_t i = 0; i < col.longs.size(); ++i) {
      const Long& l = col.longs[i];
      std::string_view bytes(col.longbuf.data() + l.offset, l.size);
      std::uint32_t* v = value_map.Find(Hash64(bytes) ^ l.size);
      if (*v != FlatMap::kAbsent) {
        const Long& o = col.longs[last[*v]];
        if (std::string_view(col.longbuf.data() + o.offset, o.size) == bytes) {
          PutVarint64(out, i - last[*v]);
          last[*v] = static_cast<std::uint32_t>(i);
          continue;
        }
      }
      out->push_back(0);
      out->append(bytes);
      if (*v == FlatMap::kAbsent) {
        *v = static_cast<std::uint32_t>(last.size());
        last.push_back(static_cast<std::uint32_t>(i));
      }
    }
  }
};

TemplateChunkEncoder::TemplateChunkEncoder() : rep_(std::make_unique<Rep>()) {}
TemplateChunkEncoder::~TemplateChunkEncoder() = default;

void TemplateChunkEncoder::BeginSegment() {
  Rep& r = *rep_;
  for (std::uint32_t c : r.segment_used) {
    Rep::Column& col = r.columns[c];
    col.in_segment = false;
    col.skeletons.clear();
    col.distinct = 0;
  }
  r.segment_used.clear();
  r.arena.clear();
  r.skeletons.clear();
  r.skeleton_map.Reset(1024);
  r.shapes.clear();
  r.shape_list.clear();
  r.shape_map.Reset(256);
}

void TemplateChunkEncoder::FinishSegment(std::string* dictionary) {
  Rep& r = *rep_;
  PutLengthPrefixed(dictionary, r.shapes);
  PutVarint64(dictionary, r.segment_used.size());
  for (std::uint32_t c : r.segment_used) {
    const Rep::Column& col = r.columns[c];
    PutVarint64(dictionary, c);
    PutVarint64(dictionary, col.distinct);
    PutLengthPrefixed(dictionary, col.skeletons);
  }
}

void TemplateChunkEncoder::Encode(std::string_view text, std::span<const SegmentRecordMeta> records,
                                  TemplateNames* names, std::string* body, std::uint64_t* line_feeds) {
  Rep& r = *rep_;
  r.shape_refs.clear();
  r.lines.clear();
  std::uint64_t feeds = 0;
  std::size_t pos = 0;
  char time[kTimeLen];
  for (const SegmentRecordMeta& rec : records) {
    const std::size_t rec_end = std::min(text.size(), pos + rec.size);
    r.shape.clear();
    bool time_done = false;
    bool time_ok = false;
    while (pos < rec_end || (pos < text.size() && &rec == &records.back())) {
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
      if (line.starts_with("TL_")) {
        if (!time_done) {
          time_done = true;
          time_ok = FormatTraceTime(rec.time, time);
        }
        if (time_ok) t = time;
      }
      Rep::Column& col = r.Use(c);
      Rep::Column& vars = r.Use(0);
      std::string_view value = line.substr(key.size());
      // A value equal to an earlier one of the column in this chunk is a
      // reference to it; else skeleton and variables.
      // Candidates come from a small direct-mapped table per column (it stays
      // in cache; a collision only loses a reference).
      std::uint32_t* seen = &col.recent[Hash64(value) & (Rep::kRecent - 1)];
      bool repeat = false;
      if (*seen != FlatMap::kAbsent) {
        const Rep::Line& e = r.lines[*seen];
        if (e.column == c && text.substr(e.offset, e.size) == value) {
          PutVarint64(&col.refs, (std::uint64_t{col.nlines - e.ordinal} << 1) | 1);
          repeat = true;
        }
      }
      if (!repeat) {
        r.EncodeValue(value, &col, &vars, t);
        r.PutSkeleton(c, &col);
      }
      *seen = static_cast<std::uint32_t>(r.lines.size());
      r.lines.push_back(Rep::Line{c, col.nlines++, static_cast<std::uint32_t>(value.data() - text.data()),
                                  static_cast<std::uint32_t>(value.size())});
      PutVarint64(&r.shape, std::uint64_t{c} * 3 + ending);
    }
    r.PutShape();
  }
  *line_feeds = feeds;

  PutLengthPrefixed(body, r.shape_refs);
  std::size_t nparts = 0;
  for (std::uint32_t c : r.used) {
    const Rep::Column& col = r.columns[c];
    nparts += 1 + (col.longs.empty() ? 0 : 1);
    for (const auto& s : col.slots) nparts += s.empty() ? 0 : 1;
  }
  PutVarint64(body, nparts);
  // References first, then integer slots and packed hex: similar bytes sit
  // together for the compressor.
  for (std::uint32_t c : r.used) {
    PutVarint64(body, c);
    PutVarint64(body, kPartRefs);
    PutLengthPrefixed(body, r.columns[c].refs);
  }
  for (std::uint32_t c : r.used) {
    Rep::Column& col = r.columns[c];
    for (std::size_t s = 0; s < kSlots; ++s) {
      if (col.slots[s].empty()) continue;
      r.part.clear();
      r.PutSlot(col.slots[s], &r.part);
      PutVarint64(body, c);
      PutVarint64(body, kPartSlotBase + s);
      PutLengthPrefixed(body, r.part);
    }
  }
  for (std::uint32_t c : r.used) {
    Rep::Column& col = r.columns[c];
    if (col.longs.empty()) continue;
    r.part.clear();
    r.PutLongs(col, &r.part);
    PutVarint64(body, c);
    PutVarint64(body, kPartLong);
    PutLengthPrefixed(body, r.part);
  }
  for (std::uint32_t c : r.used) {
    Rep::Column& col = r.columns[c];
    col.used = false;
    col.nlines = 0;
    col.refs.clear();
    col.longbuf.clear();
    col.longs.clear();
    for (auto& s : col.slots) s.clear();
  }
  r.used.clear();
}

// --- Decoder ------------------------------------------------------------------

namespace {

// GetVarint64 with the one-byte case inline (most references, lengths and
// small integers).
inline bool ReadVarint(std::string_view* in, std::uint64_t* v) {
  if (!in->empty() && static_cast<std::uint8_t>(in->front()) < 0x80) {
    *v = static_cast<std::uint8_t>(in->front());
    in->remove_prefix(1);
    return true;
  }
  return GetVarint64(in, v);
}

// A skeleton compiled for decoding (once per segment, at its first use): runs
// of literal bytes and placeholders with their width and slot resolved.
constexpr std::uint8_t kOpLiteral = 8;  // above every Placeholder
struct Op {
  std::uint8_t kind = kOpLiteral;  // kOpLiteral or a Placeholder (never kEscape)
  std::uint8_t width = 0;          // kDecWide, kHexLower, kHexUpper
  std::uint16_t slot = 0;          // integer placeholders
  std::uint32_t size = 0;          // literal bytes (kOpLiteral), hex digits (kLong*)
  std::uint32_t offset = 0;        // of the literal bytes in Rep::literals
};

// The number of decimal digits of v (1 for 0).
inline std::size_t DecimalDigits(std::uint64_t v) {
  std::size_t n = 1;
  for (std::uint64_t p = 10; n < 20 && v >= p; p *= 10) ++n;
  return n;
}

// Literal runs up to this size are copied with one fixed-size copy (the
// output and Rep::literals have room for it).
constexpr std::size_t kShortCopy = 32;

}  // namespace

struct TemplateChunkDecoder::Rep {
  struct Slot {
    std::string_view in;
    std::uint8_t mode = kModeVarint;
    std::uint8_t width = 0;
    std::uint64_t prev = 0;
    std::vector<std::uint64_t> history;
  };
  struct Column {
    std::uint64_t dictionary_epoch = 0;
    std::vector<std::string_view> distinct;  // the segment's skeletons of this column
    // Per skeleton: 1 + its program's index in `programs`, 0 before its first use.
    std::vector<std::uint32_t> compiled;
    std::uint64_t epoch = 0;
    std::string_view refs;
    std::string_view longs;
    std::vector<std::pair<std::size_t, std::size_t>> lines;  // (offset, size) of the chunk's values in the output
    std::vector<std::string_view> long_history;
    std::array<Slot, kSlots> slots;
  };
  std::vector<Column> columns;
  std::vector<std::string_view> shapes;
  std::size_t nnames = 0;
  std::uint64_t dictionary_epoch = 0;
  std::uint64_t epoch = 0;
  // Compiled skeletons of the segment: programs[i] = ops[first, last).
  // They include the column keys of `names` (the segment's).
  std::span<const std::string_view> names;
  std::vector<Op> ops;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> programs;
  std::string literals;  // literal bytes of the ops, followed by kShortCopy spare bytes

  Column& Get(std::size_t c) {
    Column& col = columns[c];
    if (col.dictionary_epoch != dictionary_epoch) {
      col.dictionary_epoch = dictionary_epoch;
      col.distinct.clear();
      col.compiled.clear();
    }
    if (col.epoch != epoch) {
      col.epoch = epoch;
      col.refs = {};
      col.longs = {};
      col.lines.clear();
      col.long_history.clear();
      for (Slot& s : col.slots) {
        s.in = {};
        s.mode = kModeVarint;
        s.width = 0;
        s.prev = 0;
        s.history.clear();
      }
    }
    return col;
  }

  // Compiles `sk` into programs (see Op); *error names what is malformed.
  // The program writes the column key `key` first.
  bool Compile(std::string_view key, std::string_view sk, std::uint32_t* program, const char** error) {
    literals.resize(literals.size() - std::min(literals.size(), kShortCopy));  // drop the spare bytes
    const auto first = static_cast<std::uint32_t>(ops.size());
    const char* const skeleton_begin = sk.data();
    auto literal = [&](const char* p, std::size_t n) {
      if (!ops.empty() && ops.size() > first && ops.back().kind == kOpLiteral &&
          ops.back().offset + ops.back().size == literals.size()) {
        ops.back().size += static_cast<std::uint32_t>(n);
      } else {
        Op op;
        op.size = static_cast<std::uint32_t>(n);
        op.offset = static_cast<std::uint32_t>(literals.size());
        ops.push_back(op);
      }
      literals.append(p, n);
    };
    if (!key.empty()) literal(key.data(), key.size());
    bool ok = true;
    while (!sk.empty() && ok) {
      auto b = static_cast<std::uint8_t>(sk[0]);
      if (b >= 8) {
        std::size_t n = 1;
        while (n < sk.size() && static_cast<std::uint8_t>(sk[n]) >= 8) ++n;
        literal(sk.data(), n);
        sk.remove_prefix(n);
        continue;
      }
      const char* here = sk.data();
      sk.remove_prefix(1);
      Op op;
      op.kind = b;
      switch (b) {
        case kEscape:
          if (sk.empty()) {
            *error = "escape cut short";
            ok = false;
            break;
          }
          literal(sk.data(), 1);
          sk.remove_prefix(1);
          continue;
        case kDec:
        case kDecWide:
        case kHexLower:
        case kHexUpper:
          if (b != kDec) {
            if (sk.empty()) {
              *error = "placeholder cut short";
              ok = false;
              break;
            }
            op.width = static_cast<std::uint8_t>(sk[0]);
            sk.remove_prefix(1);
            if (b == kDecWide && (op.width < 1 || op.width > kMaxDecLen)) {
              *error = "bad decimal width";
              ok = false;
              break;
            }
            if (b != kDecWide && (op.width < 1 || op.width > kMaxHexLen)) {
              *error = "bad hex length";
              ok = false;
              break;
            }
          }
          op.slot = static_cast<std::uint16_t>(SlotOf(skeleton_begin, here, b));
          break;
        case kLongLower:
        case kLongUpper: {
          std::uint64_t len = 0;
          if (!GetVarint64(&sk, &len) || len > 0xffffffffu) {
            *error = "long hex length cut short";
            ok = false;
            break;
          }
          op.size = static_cast<std::uint32_t>(len);
          break;
        }
        default:  // kTime
          break;
      }
      if (ok) ops.push_back(op);
    }
    literals.append(kShortCopy, '\0');
    if (!ok) {
      ops.resize(first);
      return false;
    }
    programs.emplace_back(first, static_cast<std::uint32_t>(ops.size()));
    *program = static_cast<std::uint32_t>(programs.size() - 1);
    return true;
  }

  static bool ReadFixed(std::string_view* in, std::size_t width, std::uint64_t* v) {
    if (in->size() < width) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < width; ++i) x = (x << 8) | static_cast<std::uint8_t>((*in)[i]);
    in->remove_prefix(width);
    *v = x;
    return true;
  }

  static bool NextValue(Slot* s, std::uint64_t* v) {
    switch (s->mode) {
      case kModeVarint:
        return ReadVarint(&s->in, v);
      case kModeDelta: {
        std::uint64_t u = 0;
        if (!ReadVarint(&s->in, &u)) return false;
        s->prev += UnZigZag(u);
        *v = s->prev;
        return true;
      }
      case kModeFixed:
        return ReadFixed(&s->in, s->width, v);
      default: {  // kModeHistory
        std::uint64_t d = 0;
        if (!ReadVarint(&s->in, &d)) return false;
        if (d == 0) {
          if (!ReadFixed(&s->in, s->width, v)) return false;
        } else {
          if (d > s->history.size()) return false;
          *v = s->history[s->history.size() - static_cast<std::size_t>(d)];
        }
        s->history.push_back(*v);
        return true;
      }
    }
  }

  static bool NextLong(Column* col, std::size_t nbytes, std::string_view* bytes) {
    std::uint64_t d = 0;
    if (!ReadVarint(&col->longs, &d)) return false;
    if (d == 0) {
      if (!GetBytes(&col->longs, nbytes, bytes)) return false;
    } else {
      if (d > col->long_history.size()) return false;
      *bytes = col->long_history[col->long_history.size() - static_cast<std::size_t>(d)];
      if (bytes->size() != nbytes) return false;
    }
    col->long_history.push_back(*bytes);
    return true;
  }
};

TemplateChunkDecoder::TemplateChunkDecoder() : rep_(std::make_unique<Rep>()) {}
TemplateChunkDecoder::~TemplateChunkDecoder() = default;

Status TemplateChunkDecoder::SetDictionary(std::string_view dictionary, std::size_t nnames) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment dictionary: " + std::string(what)); };
  Rep& r = *rep_;
  ++r.dictionary_epoch;
  ++r.epoch;
  r.shapes.clear();
  r.ops.clear();
  r.programs.clear();
  r.literals.clear();
  r.names = {};
  r.nnames = 0;
  if (nnames == 0 || nnames > kMaxNames) return bad("bad column names");
  if (r.columns.size() < nnames) r.columns.resize(nnames);
  std::string_view shapes;
  std::uint64_t ncols = 0;
  if (!GetLengthPrefixed(&dictionary, &shapes) || !GetVarint64(&dictionary, &ncols)) return bad("cut short");
  while (!shapes.empty()) {
    std::string_view s;
    if (!GetLengthPrefixed(&shapes, &s)) return bad("record shapes cut short");
    r.shapes.push_back(s);
  }
  if (ncols > nnames) return bad("too many columns");
  for (std::uint64_t i = 0; i < ncols; ++i) {
    std::uint64_t c = 0, n = 0;
    std::string_view blob;
    if (!GetVarint64(&dictionary, &c) || !GetVarint64(&dictionary, &n) || !GetLengthPrefixed(&dictionary, &blob)) {
      return bad("columns cut short");
    }
    if (c >= nnames) return bad("unknown column");
    if (n > blob.size()) return bad("impossible skeleton count");
    Rep::Column& col = r.Get(static_cast<std::size_t>(c));
    if (!col.distinct.empty()) return bad("column listed twice");
    col.distinct.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t k = 0; k < n; ++k) {
      std::string_view sk;
      if (!GetLengthPrefixed(&blob, &sk)) return bad("skeletons cut short");
      col.distinct.push_back(sk);
    }
    if (!blob.empty()) return bad("trailing skeleton bytes");
    col.compiled.assign(col.distinct.size(), 0);
  }
  if (!dictionary.empty()) return bad("trailing bytes");
  r.nnames = nnames;
  return Status::Ok();
}

Status TemplateChunkDecoder::Decode(std::string_view body, std::span<const std::string_view> names,
                                    std::span<const SegmentRecordMeta> records, char* out, std::size_t out_size) {
  auto bad = [](std::string_view what) { return Status::Corruption("segment chunk: " + std::string(what)); };
  Rep& r = *rep_;
  if (r.nnames == 0 || names.size() != r.nnames) return bad("no dictionary for these column names");
  ++r.epoch;
  if (names.data() != r.names.data()) {
    // Other column keys than the programs were compiled with (not the
    // segment's usual case): compile again.
    r.names = names;
    r.ops.clear();
    r.programs.clear();
    r.literals.clear();
    for (Rep::Column& col : r.columns) std::fill(col.compiled.begin(), col.compiled.end(), 0);
  }
  std::string_view shape_refs;
  std::uint64_t nparts = 0;
  if (!GetLengthPrefixed(&body, &shape_refs) || !GetVarint64(&body, &nparts)) return bad("header cut short");
  if (nparts > body.size()) return bad("impossible part count");
  for (std::uint64_t i = 0; i < nparts; ++i) {
    std::uint64_t c = 0, type = 0;
    std::string_view bytes;
    if (!GetVarint64(&body, &c) || !GetVarint64(&body, &type) || !GetLengthPrefixed(&body, &bytes)) {
      return bad("parts cut short");
    }
    if (c >= names.size()) return bad("part names an unknown column");
    Rep::Column& col = r.Get(static_cast<std::size_t>(c));
    if (type == kPartRefs) {
      col.refs = bytes;
    } else if (type == kPartLong) {
      col.longs = bytes;
    } else if (type - kPartSlotBase < kSlots) {
      Rep::Slot& s = col.slots[static_cast<std::size_t>(type - kPartSlotBase)];
      if (bytes.empty()) return bad("empty slot");
      s.mode = static_cast<std::uint8_t>(bytes[0]);
      bytes.remove_prefix(1);
      if (s.mode >= kModeCount) return bad("unknown slot mode");
      if (s.mode == kModeFixed || s.mode == kModeHistory) {
        if (bytes.empty()) return bad("slot without width");
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
  char time[kTimeLen];
  bool ended = false;  // an unterminated line was written: nothing may follow
  Rep::Column& vars = r.Get(0);
  for (const SegmentRecordMeta& rec : records) {
    std::uint64_t shape_id = 0;
    if (!ReadVarint(&shape_refs, &shape_id) || shape_id >= r.shapes.size()) return bad("bad record shape");
    std::string_view ops = r.shapes[static_cast<std::size_t>(shape_id)];
    bool time_done = false;
    bool time_ok = false;
    while (!ops.empty()) {
      std::uint64_t op = 0;
      if (!ReadVarint(&ops, &op)) return bad("record shape cut short");
      std::uint64_t c = op / 3;
      std::uint64_t ending = op % 3;
      if (c >= names.size()) return bad("line names an unknown column");
      if (ended) return bad("unterminated line before the end");
      std::string_view key = names[static_cast<std::size_t>(c)];
      if (static_cast<std::size_t>(oend - o) < key.size()) return bad("text longer than recorded");
      Rep::Column& col = r.Get(static_cast<std::size_t>(c));
      std::uint64_t ref = 0;
      if (!ReadVarint(&col.refs, &ref)) return bad("line references ran out");
      const std::size_t value_offset = static_cast<std::size_t>(o - out) + key.size();
      const Op* op_begin = nullptr;
      const Op* op_end = nullptr;
      if ((ref & 1) != 0) {
        std::memcpy(o, key.data(), key.size());
        o += key.size();
        std::uint64_t d = ref >> 1;
        if (d == 0 || d > col.lines.size()) return bad("bad repeated line reference");
        auto [offset, size] = col.lines[col.lines.size() - static_cast<std::size_t>(d)];
        if (static_cast<std::size_t>(oend - o) < size) return bad("text longer than recorded");
        // The source ends before o: copy in blocks while they stay inside what was written.
        const char* src = out + offset;
        std::size_t i = 0;
        if (static_cast<std::size_t>(oend - o) >= size + kShortCopy) {
          for (; i + kShortCopy <= size || (i < size && src + i + kShortCopy <= o); i += kShortCopy) {
            std::memcpy(o + i, src + i, kShortCopy);
          }
        }
        if (i < size) std::memcpy(o + i, src + i, size - i);
        o += size;
      } else {
        if ((ref >> 1) >= col.distinct.size()) return bad("bad skeleton reference");
        std::uint32_t& compiled = col.compiled[static_cast<std::size_t>(ref >> 1)];
        if (compiled == 0) {
          std::uint32_t program = 0;
          const char* error = "";
          if (!r.Compile(key, col.distinct[static_cast<std::size_t>(ref >> 1)], &program, &error)) return bad(error);
          compiled = program + 1;
        }
        const auto [first, last] = r.programs[compiled - 1];
        op_begin = r.ops.data() + first;
        op_end = r.ops.data() + last;
      }
      const char* const literals = r.literals.data();
      for (const Op* p = op_begin; p != op_end; ++p) {
        switch (p->kind) {
          case kOpLiteral: {
            const std::size_t n = p->size;
            const std::size_t room = static_cast<std::size_t>(oend - o);
            if (n <= kShortCopy && room >= kShortCopy) {
              std::memcpy(o, literals + p->offset, kShortCopy);  // the bytes past n are overwritten later
            } else {
              if (room < n) return bad("text longer than recorded");
              std::memcpy(o, literals + p->offset, n);
            }
            o += n;
            break;
          }
          case kDec:
          case kDecWide:
          case kHexLower:
          case kHexUpper: {
            std::uint64_t v = 0;
            if (!Rep::NextValue(&col.slots[p->slot], &v)) return bad("slot ran out of values");
            const std::size_t width = p->width;
            std::size_t n = width;
            if (p->kind == kDec || p->kind == kDecWide) {
              std::size_t digits = DecimalDigits(v);
              if (p->kind == kDec) {
                n = digits;
              } else if (digits > width) {
                return bad("decimal wider than its width");
              }
              if (static_cast<std::size_t>(oend - o) < n) return bad("text longer than recorded");
              char* d = o + n;
              for (std::size_t i = 0; i < digits; ++i) {
                *--d = static_cast<char>('0' + v % 10);
                v /= 10;
              }
              while (d > o) *--d = '0';
            } else {
              if (width < kMaxHexLen && (v >> (4 * width)) != 0) return bad("hex value longer than its length");
              if (static_cast<std::size_t>(oend - o) < n) return bad("text longer than recorded");
              const char* alphabet = p->kind == kHexUpper ? "0123456789ABCDEF" : "0123456789abcdef";
              for (char* d = o + n; d > o; v >>= 4) *--d = alphabet[v & 15];
            }
            o += n;
            break;
          }
          case kLongLower:
          case kLongUpper: {
            const std::size_t len = p->size;
            if (static_cast<std::size_t>(oend - o) < len) return bad("text longer than recorded");
            std::string_view bytes;
            if (!Rep::NextLong(&vars, (len + 1) / 2, &bytes)) return bad("long hex stream ran out");
            const char* alphabet = p->kind == kLongUpper ? "0123456789ABCDEF" : "0123456789abcdef";
            const auto* src = reinterpret_cast<const std::uint8_t*>(bytes.data());
            for (std::size_t i = 0; i + 1 < len; i += 2) {
              std::uint8_t byte = src[i / 2];
              o[0] = alphabet[byte >> 4];
              o[1] = alphabet[byte & 15];
              o += 2;
            }
            if ((len & 1) != 0) *o++ = alphabet[src[len / 2] >> 4];
            break;
          }
          default: {  // kTime
            if (!time_done) {
              time_done = true;
              time_ok = FormatTraceTime(rec.time, time);
            }
            if (!time_ok) return bad("record time out of range");
            if (static_cast<std::size_t>(oend - o) < kTimeLen) return bad("text longer than recorded");
            std::memcpy(o, time, kTimeLen);
            o += kTimeLen;
            break;
          }
        }
      }
      col.lines.emplace_back(value_offset, static_cast<std::size_t>(o - out) - value_offset);
      std::size_t end_len = ending == kLf ? 1 : ending == kCrLf ? 2 : 0;
      if (static_cast<std::size_t>(oend - o) < end_len) return bad("text longer than recorded");
      if (ending == kCrLf) *o++ = '\r';
      if (ending != kNone) *o++ = '\n';
      ended = ending == kNone;
    }
  }
  if (o != oend) return bad("text shorter than recorded");
  if (!shape_refs.empty()) return bad("trailing record shapes");
  return Status::Ok();
}

}  // namespace sipdex::storage
