#include "storage/facts.h"

#include <zstd.h>

#include <array>
#include <functional>
#include <limits>
#include <string>
#include <unordered_map>

#include "storage/coding.h"

namespace sipdex::storage {
namespace {

enum class ColumnType : std::uint8_t {
  kString,  // varint(ndict) lenpref(value)*ndict, then varint(ref)* (0 = empty, i = dict[i - 1])
  kInt,     // svarint(v)*
};
enum class Rows : std::uint8_t { kRecord, kDiagnostic, kResource };

struct ColumnDef {
  std::string_view name;
  ColumnType type;
  Rows rows;
  // Predicted from the previous record with the same Call-ID (its dialog
  // predecessor): string refs are 0 for "the same value" else ref + 1;
  // integers are the difference to the predecessor's value.
  bool dialog = false;
};

// The columns, in stored order. Counts (diagnostics, resources) come before
// the columns they size.
enum Column : std::size_t {
  kLevel, kFlag, kComponent, kDirection, kType, kMethod, kRuri, kStatus, kReason,
  kFromName, kFromUri, kFromUser, kFromHost, kToName, kToUri, kToUser, kToHost,
  kCallId, kCseq, kCseqMethod, kEvent, kExpires, kContentType, kUserAgent, kServerHdr,
  kSeverity, kResultCode, kResultText, kBits,
  kDiagCount, kDiagVariant, kDiagCode, kDiagSubcode, kDiagReason, kDiagSource,
  kResourceCount, kResUri, kResState, kResReason, kResStatus, kResDiag,
  kColumnCount,
};

constexpr std::array<ColumnDef, kColumnCount> kColumns = {{
    {"level", ColumnType::kString, Rows::kRecord},
    {"flag", ColumnType::kString, Rows::kRecord},
    {"component", ColumnType::kString, Rows::kRecord},
    {"direction", ColumnType::kString, Rows::kRecord},
    {"type", ColumnType::kInt, Rows::kRecord},
    {"method", ColumnType::kString, Rows::kRecord, true},
    {"ruri", ColumnType::kString, Rows::kRecord, true},
    {"status", ColumnType::kInt, Rows::kRecord},
    {"reason", ColumnType::kString, Rows::kRecord},
    {"from.name", ColumnType::kString, Rows::kRecord, true},
    {"from.uri", ColumnType::kString, Rows::kRecord, true},
    {"from.user", ColumnType::kString, Rows::kRecord, true},
    {"from.host", ColumnType::kString, Rows::kRecord, true},
    {"to.name", ColumnType::kString, Rows::kRecord, true},
    {"to.uri", ColumnType::kString, Rows::kRecord, true},
    {"to.user", ColumnType::kString, Rows::kRecord, true},
    {"to.host", ColumnType::kString, Rows::kRecord, true},
    {"call_id", ColumnType::kString, Rows::kRecord},
    {"cseq", ColumnType::kInt, Rows::kRecord, true},
    {"cseq.method", ColumnType::kString, Rows::kRecord, true},
    {"event", ColumnType::kString, Rows::kRecord, true},
    {"expires", ColumnType::kInt, Rows::kRecord, true},
    {"content_type", ColumnType::kString, Rows::kRecord, true},
    {"user_agent", ColumnType::kString, Rows::kRecord, true},
    {"server_hdr", ColumnType::kString, Rows::kRecord, true},
    {"severity", ColumnType::kString, Rows::kRecord},
    {"result_code", ColumnType::kString, Rows::kRecord},
    {"result_text", ColumnType::kString, Rows::kRecord},
    {"bits", ColumnType::kInt, Rows::kRecord},
    {"diag.count", ColumnType::kInt, Rows::kRecord},
    {"diag.variant", ColumnType::kInt, Rows::kDiagnostic},
    {"diag.code", ColumnType::kInt, Rows::kDiagnostic},
    {"diag.subcode", ColumnType::kInt, Rows::kDiagnostic},
    {"diag.reason", ColumnType::kString, Rows::kDiagnostic},
    {"diag.source", ColumnType::kString, Rows::kDiagnostic},
    {"resource.count", ColumnType::kInt, Rows::kRecord},
    {"resource.uri", ColumnType::kString, Rows::kResource},
    {"resource.state", ColumnType::kString, Rows::kResource},
    {"resource.reason", ColumnType::kString, Rows::kResource},
    {"resource.status", ColumnType::kInt, Rows::kResource},
    {"resource.diag", ColumnType::kInt, Rows::kResource},
}};

// The column whose dictionary a string column uses: URIs share one (a request
// URI is mostly its To URI; resources are users too), From and To share
// theirs. The owner comes first in the stored order; the others store an
// empty dictionary.
constexpr std::size_t DictOwner(std::size_t c) {
  switch (c) {
    case kFromUri:
    case kToUri:
    case kResUri:
      return kRuri;
    case kToName:
      return kFromName;
    case kToUser:
      return kFromUser;
    case kToHost:
      return kFromHost;
    default:
      return c;
  }
}

// Bits of the `bits` column.
constexpr std::int64_t kFromPresent = 1;
constexpr std::int64_t kToPresent = 2;
constexpr std::int64_t kSipCallId = 4;  // the call_id column holds SIP-Call-ID (the record has no Call-ID)

struct ViewHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

// --- encoding ---------------------------------------------------------------------

struct FactsEncoder::Rep {
  struct Strings {
    std::unordered_map<std::string, std::uint32_t, ViewHash, std::equal_to<>> ids;
    std::string dict;       // lenpref(value)* in id order
    std::string refs;       // varint(ref)*
    std::string last;       // the previous non-empty value and its ref: a cheap repeat check
    std::uint32_t last_ref = 0;
  };
  std::array<Strings, kColumnCount> strings;
  std::array<std::string, kColumnCount> ints;
  std::uint32_t count = 0;

