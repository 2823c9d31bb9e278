#include "indexer/parser.h"

#include <array>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sipdex {
namespace {

constexpr std::string_view kEndRecord = "$$end_record";
constexpr std::string_view kBeginRecord = "$$begin_record";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// ASCII case-insensitive equality, inlined here (the hot path of header dispatch).
inline bool EqIc(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    unsigned char lx = x | 0x20;
    if (lx != (y | 0x20) || lx < 'a' || lx > 'z') return false;
  }
  return true;
}

std::string_view TrimLeft(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (IsSpace(s[i]) || s[i] == '\r' || s[i] == '\n')) ++i;
  return s.substr(i);
}
std::string_view TrimRight(std::string_view s) {
  std::size_t n = s.size();
  while (n > 0 && (IsSpace(s[n - 1]) || s[n - 1] == '\r' || s[n - 1] == '\n')) --n;
  return s.substr(0, n);
}
std::string_view Trim(std::string_view s) { return TrimRight(TrimLeft(s)); }

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Leading decimal digits as a non-negative number (saturating at `max`);
// returns -1 when there is no digit. *used gets the digits' count.
std::int64_t ParseDecimal(std::string_view s, std::int64_t max, std::size_t* used = nullptr) {
  std::size_t i = 0;
  std::int64_t v = 0;
  while (i < s.size() && IsDigit(s[i])) {
    if (v <= max) v = v * 10 + (s[i] - '0');
    ++i;
  }
  if (used) *used = i;
  if (i == 0) return -1;
  return v > max ? max : v;
}

// Fixed-width decimal field; -1 when not all digits.
int Fixed(std::string_view s, std::size_t pos, std::size_t width) {
  if (pos + width > s.size()) return -1;
  int v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = s[pos + i];
    if (!IsDigit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool IsBadControl(unsigned char c) { return c < 0x20 && c != '\t' && c != '\r' && c != '\n'; }

// True when `s` holds a NUL or a control byte other than TAB, CR, LF.
// Checks 64 bytes per step with SSE2 (x86-64 baseline), else 8 with SWAR.
bool HasControlBytes(std::string_view s) {
  const char* p = s.data();
  std::size_t n = s.size();
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i k1f = _mm_set1_epi8(0x1f);
  const __m128i ktab = _mm_set1_epi8('\t');
  const __m128i kcr = _mm_set1_epi8('\r');
  const __m128i klf = _mm_set1_epi8('\n');
  auto bad = [&](const char* q) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, k1f), x);  // x <= 0x1f
    __m128i ok = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, ktab), _mm_cmpeq_epi8(x, kcr)), _mm_cmpeq_epi8(x, klf));
    return _mm_andnot_si128(ok, ctl);
  };
  for (; i + 64 <= n; i += 64) {
    __m128i any = _mm_or_si128(_mm_or_si128(bad(p + i), bad(p + i + 16)), _mm_or_si128(bad(p + i + 32), bad(p + i + 48)));
    if (_mm_movemask_epi8(any) != 0) return true;
  }
  for (; i + 16 <= n; i += 16) {
    if (_mm_movemask_epi8(bad(p + i)) != 0) return true;
  }
#else
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x;
    std::memcpy(&x, p + i, 8);
    if (((x - kOnes * 0x20) & ~x & kHigh) == 0) continue;  // no byte < 0x20
    for (std::size_t j = 0; j < 8; ++j) {
      if (IsBadControl(static_cast<unsigned char>(p[i + j]))) return true;
    }
  }
#endif
  for (; i < n; ++i) {
    if (IsBadControl(static_cast<unsigned char>(p[i]))) return true;
  }
  return false;
}

// Splits off the next line (without "\n" and "\r") of text at *pos.
std::string_view NextLine(std::string_view text, std::size_t* pos) {
  std::size_t begin = *pos;
  const void* nl = std::memchr(text.data() + begin, '\n', text.size() - begin);
  std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - text.data()) : text.size();
  *pos = nl ? end + 1 : end;
  std::string_view line = text.substr(begin, end - begin);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// ---------------------------------------------------------------------------
// The header line.

// Consumes a run of characters satisfying pred ([min, max] long).
template <typename Pred>
bool Take(std::string_view s, std::size_t* i, std::size_t min, std::size_t max, Pred pred, std::string_view* out) {
  std::size_t n = 0;
  while (*i + n < s.size() && n < max && pred(s[*i + n])) ++n;
  if (n < min) return false;
  if (out) *out = s.substr(*i, n);
  *i += n;
  return true;
}
bool Expect(std::string_view s, std::size_t* i, std::string_view lit) {
  if (s.substr(*i, lit.size()) != lit) return false;
  *i += lit.size();
  return true;
}
std::uint32_t HexNumber(std::string_view s) {
  std::uint32_t v = 0;
  for (char c : s) v = (v << 4) | static_cast<std::uint32_t>(HexValue(c));
  return v;
}

// "... Result 0xC3E93C5E(SIPPROXY_E_ROUTING)" in a free-text tail.
void ParseTailResult(std::string_view tail, Record* r) {
  std::size_t p = tail.find("Result 0x");
  if (p == std::string_view::npos) p = tail.find("result 0x");
  if (p == std::string_view::npos) return;
  std::size_t i = p + 7;
  std::size_t j = i + 2;
  while (j < tail.size() && HexValue(tail[j]) >= 0) ++j;
  if (j == i + 2) return;
  r->result_code = tail.substr(i, j - i);
  if (j < tail.size() && tail[j] == '(') {
    std::size_t close = tail.find(')', j);
    if (close != std::string_view::npos) r->result_text = tail.substr(j + 1, close - j - 1);
  }
}

// The part after the sequence number: Instance-Id, (component,function),
// [correlation id], $$begin_record, free text.
void ParseTail(std::string_view rest, Record* r) {
  rest = TrimLeft(rest);
  if (StartsWith(rest, "Instance-Id:")) {
    rest = TrimLeft(rest.substr(12));
    std::size_t n = 0;
    while (n < rest.size() && !IsSpace(rest[n])) ++n;
    r->instance_id = rest.substr(0, n);
    rest = TrimLeft(rest.substr(n));
  }
  if (!rest.empty() && rest[0] == '(') {
    int depth = 0;
    std::size_t close = std::string_view::npos;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] == '(') {
        ++depth;
      } else if (rest[i] == ')' && --depth == 0) {
        close = i;
        break;
      }
    }
    if (close != std::string_view::npos) {
      std::string_view inside = rest.substr(1, close - 1);
      std::size_t comma = inside.find(',');
      if (comma == std::string_view::npos) {
        r->component = Trim(inside);
      } else {
        r->component = Trim(inside.substr(0, comma));
        r->function = Trim(inside.substr(comma + 1));
      }
      rest = rest.substr(close + 1);
    }
  }
  rest = Trim(rest);
  if (!rest.empty() && rest[0] == '[') {
    std::size_t used = 0;
    std::int64_t id = ParseDecimal(rest.substr(1), std::numeric_limits<std::int64_t>::max() / 16, &used);
    if (id >= 0 && used + 1 < rest.size() && rest[used + 1] == ']') {
      r->correlation_id = id;
      rest = Trim(rest.substr(used + 2));
    }
  }
  if (rest.size() >= kBeginRecord.size() && rest.substr(rest.size() - kBeginRecord.size()) == kBeginRecord) {
    rest = TrimRight(rest.substr(0, rest.size() - kBeginRecord.size()));
  }
  r->tail = rest;
  if (!rest.empty()) ParseTailResult(rest, r);
}

void ParseHeaderLine(std::string_view line, Record* r) {
  std::size_t i = 0;
  std::string_view pid, tid, seq;
  auto upper = [](char c) { return IsUpper(c); };
  auto flag_char = [](char c) { return IsUpper(c) || c == '_'; };
  auto machine_char = [](char c) { return c != ']' && static_cast<unsigned char>(c) >= 0x20; };
  auto hex = [](char c) { return HexValue(c) >= 0; };
  if (!(Expect(line, &i, "TL_") && Take(line, &i, 1, 16, upper, &r->level) && Expect(line, &i, "(TF_") &&
        Take(line, &i, 1, 64, flag_char, &r->flag) && Expect(line, &i, ") [") &&
        Take(line, &i, 1, 128, machine_char, &r->machine) && Expect(line, &i, "]") &&
        Take(line, &i, 1, 4, hex, &pid) && Expect(line, &i, ".") && Take(line, &i, 1, 4, hex, &tid) &&
        Expect(line, &i, "::"))) {
    r->malformed |= kMalformedHeaderLine;
    return;
  }
  r->pid = static_cast<std::uint16_t>(HexNumber(pid));
  r->tid = static_cast<std::uint16_t>(HexNumber(tid));
  // MM/DD/YYYY-HH:MM:SS.mmm
  std::string_view ts = line.substr(i);
  if (ts.size() < 23 || ts[2] != '/' || ts[5] != '/' || ts[10] != '-' || ts[13] != ':' || ts[16] != ':' ||
      ts[19] != '.') {
    r->malformed |= kMalformedHeaderLine;
    return;
  }
  CivilTime ct;
  ct.month = Fixed(ts, 0, 2);
  ct.day = Fixed(ts, 3, 2);
  ct.year = Fixed(ts, 6, 4);
  ct.hour = Fixed(ts, 11, 2);
  ct.minute = Fixed(ts, 14, 2);
  ct.second = Fixed(ts, 17, 2);
  ct.millisecond = Fixed(ts, 20, 3);
  if (ct.month < 0 || ct.day < 0 || ct.year < 0 || ct.hour < 0 || ct.minute < 0 || ct.second < 0 ||
      ct.millisecond < 0) {
    r->malformed |= kMalformedHeaderLine;
    return;
  }
  std::optional<TimeMs> t = MakeTime(ct);
  if (t.has_value()) {
    r->time = *t;
    r->has_time = true;
  } else {
    r->malformed |= kMalformedTime;
  }
  i += 23;
  if (!(Expect(line, &i, ".") && Take(line, &i, 1, 8, hex, &seq))) {
    r->malformed |= kMalformedHeaderLine;
    return;
  }
  r->seq = HexNumber(seq);
  if (i < line.size() && HexValue(line[i]) >= 0) {
    r->malformed |= kMalformedHeaderLine;  // sequence number longer than 8 digits
    return;
  }
  ParseTail(line.substr(i), r);
}