  // Per record of the segment: its dialog predecessor (kNone: none), and per
  // dialog column the value it stored (string ref or integer).
  static constexpr std::uint32_t kNone = 0xffffffffu;
  std::uint32_t prev = kNone;
  std::vector<std::uint32_t> last_of_call;                 // by call_id ref: the last record with it
  std::array<std::vector<std::int64_t>, kColumnCount> history;  // dialog columns only

  // The dictionary ref of v in column c (0 for ""), adding it when new.
  std::uint32_t Intern(std::size_t c, std::string_view v, bool* fresh) {
    Strings& s = strings[DictOwner(c)];
    *fresh = false;
    if (v.empty()) return 0;
    if (s.last_ref != 0 && v == s.last) return s.last_ref;
    auto it = s.ids.find(v);
    std::uint32_t ref;
    if (it != s.ids.end()) {
      ref = it->second;
    } else {
      ref = static_cast<std::uint32_t>(s.ids.size() + 1);
      s.ids.emplace(std::string(v), ref);
      PutLengthPrefixed(&s.dict, v);
      *fresh = true;
    }
    s.last.assign(v);
    s.last_ref = ref;
    return ref;
  }
  void PutString(std::size_t c, std::string_view v) {
    bool fresh = false;
    std::uint32_t ref = Intern(c, v, &fresh);
    if (!kColumns[c].dialog) {
      PutVarint64(&strings[c].refs, ref);
      return;
    }
    history[c].push_back(ref);
    bool same = prev != kNone && history[c][prev] == ref;
    PutVarint64(&strings[c].refs, same ? 0 : std::uint64_t{ref} + 1);
  }
  void PutInt(std::size_t c, std::int64_t v) {
    if (!kColumns[c].dialog) {
      PutSignedVarint64(&ints[c], v);
      return;
    }
    history[c].push_back(v);
    PutSignedVarint64(&ints[c], prev != kNone ? static_cast<std::int64_t>(static_cast<std::uint64_t>(v) -
                                                                          static_cast<std::uint64_t>(history[c][prev]))
                                              : v);
  }
  // The call_id column: 0 = none, 1 = a new value (the next dictionary
  // entry), d + 1 = the value of the record d records back; sets prev.
  void PutCallId(std::string_view v) {
    bool fresh = false;
    std::uint32_t ref = Intern(kCallId, v, &fresh);
    std::string& out = strings[kCallId].refs;
    prev = kNone;
    if (ref == 0) {
      out.push_back('\0');
      return;
    }
    if (fresh) {
      out.push_back('\1');
      last_of_call.resize(ref + 1);
    } else {
      prev = last_of_call[ref];
      PutVarint64(&out, std::uint64_t{count - prev} + 1);
    }
    last_of_call[ref] = count;
  }
};

FactsEncoder::FactsEncoder() : rep_(std::make_unique<Rep>()) {}
FactsEncoder::~FactsEncoder() = default;

std::uint32_t FactsEncoder::count() const { return rep_->count; }

void FactsEncoder::Add(const Record& r) {
  Rep& p = *rep_;
  const bool sip_call_id = r.call_id.empty() && !r.sip_call_id.empty();
  p.PutCallId(sip_call_id ? r.sip_call_id : r.call_id);
  p.PutString(kLevel, r.level);
  p.PutString(kFlag, r.flag);
  p.PutString(kComponent, r.component);
  p.PutString(kDirection, r.direction);
  p.PutInt(kType, static_cast<std::int64_t>(r.type));
  p.PutString(kMethod, r.method);
  p.PutString(kRuri, r.ruri);
  p.PutInt(kStatus, r.status);
  p.PutString(kReason, r.reason_phrase);
  p.PutString(kFromName, r.from.display);
  p.PutString(kFromUri, r.from.uri);
  p.PutString(kFromUser, r.from.user);
  p.PutString(kFromHost, r.from.host);
  p.PutString(kToName, r.to.display);
  p.PutString(kToUri, r.to.uri);
  p.PutString(kToUser, r.to.user);
  p.PutString(kToHost, r.to.host);
  p.PutInt(kCseq, r.cseq);
  p.PutString(kCseqMethod, r.cseq_method);
  p.PutString(kEvent, r.event);
  p.PutInt(kExpires, r.expires);
  p.PutString(kContentType, r.content_type);
  p.PutString(kUserAgent, r.user_agent);
  p.PutString(kServerHdr, r.server_hdr);
  p.PutString(kSeverity, r.severity);
  p.PutString(kResultCode, r.result_code);
  p.PutString(kResultText, r.result_text);
  p.PutInt(kBits, (r.from.present ? kFromPresent : 0) | (r.to.present ? kToPresent : 0) |
                      (sip_call_id ? kSipCallId : 0));
  p.PutInt(kDiagCount, static_cast<std::int64_t>(r.diagnostics.size()));
  for (const Diagnostic& d : r.diagnostics) {
    p.PutInt(kDiagVariant, static_cast<std::int64_t>(d.variant));
    p.PutInt(kDiagCode, d.code);
    p.PutInt(kDiagSubcode, d.subcode);
    p.PutString(kDiagReason, d.reason);
    p.PutString(kDiagSource, d.source);
  }
  p.PutInt(kResourceCount, static_cast<std::int64_t>(r.resources.size()));
  for (const ResourceInstance& x : r.resources) {
    p.PutString(kResUri, x.uri);
    p.PutString(kResState, x.state);
    p.PutString(kResReason, x.reason);
    p.PutInt(kResStatus, x.status);
    p.PutInt(kResDiag, x.diag);
  }
  ++p.count;
}

void FactsEncoder::Finish(std::string* out) {
  Rep& p = *rep_;
  PutVarint64(out, p.count);
  PutVarint64(out, kColumnCount);
  std::string head;
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    if (kColumns[c].type == ColumnType::kString) {
      Rep::Strings& s = p.strings[c];
      head.clear();
      PutVarint64(&head, s.ids.size());  // 0 for columns using another's dictionary
      PutVarint64(out, head.size() + s.dict.size() + s.refs.size());
      out->append(head);
      out->append(s.dict);
      out->append(s.refs);
      s.ids.clear();
      s.dict.clear();
      s.refs.clear();
      s.last.clear();
      s.last_ref = 0;
    } else {
      PutLengthPrefixed(out, p.ints[c]);
      p.ints[c].clear();
    }
    p.history[c].clear();
  }
  p.last_of_call.clear();
  p.count = 0;
}

// --- decoding ---------------------------------------------------------------------

struct FactsDecoder::Rep {
  std::array<std::vector<std::string_view>, kColumnCount> dicts;  // dicts[c][0] = ""
  std::array<std::vector<std::uint32_t>, kColumnCount> refs;
  std::array<std::vector<std::int64_t>, kColumnCount> ints;
  std::vector<std::uint32_t> diag_start;      // per record, its first diagnostic row; count + 1 entries
  std::vector<std::uint32_t> resource_start;  // likewise for resources
  std::vector<std::uint32_t> prev;            // per record, its dialog predecessor or kNone
  std::uint32_t count = 0;
  static constexpr std::uint32_t kNone = 0xffffffffu;