// ---------------------------------------------------------------------------
// Header values.

enum class Field : std::uint8_t {
  kIgnore, kCorrelationId, kInstanceId, kDirection, kPeer, kMessageType, kStartLine, kMessageBody,
  kFrom, kTo, kCallId, kCSeq, kEvent, kExpires, kContentType, kUserAgent, kServer, kRecordRoute,
  kDiag, kDiagPublic, kDiagClient,
  kSeverity, kText, kResultCode, kSipStartLine, kSipCallId, kSipCSeq, kLogType,
};

Field Classify(std::string_view n) {
  // Candidates of one length differ in their first letter: test it first.
  auto is = [&](std::string_view s) { return ((n[0] | 0x20) == (s[0] | 0x20)) && EqIc(n, s); };
  switch (n.size()) {
    case 1:
      switch (n[0] | 0x20) {
        case 'i': return Field::kCallId;
        case 'f': return Field::kFrom;
        case 't': return Field::kTo;
        case 'c': return Field::kContentType;
        case 'o': return Field::kEvent;
        default: return Field::kIgnore;
      }
    case 2: return is("To") ? Field::kTo : Field::kIgnore;
    case 4:
      if (is("From")) return Field::kFrom;
      if (is("CSeq")) return Field::kCSeq;
      if (is("Peer")) return Field::kPeer;
      if (is("Text")) return Field::kText;
      return Field::kIgnore;
    case 5: return is("Event") ? Field::kEvent : Field::kIgnore;
    case 6: return is("Server") ? Field::kServer : Field::kIgnore;
    case 7:
      if (is("Call-ID")) return Field::kCallId;
      if (is("Expires")) return Field::kExpires;
      if (is("LogType")) return Field::kLogType;
      return Field::kIgnore;
    case 8:
      if (is("Severity")) return Field::kSeverity;
      if (is("SIP-CSeq")) return Field::kSipCSeq;
      return Field::kIgnore;
    case 9: return is("Direction") ? Field::kDirection : Field::kIgnore;
    case 10:
      if (is("Start-Line")) return Field::kStartLine;
      if (is("User-Agent")) return Field::kUserAgent;
      return Field::kIgnore;
    case 11:
      if (is("Instance-Id")) return Field::kInstanceId;
      if (is("SIP-Call-ID")) return Field::kSipCallId;
      if (is("Result-Code")) return Field::kResultCode;
      return Field::kIgnore;
    case 12:
      if (is("Content-Type")) return Field::kContentType;
      if (is("Message-Type")) return Field::kMessageType;
      if (is("Record-Route")) return Field::kRecordRoute;
      if (is("Message-Body")) return Field::kMessageBody;
      return Field::kIgnore;
    case 14:
      if (is("ms-diagnostics")) return Field::kDiag;
      if (is("SIP-Start-Line")) return Field::kSipStartLine;
      return Field::kIgnore;
    case 20: return is("Trace-Correlation-Id") ? Field::kCorrelationId : Field::kIgnore;
    case 21:
      if (is("ms-diagnostics-public")) return Field::kDiagPublic;
      if (is("ms-client-diagnostics")) return Field::kDiagClient;
      return Field::kIgnore;
    default: return Field::kIgnore;
  }
}

// RFC 3261 token characters: what a header name is made of.
constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7f; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("()<>@,;:\\\"/[]?={}")) t[static_cast<unsigned char>(c)] = false;
  return t;
}
constexpr std::array<bool, 256> kTokenChar = MakeTokenTable();

// Length of the header name when `line` starts "Name:", else npos.
std::size_t HeaderNameLength(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && kTokenChar[static_cast<unsigned char>(line[i])]) ++i;
  return (i > 0 && i < line.size() && line[i] == ':') ? i : std::string_view::npos;
}

// "METHOD uri SIP/2.0" or "SIP/2.0 403 Forbidden". Returns false on another shape.
bool ParseStartLine(std::string_view s, Record* r) {
  s = Trim(s);
  if (StartsWith(s, "SIP/")) {
    std::size_t sp = s.find(' ');
    if (sp == std::string_view::npos) return false;
    std::string_view rest = TrimLeft(s.substr(sp + 1));
    std::size_t used = 0;
    std::int64_t code = ParseDecimal(rest, 999999, &used);
    if (used != 3 || (used < rest.size() && !IsSpace(rest[used]))) return false;
    r->status = static_cast<std::int32_t>(code);
    r->reason_phrase = Trim(rest.substr(used));
    if (r->type == MessageType::kUnknown) r->type = MessageType::kResponse;
    return true;
  }
  std::size_t sp1 = s.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  std::string_view method = s.substr(0, sp1);
  for (char c : method) {
    if (!(IsUpper(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '_' || IsDigit(c))) return false;
  }
  std::string_view rest = TrimLeft(s.substr(sp1 + 1));
  std::size_t sp2 = rest.rfind(' ');
  if (sp2 == std::string_view::npos) return false;
  std::string_view version = rest.substr(sp2 + 1);
  if (!StartsWith(version, "SIP/")) return false;
  r->method = method;
  r->ruri = TrimRight(rest.substr(0, sp2));
  if (r->type == MessageType::kUnknown) r->type = MessageType::kRequest;
  return true;
}

// Value of a `;name=value` parameter list entry: quoted, typographic-quoted or bare.
// *s is advanced past the value.
std::string_view TakeParamValue(std::string_view* s) {
  std::string_view v = TrimLeft(*s);
  constexpr std::string_view kOpen = "\xE2\x80\x9C";   // “
  constexpr std::string_view kClose = "\xE2\x80\x9D";  // ”
  if (!v.empty() && v[0] == '"') {
    std::size_t i = 1;
    while (i < v.size() && v[i] != '"') i += (v[i] == '\\' && i + 1 < v.size()) ? 2 : 1;
    std::string_view out = v.substr(1, (i < v.size() ? i : v.size()) - 1);
    *s = i < v.size() ? v.substr(i + 1) : std::string_view();
    return out;
  }
  if (StartsWith(v, kOpen) || StartsWith(v, kClose)) {
    std::string_view inner = v.substr(3);
    std::size_t close = inner.find(kClose);
    std::size_t close2 = inner.find(kOpen);
    if (close2 < close) close = close2;
    if (close == std::string_view::npos) {
      *s = std::string_view();
      return TrimRight(inner);
    }
    *s = inner.substr(close + 3);
    return inner.substr(0, close);
  }
  std::size_t semi = v.find(';');
  std::string_view out = TrimRight(v.substr(0, semi));
  *s = semi == std::string_view::npos ? std::string_view() : v.substr(semi);
  return out;
}

}  // namespace

bool ParseDiagnosticValue(std::string_view value, Diagnostic* out) {
  value = Trim(value);
  std::size_t used = 0;
  std::int64_t code = ParseDecimal(value, std::numeric_limits<std::int32_t>::max(), &used);
  out->code = static_cast<std::int32_t>(code);
  out->subcode = -1;
  // Reset what the loop below fills only when present: *out may be reused.
  out->reason = {};
  out->source = {};
  std::string_view rest = value.substr(used);
  if (code >= 0 && !rest.empty() && rest[0] == '.') {
    std::size_t sub_used = 0;
    std::int64_t sub = ParseDecimal(rest.substr(1), std::numeric_limits<std::int32_t>::max(), &sub_used);
    if (sub >= 0) {
      out->subcode = static_cast<std::int32_t>(sub);
      rest = rest.substr(1 + sub_used);
    }
  }
  // ;name=value pairs, any order, names case-insensitive.
  while (!rest.empty()) {
    std::size_t semi = rest.find(';');
    if (semi == std::string_view::npos) break;
    rest = rest.substr(semi + 1);
    std::size_t eq = rest.find('=');
    std::size_t next_semi = rest.find(';');
    if (eq == std::string_view::npos || (next_semi != std::string_view::npos && next_semi < eq)) continue;
    std::string_view name = Trim(rest.substr(0, eq));
    rest = rest.substr(eq + 1);
    std::string_view v = TakeParamValue(&rest);
    if (EqIc(name, "reason")) {
      if (out->reason.empty()) out->reason = v;
    } else if (EqIc(name, "source")) {
      if (out->source.empty()) out->source = v;
    }
  }
  return code >= 0;
}