  std::string_view Str(std::size_t c, std::uint32_t row) const { return dicts[DictOwner(c)][refs[c][row]]; }
};

FactsDecoder::FactsDecoder() : rep_(std::make_unique<Rep>()) {}
FactsDecoder::~FactsDecoder() = default;

std::uint32_t FactsDecoder::count() const { return rep_->count; }

namespace {

// Splits encoded facts into their columns; checks the framing only.
Status SplitColumns(std::string_view facts, std::uint64_t* count, std::array<std::string_view, kColumnCount>* cols) {
  auto bad = [](std::string_view what) { return Status::Corruption("facts: " + std::string(what)); };
  std::uint64_t ncols = 0;
  if (!GetVarint64(&facts, count) || !GetVarint64(&facts, &ncols)) return bad("header cut short");
  if (ncols != kColumnCount) return bad("expected " + std::to_string(kColumnCount) + " columns, found " +
                                        std::to_string(ncols));
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    if (!GetLengthPrefixed(&facts, &(*cols)[c])) return bad("column " + std::string(kColumns[c].name) + " cut short");
  }
  if (!facts.empty()) return bad("trailing bytes");
  return Status::Ok();
}

// Splits a string column into its dictionary values (appended to *dict after
// an initial "") and its references.
Status SplitStrings(std::size_t c, std::string_view col, std::vector<std::string_view>* dict, std::string_view* refs) {
  std::uint64_t n = 0;
  if (!GetVarint64(&col, &n) || n > col.size()) {
    return Status::Corruption("facts: column " + std::string(kColumns[c].name) + ": bad dictionary size");
  }
  dict->clear();
  dict->push_back(std::string_view());
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string_view v;
    if (!GetLengthPrefixed(&col, &v)) {
      return Status::Corruption("facts: column " + std::string(kColumns[c].name) + ": dictionary cut short");
    }
    dict->push_back(v);
  }
  *refs = col;
  return Status::Ok();
}