void ParseNameAddr(std::string_view value, NameAddr* out) {
  *out = NameAddr();
  out->present = true;
  std::string_view v = Trim(value);
  std::string_view params;
  std::size_t lt = std::string_view::npos;
  if (!v.empty() && v[0] == '"') {
    std::size_t i = 1;
    while (i < v.size() && v[i] != '"') i += (v[i] == '\\' && i + 1 < v.size()) ? 2 : 1;
    out->display = v.substr(1, (i < v.size() ? i : v.size()) - 1);
    lt = v.find('<', i < v.size() ? i : v.size());
  } else {
    lt = v.find('<');
    if (lt != std::string_view::npos) out->display = Trim(v.substr(0, lt));
  }
  if (lt != std::string_view::npos) {
    std::size_t gt = v.find('>', lt);
    if (gt == std::string_view::npos) {
      out->uri = Trim(v.substr(lt + 1));
    } else {
      out->uri = Trim(v.substr(lt + 1, gt - lt - 1));
      params = v.substr(gt + 1);
    }
  } else {
    std::size_t semi = v.find(';');
    out->uri = Trim(v.substr(0, semi));
    if (semi != std::string_view::npos) params = v.substr(semi);
  }
  // user and host of the URI: scheme:user@host:port;params?headers (one pass)
  std::string_view u = out->uri;
  std::size_t stop = u.size();
  std::size_t at = std::string_view::npos;
  std::size_t colon = std::string_view::npos;
  for (std::size_t i = 0; i < u.size(); ++i) {
    char c = u[i];
    if (c == ';' || c == '?' || c == '>') {
      stop = i;
      break;
    }
    if (c == '@' && at == std::string_view::npos) at = i;
    if (c == ':' && colon == std::string_view::npos) colon = i;
  }
  std::size_t start = (colon != std::string_view::npos && colon < at) ? colon + 1 : 0;
  auto host_from = [&](std::size_t b) {
    std::size_t e = b;
    while (e < stop && u[e] != ':') ++e;
    return u.substr(b, e - b);
  };
  if (at != std::string_view::npos && at >= start) {
    out->user = u.substr(start, at - start);
    out->host = host_from(at + 1);
  } else if (start == 4 && EqIc(u.substr(0, 4), "tel:")) {
    out->user = u.substr(start, stop - start);
  } else {
    out->host = host_from(start);
  }
  // header parameters
  while (!params.empty()) {
    std::size_t semi = params.find(';');
    if (semi == std::string_view::npos) break;
    params = params.substr(semi + 1);
    std::size_t end = params.find(';');
    std::string_view p = params.substr(0, end);
    std::size_t eq = p.find('=');
    if (eq != std::string_view::npos) {
      std::string_view name = Trim(p.substr(0, eq));
      std::string_view val = Trim(p.substr(eq + 1));
      if (val.size() >= 2 && val.front() == '"' && val.back() == '"') val = val.substr(1, val.size() - 2);
      if (EqIc(name, "tag")) {
        out->tag = val;
      } else if (EqIc(name, "epid")) {
        out->epid = val;
      }
    }
  }
}

namespace {

// The value of attribute `name` in an XML start tag (name="v" or name='v').
std::string_view XmlAttr(std::string_view tag, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = tag.find(name, pos)) != std::string_view::npos) {
    std::size_t i = pos + name.size();
    bool boundary = pos > 0 && (IsSpace(tag[pos - 1]) || tag[pos - 1] == '\n' || tag[pos - 1] == '\r');
    pos = i;
    if (!boundary) continue;
    while (i < tag.size() && IsSpace(tag[i])) ++i;
    if (i >= tag.size() || tag[i] != '=') continue;
    ++i;
    while (i < tag.size() && IsSpace(tag[i])) ++i;
    if (i >= tag.size() || (tag[i] != '"' && tag[i] != '\'')) continue;
    char q = tag[i];
    std::size_t close = tag.find(q, i + 1);
    if (close == std::string_view::npos) return {};
    return tag.substr(i + 1, close - i - 1);
  }
  return {};
}

std::int32_t AttrNumber(std::string_view v) {
  v = Trim(v);
  std::size_t used = 0;
  std::int64_t n = ParseDecimal(v, std::numeric_limits<std::int32_t>::max(), &used);
  return (n < 0 || used != v.size()) ? -1 : static_cast<std::int32_t>(n);
}

// True when `body` at `p` (just after "<name") continues a tag of that exact name.
bool TagBoundary(std::string_view body, std::size_t p) {
  if (p >= body.size()) return false;
  char c = body[p];
  return IsSpace(c) || c == '\r' || c == '\n' || c == '>' || c == '/';
}