bool FitsInt32(std::int64_t v) {
  return v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max();
}

}  // namespace

Status FactsDecoder::Reset(std::string_view facts, std::uint32_t count) {
  Rep& p = *rep_;
  p.count = 0;
  auto bad = [](std::size_t c, std::string_view what) {
    return Status::Corruption("facts: column " + std::string(kColumns[c].name) + ": " + std::string(what));
  };
  std::uint64_t stored = 0;
  std::array<std::string_view, kColumnCount> cols;
  SIPDEX_RETURN_IF_ERROR(SplitColumns(facts, &stored, &cols));
  if (stored != count) {
    return Status::Corruption("facts: " + std::to_string(stored) + " records, the segment has " +
                              std::to_string(count));
  }
  std::uint64_t rows_of[3] = {count, 0, 0};
  // The call_id column first: it gives each record its dialog predecessor.
  {
    std::string_view in = cols[kCallId];
    if (count > in.size()) return bad(kCallId, "fewer values than rows");
    SIPDEX_RETURN_IF_ERROR(SplitStrings(kCallId, in, &p.dicts[kCallId], &in));
    std::vector<std::uint32_t>& refs = p.refs[kCallId];
    refs.resize(count);
    p.prev.resize(count);
    std::uint32_t next = 0;
    const std::size_t values = p.dicts[kCallId].size() - 1;
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t v = 0;
      if (!GetVarint32(&in, &v)) return bad(kCallId, "references cut short");
      p.prev[i] = Rep::kNone;
      if (v == 0) {
        refs[i] = 0;
      } else if (v == 1) {
        if (next == values) return bad(kCallId, "more new values than the dictionary holds");
        refs[i] = ++next;
      } else {
        if (v - 1 > i || refs[i - (v - 1)] == 0) return bad(kCallId, "a reference to no earlier value");
        p.prev[i] = i - (v - 1);
        refs[i] = refs[p.prev[i]];
      }
    }
    if (next != values) return bad(kCallId, "unused dictionary values");
    if (!in.empty()) return bad(kCallId, "more values than rows");
  }
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    if (c == kCallId) continue;
    const ColumnDef& def = kColumns[c];
    const std::uint64_t rows = rows_of[static_cast<std::size_t>(def.rows)];
    std::string_view in = cols[c];
    if (rows > in.size()) return bad(c, "fewer values than rows");  // every value takes a byte at least
    if (def.type == ColumnType::kString) {
      SIPDEX_RETURN_IF_ERROR(SplitStrings(c, in, &p.dicts[c], &in));
      if (DictOwner(c) != c && p.dicts[c].size() != 1) return bad(c, "a dictionary of its own");
      std::vector<std::uint32_t>& refs = p.refs[c];
      refs.resize(static_cast<std::size_t>(rows));
      const std::size_t limit = p.dicts[DictOwner(c)].size();
      for (std::size_t i = 0; i < refs.size(); ++i) {
        std::uint32_t& ref = refs[i];
        if (!GetVarint32(&in, &ref)) return bad(c, "references cut short");
        if (def.dialog) {
          if (ref == 0) {
            if (p.prev[i] == Rep::kNone) return bad(c, "a repeat without an earlier record of the dialog");
            ref = refs[p.prev[i]];
          } else {
            --ref;
          }
        }
        if (ref >= limit) return bad(c, "a reference past the dictionary");
      }
    } else {
      std::vector<std::int64_t>& vals = p.ints[c];
      vals.resize(static_cast<std::size_t>(rows));
      for (std::size_t i = 0; i < vals.size(); ++i) {
        std::int64_t& v = vals[i];
        if (!GetSignedVarint64(&in, &v)) return bad(c, "values cut short");
        if (def.dialog && p.prev[i] != Rep::kNone) {
          v = static_cast<std::int64_t>(static_cast<std::uint64_t>(v) + static_cast<std::uint64_t>(vals[p.prev[i]]));
        }
      }
      std::uint64_t sum = 0;
      for (std::int64_t v : vals) {
        switch (c) {
          case kType:
          case kDiagVariant:
            if (v < 0 || v > 2) return bad(c, "value out of range");
            break;
          case kStatus:
          case kDiagCode:
          case kDiagSubcode:
          case kResStatus:
          case kResDiag:
            if (!FitsInt32(v)) return bad(c, "value out of range");
            break;
          case kDiagCount:
          case kResourceCount:
            // Each row of the columns it sizes takes a byte at least.
            if (v < 0 || static_cast<std::uint64_t>(v) > facts.size()) return bad(c, "impossible count");
            sum += static_cast<std::uint64_t>(v);
            if (sum > facts.size()) return bad(c, "impossible count");
            break;
          default:
            break;
        }
      }
      if (c == kDiagCount || c == kResourceCount) {
        std::vector<std::uint32_t>& start = c == kDiagCount ? p.diag_start : p.resource_start;
        start.resize(static_cast<std::size_t>(count) + 1);
        std::uint32_t at = 0;
        for (std::uint32_t i = 0; i < count; ++i) {
          start[i] = at;
          at += static_cast<std::uint32_t>(vals[i]);
        }
        start[count] = at;
        rows_of[c == kDiagCount ? 1 : 2] = at;
      }
    }
    if (!in.empty()) return bad(c, "more values than rows");
  }
  p.count = count;
  return Status::Ok();
}

void FactsDecoder::Fill(std::uint32_t i, Record* out) const {
  const Rep& p = *rep_;
  out->level = p.Str(kLevel, i);
  out->flag = p.Str(kFlag, i);
  out->component = p.Str(kComponent, i);
  out->direction = p.Str(kDirection, i);
  out->type = static_cast<MessageType>(p.ints[kType][i]);
  out->method = p.Str(kMethod, i);
  out->ruri = p.Str(kRuri, i);
  out->status = static_cast<std::int32_t>(p.ints[kStatus][i]);
  out->reason_phrase = p.Str(kReason, i);
  const std::int64_t bits = p.ints[kBits][i];
  out->from.display = p.Str(kFromName, i);
  out->from.uri = p.Str(kFromUri, i);
  out->from.user = p.Str(kFromUser, i);
  out->from.host = p.Str(kFromHost, i);
  out->from.present = (bits & kFromPresent) != 0;
  out->to.display = p.Str(kToName, i);
  out->to.uri = p.Str(kToUri, i);
  out->to.user = p.Str(kToUser, i);
  out->to.host = p.Str(kToHost, i);
  out->to.present = (bits & kToPresent) != 0;
  if ((bits & kSipCallId) != 0) {
    out->call_id = std::string_view();
    out->sip_call_id = p.Str(kCallId, i);
  } else {
    out->call_id = p.Str(kCallId, i);
    out->sip_call_id = std::string_view();
  }
  out->cseq = p.ints[kCseq][i];
  out->cseq_method = p.Str(kCseqMethod, i);
  out->event = p.Str(kEvent, i);
  out->expires = p.ints[kExpires][i];
  out->content_type = p.Str(kContentType, i);
  out->user_agent = p.Str(kUserAgent, i);
  out->server_hdr = p.Str(kServerHdr, i);
  out->severity = p.Str(kSeverity, i);
  out->result_code = p.Str(kResultCode, i);
  out->result_text = p.Str(kResultText, i);
  const std::uint32_t d0 = p.diag_start[i], d1 = p.diag_start[i + 1];
  out->diagnostics.resize(d1 - d0);
  for (std::uint32_t k = d0; k < d1; ++k) {
    Diagnostic& d = out->diagnostics[k - d0];
    d.variant = static_cast<DiagVariant>(p.ints[kDiagVariant][k]);
    d.code = static_cast<std::int32_t>(p.ints[kDiagCode][k]);
    d.subcode = static_cast<std::int32_t>(p.ints[kDiagSubcode][k]);
    d.reason = p.Str(kDiagReason, k);
    d.source = p.Str(kDiagSource, k);
  }
  const std::uint32_t r0 = p.resource_start[i], r1 = p.resource_start[i + 1];
  out->resources.resize(r1 - r0);
  for (std::uint32_t k = r0; k < r1; ++k) {
    ResourceInstance& x = out->resources[k - r0];
    x.uri = p.Str(kResUri, k);
    x.state = p.Str(kResState, k);
    x.reason = p.Str(kResReason, k);
    x.status = static_cast<std::int32_t>(p.ints[kResStatus][k]);
    x.diag = static_cast<std::int32_t>(p.ints[kResDiag][k]);
  }
}