// rlmi <resource uri=...><instance .../></resource> elements of a body.
void ParseResources(std::string_view body, Record* r) {
  std::size_t pos = 0;
  constexpr std::string_view kRes = "<resource";
  constexpr std::string_view kInst = "<instance";
  while ((pos = body.find(kRes, pos)) != std::string_view::npos) {
    std::size_t after = pos + kRes.size();
    if (!TagBoundary(body, after)) {
      pos = after;
      continue;
    }
    std::size_t tag_end = body.find('>', after);
    if (tag_end == std::string_view::npos) {
      r->malformed |= kMalformedBody;
      return;
    }
    std::string_view uri = XmlAttr(body.substr(after, tag_end - after), "uri");
    pos = tag_end + 1;
    if (body[tag_end - 1] == '/') continue;  // <resource .../>: no instance
    std::size_t res_end = body.find("</resource>", pos);
    std::size_t next_res = body.find(kRes, pos);
    if (res_end == std::string_view::npos || (next_res != std::string_view::npos && next_res < res_end)) {
      res_end = next_res == std::string_view::npos ? body.size() : next_res;
      if (next_res == std::string_view::npos) r->malformed |= kMalformedBody;
    }
    std::string_view inner = body.substr(pos, res_end - pos);
    std::size_t ip = 0;
    while ((ip = inner.find(kInst, ip)) != std::string_view::npos) {
      std::size_t ia = ip + kInst.size();
      if (!TagBoundary(inner, ia)) {
        ip = ia;
        continue;
      }
      std::size_t iend = inner.find('>', ia);
      if (iend == std::string_view::npos) {
        r->malformed |= kMalformedBody;
        break;
      }
      std::string_view tag = inner.substr(ia, iend - ia);
      ResourceInstance ri;
      ri.uri = uri;
      ri.state = XmlAttr(tag, "state");
      ri.reason = XmlAttr(tag, "reason");
      ri.status = AttrNumber(XmlAttr(tag, "statusCode"));
      ri.diag = AttrNumber(XmlAttr(tag, "msDiagCode"));
      r->resources.push_back(ri);
      ip = iend + 1;
    }
    pos = res_end;
  }
}

// Splits a Record-Route value into its comma separated entries (commas inside
// <> or quotes do not split).
void AddRecordRoutes(std::string_view v, Record* r) {
  bool in_angle = false;
  bool in_quote = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '"') in_quote = !in_quote;
    else if (!in_quote && c == '<') in_angle = true;
    else if (!in_quote && c == '>') in_angle = false;
    else if (!in_quote && !in_angle && c == ',') {
      std::string_view e = Trim(v.substr(start, i - start));
      if (!e.empty()) r->record_route.push_back(e);
      start = i + 1;
    }
  }
  std::string_view e = Trim(v.substr(start));
  if (!e.empty()) r->record_route.push_back(e);
}

// Applies one complete (unfolded) header to the record's fields.
void Apply(Field f, std::string_view v, Record* r, bool* has_diag_fields, bool* has_sip_fields) {
  switch (f) {
    case Field::kIgnore: break;
    case Field::kCorrelationId: {
      std::int64_t id = ParseDecimal(v, std::numeric_limits<std::int64_t>::max() / 16);
      if (id >= 0) r->correlation_id = id;
      break;
    }
    case Field::kInstanceId: r->instance_id = v; break;
    case Field::kDirection: {
      std::size_t semi = v.find(';');
      r->direction = TrimRight(v.substr(0, semi));
      r->direction_params = semi == std::string_view::npos ? std::string_view() : v.substr(semi);
      break;
    }
    case Field::kPeer: r->peer = v; break;
    case Field::kMessageType:
      if (EqIc(v, "request")) r->type = MessageType::kRequest;
      else if (EqIc(v, "response")) r->type = MessageType::kResponse;
      break;
    case Field::kStartLine:
      *has_sip_fields = true;
      r->start_line = v;
      if (!ParseStartLine(v, r)) r->malformed |= kMalformedSipLine;
      break;
    case Field::kMessageBody: break;  // handled by the caller
    case Field::kFrom: *has_sip_fields = true; ParseNameAddr(v, &r->from); break;
    case Field::kTo: *has_sip_fields = true; ParseNameAddr(v, &r->to); break;
    case Field::kCallId: *has_sip_fields = true; r->call_id = v; break;
    case Field::kCSeq: {
      *has_sip_fields = true;
      std::size_t used = 0;
      std::int64_t n = ParseDecimal(v, std::numeric_limits<std::int64_t>::max() / 16, &used);
      r->cseq = n;
      r->cseq_method = Trim(v.substr(used));
      break;
    }
    case Field::kEvent: r->event = v; break;
    case Field::kExpires: r->expires = ParseDecimal(v, std::numeric_limits<std::int64_t>::max() / 16); break;
    case Field::kContentType: r->content_type = v; break;
    case Field::kUserAgent: r->user_agent = v; break;
    case Field::kServer: r->server_hdr = v; break;
    case Field::kRecordRoute: AddRecordRoutes(v, r); break;
    case Field::kDiag:
    case Field::kDiagPublic:
    case Field::kDiagClient: {
      Diagnostic d;
      d.variant = f == Field::kDiag ? DiagVariant::kMsDiagnostics
                  : f == Field::kDiagPublic ? DiagVariant::kPublic
                                            : DiagVariant::kClient;
      if (!ParseDiagnosticValue(v, &d)) r->malformed |= kMalformedDiagnostics;
      r->diagnostics.push_back(d);
      break;
    }
    case Field::kSeverity: *has_diag_fields = true; r->severity = v; break;
    case Field::kText: *has_diag_fields = true; r->diag_text = v; break;
    case Field::kResultCode: {
      *has_diag_fields = true;
      std::size_t sp = 0;
      while (sp < v.size() && !IsSpace(v[sp])) ++sp;
      r->result_code = v.substr(0, sp);
      r->result_text = Trim(v.substr(sp));
      break;
    }
    case Field::kSipStartLine: *has_diag_fields = true; r->sip_start_line = v; break;
    case Field::kSipCallId: *has_diag_fields = true; r->sip_call_id = v; break;
    case Field::kSipCSeq: *has_diag_fields = true; r->sip_cseq = v; break;
    case Field::kLogType: *has_diag_fields = true; break;
  }
}