// --- sizes ---------------------------------------------------------------------------

Status AddFactsColumnSizes(std::string_view facts, int level, std::vector<FactsColumnSize>* sizes) {
  std::uint64_t count = 0;
  std::array<std::string_view, kColumnCount> cols;
  SIPDEX_RETURN_IF_ERROR(SplitColumns(facts, &count, &cols));
  if (sizes->size() != kColumnCount) {
    sizes->assign(kColumnCount, FactsColumnSize());
    for (std::size_t c = 0; c < kColumnCount; ++c) (*sizes)[c].name = kColumns[c].name;
  }
  std::string frame;
  std::vector<std::string_view> dict;
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    FactsColumnSize& s = (*sizes)[c];
    s.raw_bytes += cols[c].size();
    frame.resize(ZSTD_compressBound(cols[c].size()));
    std::size_t n = ZSTD_compress(frame.data(), frame.size(), cols[c].data(), cols[c].size(), level);
    if (!ZSTD_isError(n)) s.zstd_bytes += n;
    if (kColumns[c].type == ColumnType::kString) {
      std::string_view refs;
      SIPDEX_RETURN_IF_ERROR(SplitStrings(c, cols[c], &dict, &refs));
      s.dictionary_bytes += cols[c].size() - refs.size();
    }
  }
  return Status::Ok();
}

}  // namespace sipdex::storage