bool LooksLikeStartLine(std::string_view line) {
  return StartsWith(line, "SIP/2.0 ") ||
         (line.size() > 8 && line.substr(line.size() - 8) == " SIP/2.0" && line.find(':') != std::string_view::npos);
}

// Parses the lines after the header line: pseudo-headers, SIP headers
// (folded, repeated), the start line, Message-Body.
void ParseFields(std::string_view text, std::size_t pos, Record* r, bool* has_diag_fields, bool* has_sip_fields) {
  // Where the final "$$end_record" line starts (or the end of the text).
  std::size_t content_end = text.size();
  {
    std::string_view t = text;
    if (!t.empty() && t.back() == '\n') t.remove_suffix(1);
    if (!t.empty() && t.back() == '\r') t.remove_suffix(1);
    if (t.size() >= kEndRecord.size() && t.substr(t.size() - kEndRecord.size()) == kEndRecord) {
      std::size_t start = t.size() - kEndRecord.size();
      if (start == 0 || text[start - 1] == '\n') content_end = start;
    }
  }
  Field pending = Field::kIgnore;
  bool have_pending = false;
  auto flush = [&]() {
    if (have_pending) Apply(pending, r->headers.back().value, r, has_diag_fields, has_sip_fields);
    have_pending = false;
  };
  while (pos < content_end) {
    std::size_t line_start = pos;
    std::string_view line = NextLine(text, &pos);
    if (pos > content_end) pos = content_end;
    if (line.size() > kMaxLineBytes) {
      r->malformed |= kMalformedLongLine;
      line = line.substr(0, kMaxLineBytes);
    }
    if (line.empty()) continue;
    if (IsSpace(line[0])) {
      // A folded continuation of the previous header.
      std::string_view more = Trim(line);
      if (!have_pending) {
        if (!more.empty()) r->malformed |= kMalformedSipLine;
        continue;
      }
      if (more.empty()) continue;
      Header& h = r->headers.back();
      if (r->scratch.empty() || h.value.data() != r->scratch.back().data()) {
        r->scratch.emplace_back(h.value);
      }
      std::string& s = r->scratch.back();
      s += ' ';
      s.append(more.data(), more.size());
      h.value = s;
      continue;
    }
    flush();
    std::size_t colon = HeaderNameLength(line);
    std::string_view name = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
    if (colon == std::string_view::npos) {
      if (r->start_line.empty() && LooksLikeStartLine(line) && ParseStartLine(line, r)) {
        r->start_line = line;
        *has_sip_fields = true;
      } else {
        r->malformed |= kMalformedSipLine;
      }
      continue;
    }
    Field f = Classify(name);
    if (f == Field::kMessageBody) {
      // The body: the rest of this line and every line up to $$end_record.
      std::size_t value_start = line_start + colon + 1;
      while (value_start < content_end && IsSpace(text[value_start])) ++value_start;
      if (value_start < content_end && text[value_start] == '\r') ++value_start;
      if (value_start < content_end && text[value_start] == '\n') ++value_start;
      std::string_view body = TrimRight(text.substr(value_start, content_end - value_start));
      if (body == "-") body = {};
      r->body = body;
      r->headers.push_back(Header{name, TrimRight(body.substr(0, body.find('\n')))});
      if (body.size() > kMaxLineBytes) {
        std::size_t p = 0;
        while (p < body.size()) {
          const void* nl = std::memchr(body.data() + p, '\n', body.size() - p);
          std::size_t e = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - body.data()) : body.size();
          if (e - p > kMaxLineBytes) {
            r->malformed |= kMalformedLongLine;
            break;
          }
          p = e + 1;
        }
      }
      return;
    }
    r->headers.push_back(Header{name, Trim(line.substr(colon + 1))});
    pending = f;
    have_pending = true;
  }
  flush();
}

bool Contains(std::string_view s, std::string_view needle) { return s.find(needle) != std::string_view::npos; }

}  // namespace

void ParseRlmiResources(std::string_view body, Record* record) { ParseResources(body, record); }

namespace {

// Resets *r like Record::Clear(), keeping vector capacity, but without
// building a temporary Record (its std::deque allocates): copy-assigning an
// empty prototype clears the vectors and the deque in place, so the steady
// state allocates nothing, and fields added to Record later are reset too.
void ResetRecord(Record* r) {
  static const Record* const kEmpty = new Record();
  *r = *kEmpty;
}

}  // namespace

void ParseRecord(std::string_view text, const FramedSpan& span, Record* r) {
  ResetRecord(r);
  r->kind = span.kind;
  r->malformed = span.malformed;
  r->offset = span.offset;
  r->line = span.line;
  r->text = text;
  if (span.kind == RecordKind::kJunk || span.kind == RecordKind::kForeign) return;

  if (HasControlBytes(text)) r->malformed |= kMalformedBinary;
  std::size_t pos = 0;
  std::string_view header = NextLine(text, &pos);
  if (header.size() > kMaxLineBytes) {
    r->malformed |= kMalformedLongLine;
    header = header.substr(0, kMaxLineBytes);
  }
  ParseHeaderLine(header, r);

  bool diag_like = r->flag == "DIAG" || Contains(r->function, "WriteDiagnosticEvent");
  bool protocol = r->flag == "PROTOCOL";
  if (!protocol && !diag_like) {
    // Another flag: a diagnostic record if its first field says so.
    std::size_t p = pos;
    std::string_view first = NextLine(text, &p);
    diag_like = StartsWith(first, "Severity:") || StartsWith(first, "LogType:") || StartsWith(first, "Text:") ||
                StartsWith(first, "Result-Code:");
  }
  if (!protocol && !diag_like) {
    r->kind = RecordKind::kOther;
    return;
  }
  bool has_diag_fields = false;
  bool has_sip_fields = false;
  ParseFields(text, pos, r, &has_diag_fields, &has_sip_fields);
  if (diag_like || (has_diag_fields && !has_sip_fields)) {
    r->kind = RecordKind::kDiagnostic;
  } else {
    r->kind = RecordKind::kProtocol;
  }
  // method: the request line's, else the CSeq's (responses, old variant).
  if (r->type == MessageType::kResponse || r->method.empty()) {
    if (!r->cseq_method.empty()) r->method = r->cseq_method;
  }
  if (!r->body.empty() &&
      (Contains(r->content_type, "rlmi") || Contains(r->body, "urn:ietf:params:xml:ns:rlmi"))) {
    ParseRlmiResources(r->body, r);
  }
}

void ParseBatch(const RecordBatch& batch, Record* record, TimeMs* carry_time,
                const std::function<void(const Record&)>& visit) {
  for (std::size_t i = 0; i < batch.spans.size(); ++i) {
    ParseRecord(batch.Text(i), batch.spans[i], record);
    if (record->kind != RecordKind::kJunk && record->kind != RecordKind::kForeign) {
      if (record->has_time) {
        *carry_time = record->time;
      } else {
        record->time = *carry_time;
      }
    } else {
      record->time = *carry_time;
    }
    visit(*record);
  }
}

std::string_view ServerName(std::string_view file_name, const Record& record) {
  std::size_t slash = file_name.find_last_of("/\\");
  std::string_view base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  for (std::size_t u = base.find('_'); u != std::string_view::npos; u = base.find('_', u + 1)) {
    if (u == 0) continue;
    std::size_t i = u + 1;
    std::size_t digits = 0;
    while (i < base.size() && IsDigit(base[i])) ++i, ++digits;
    if (digits != 8 || i >= base.size() || base[i] != '_') continue;
    ++i;
    std::size_t n = 0;
    while (i < base.size() && IsDigit(base[i])) ++i, ++n;
    if (n == 0 || (i < base.size() && base[i] != '.')) continue;
    return base.substr(0, u);
  }
  std::string_view m = record.machine;
  std::size_t bs = m.find('\\');
  if (bs != std::string_view::npos) m = m.substr(0, bs);
  bool all_digits = !m.empty();
  for (char c : m) all_digits = all_digits && IsDigit(c);
  return all_digits ? std::string_view() : m;
}

}  // namespace sipdex
