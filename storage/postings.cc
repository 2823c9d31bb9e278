#include "storage/postings.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <numeric>
#include <string>

#include "storage/coding.h"

namespace sipdex::storage {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsHashedField(FieldId field) {
  switch (field) {
    case FieldId::kCallId:
    case FieldId::kFromTag:
    case FieldId::kFromEpid:
    case FieldId::kToTag:
    case FieldId::kToEpid:
    case FieldId::kCorrelationId:
    case FieldId::kInstanceId:
      return true;
    default:
      return false;
  }
}

FieldId CanonicalPostingField(FieldId field) {
  switch (field) {
    case FieldId::kFrom: return FieldId::kFromUri;
    case FieldId::kTo: return FieldId::kToUri;
    case FieldId::kResource: return FieldId::kResourceUri;
    default: return field;
  }
}

std::string NormalizePostingValue(FieldId field, std::string_view value) {
  (void)field;
  value = Trim(value);
  if (value.size() > kMaxPostingValueBytes) value = value.substr(0, kMaxPostingValueBytes);
  std::string out(value);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void PostingValueKeyInto(FieldId field, std::string_view raw_value, std::string* out) {
  field = CanonicalPostingField(field);
  std::string_view v = Trim(raw_value);
  if (v.size() > kMaxPostingValueBytes) v = v.substr(0, kMaxPostingValueBytes);
  out->clear();
  out->push_back(static_cast<char>(field));
  std::size_t at = out->size();
  out->append(v);
  for (std::size_t i = at; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (IsHashedField(field)) {
    auto h = static_cast<std::uint32_t>(Hash64(std::string_view(*out).substr(at)));
    out->resize(at);
    PutFixed32BE(out, h);
  }
}

std::string PostingValueKey(FieldId field, std::string_view raw_value) {
  std::string key;
  PostingValueKeyInto(field, raw_value, &key);
  return key;
}

std::string RunPostingKey(RecordId run, std::string_view value_key) {
  std::string key;
  PutFixed64BE(&key, run);
  if (value_key.empty()) return key;
  auto field = static_cast<FieldId>(static_cast<std::uint8_t>(value_key[0]));
  if (IsHashedField(field) && value_key.size() == 5) {
    key.append(value_key.substr(0, 3));  // field and the hash's high 16 bits
  } else {
    key.append(value_key);
  }
  return key;
}

bool ParseRunPostingKey(std::string_view key, RecordId* run, FieldId* field, std::string_view* rest) {
  if (!GetFixed64BE(&key, run) || key.empty()) return false;
  auto f = static_cast<std::uint8_t>(key[0]);
  if (f >= static_cast<std::uint8_t>(FieldId::kCount_)) return false;
  *field = static_cast<FieldId>(f);
  *rest = key.substr(1);
  if (IsHashedField(*field) && rest->size() != 2) return false;
  return true;
}

void ExtractPostings(const Record& r, std::string_view server, std::string_view file_name, PostingSink* sink) {
  auto put = [&](FieldId f, std::string_view v) {
    if (!Trim(v).empty()) sink->Add(f, v);
  };
  auto put_int = [&](FieldId f, std::int64_t v) {
    if (v < 0) return;
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    sink->Add(f, std::string_view(buf, static_cast<std::size_t>(end - buf)));
  };
  put(FieldId::kServer, server);
  put(FieldId::kFile, file_name);
  put(FieldId::kKind, RecordKindName(r.kind));
  put(FieldId::kMalformed, r.malformed != kMalformedNone ? "true" : "false");
  if (r.kind == RecordKind::kForeign || r.kind == RecordKind::kJunk) return;
  put(FieldId::kLevel, r.level);
  put(FieldId::kFlag, r.flag);
  put(FieldId::kComponent, r.component);
  put_int(FieldId::kCorrelationId, r.correlation_id);
  put(FieldId::kInstanceId, r.instance_id);
  put(FieldId::kDirection, r.direction);
  put(FieldId::kPeer, r.peer);
  if (r.type == MessageType::kRequest) put(FieldId::kType, "request");
  if (r.type == MessageType::kResponse) put(FieldId::kType, "response");
  put(FieldId::kMethod, r.method);
  put(FieldId::kRuri, r.ruri);
  put_int(FieldId::kStatus, r.status);
  for (const NameAddr* na : {&r.from, &r.to}) {
    bool from = na == &r.from;
    if (!na->present) continue;
    put(from ? FieldId::kFromUri : FieldId::kToUri, na->uri);
    put(from ? FieldId::kFromUser : FieldId::kToUser, na->user);
    put(from ? FieldId::kFromHost : FieldId::kToHost, na->host);
    put(from ? FieldId::kFromTag : FieldId::kToTag, na->tag);
    put(from ? FieldId::kFromEpid : FieldId::kToEpid, na->epid);
  }
  put(FieldId::kCallId, r.call_id.empty() ? r.sip_call_id : r.call_id);
  put(FieldId::kCseqMethod, r.cseq_method);
  put(FieldId::kEvent, r.event);
  put(FieldId::kContentType, r.content_type);
  // Also the bare media type, so `content_type = multipart/related` finds
  // "multipart/related; type=...".
  if (std::size_t semi = r.content_type.find(';'); semi != std::string_view::npos) {
    put(FieldId::kContentType, r.content_type.substr(0, semi));
  }
  put(FieldId::kUserAgent, r.user_agent);
  put(FieldId::kServerHdr, r.server_hdr);
  for (const Diagnostic& d : r.diagnostics) {
    put_int(FieldId::kDiag, d.code);
    put(FieldId::kDiagSource, d.source);
  }
  for (const ResourceInstance& ri : r.resources) {
    put(FieldId::kResourceUri, ri.uri);
    put(FieldId::kResourceState, ri.state);
    put(FieldId::kResourceReason, ri.reason);
    put_int(FieldId::kResourceStatus, ri.status);
    put_int(FieldId::kResourceDiag, ri.diag);
  }
  put(FieldId::kSeverity, r.severity);
  put(FieldId::kResultCode, r.result_code);
  put(FieldId::kResultText, r.result_text);
}

void EncodePostingList(std::span<const std::uint32_t> ordinals, std::string* out) {
  PutVarint64(out, ordinals.size());
  std::int64_t prev = -1;
  std::size_t i = 0;
  while (i < ordinals.size()) {
    std::size_t j = i + 1;
    while (j < ordinals.size() && ordinals[j] == ordinals[j - 1] + 1) ++j;
    auto gap = static_cast<std::uint64_t>(static_cast<std::int64_t>(ordinals[i]) - prev - 1);
    if (j - i >= 2) {
      PutVarint64(out, gap << 1 | 1);
      PutVarint64(out, j - i - 2);
    } else {
      PutVarint64(out, gap << 1);
    }
    prev = ordinals[j - 1];
    i = j;
  }
}

bool PostingListCount(std::string_view in, std::uint64_t* n) { return GetVarint64(&in, n); }

bool DecodePostingList(std::string_view* in, std::uint64_t limit, std::vector<std::uint32_t>* ordinals) {
  std::uint64_t n = 0;
  if (!GetVarint64(in, &n) || n > limit) return false;
  std::uint64_t next = 0;  // prev + 1
  std::uint64_t got = 0;
  while (got < n) {
    std::uint64_t token = 0;
    if (!GetVarint64(in, &token)) return false;
    std::uint64_t first = next + (token >> 1);
    std::uint64_t k = 1;
    if (token & 1) {
      if (!GetVarint64(in, &k) || k > n) return false;
      k += 2;
    }
    if (first < next || k > n - got || first + k > limit || first + k < first) return false;
    for (std::uint64_t o = first; o < first + k; ++o) ordinals->push_back(static_cast<std::uint32_t>(o));
    got += k;
    next = first + k;
  }
  return true;
}

bool FindInBucket(std::string_view bucket, std::uint16_t lo, std::string_view* list, bool* found) {
  *found = false;
  std::uint64_t m = 0;
  if (!GetVarint64(&bucket, &m) || m > bucket.size()) return false;
  for (std::uint64_t i = 0; i < m; ++i) {
    std::string_view h;
    std::string_view l;
    if (!GetBytes(&bucket, 2, &h) || !GetLengthPrefixed(&bucket, &l)) return false;
    auto v = static_cast<std::uint16_t>(static_cast<std::uint8_t>(h[0]) << 8 | static_cast<std::uint8_t>(h[1]));
    if (v == lo) {
      *list = l;
      *found = true;
      return true;
    }
    if (v > lo) return true;
  }
  return true;
}

PostingCollector::PostingCollector() : slots_(1u << 12, 0), mask_((1u << 12) - 1) {}

void PostingCollector::Grow() {
  std::vector<std::uint64_t> old(slots_.size() * 2, 0);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (std::uint64_t s : old) {
    if (static_cast<std::uint32_t>(s) == 0) continue;
    std::uint32_t id = static_cast<std::uint32_t>(s) - 1;
    std::string_view k(arena_.data() + (id == 0 ? 0 : key_ends_[id - 1]),
                       key_ends_[id] - (id == 0 ? 0 : key_ends_[id - 1]));
    std::uint64_t i = Hash64(k) & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void PostingCollector::Add(FieldId field, std::string_view value) {
  PostingValueKeyInto(field, value, &key_);
  std::uint64_t h = Hash64(key_);
  std::uint64_t tag = h >> 32 << 32;
  std::uint64_t i = h & mask_;
  std::uint32_t id = 0;
  while (true) {
    std::uint64_t s = slots_[i];
    if (static_cast<std::uint32_t>(s) == 0) {
      // A new key.
      id = static_cast<std::uint32_t>(key_ends_.size());
      arena_.append(key_);
      key_ends_.push_back(static_cast<std::uint32_t>(arena_.size()));
      last_ordinal_.push_back(std::numeric_limits<std::uint32_t>::max());
      slots_[i] = tag | (static_cast<std::uint64_t>(id) + 1);
      if (key_ends_.size() * 2 > slots_.size()) Grow();
      break;
    }
    if ((s >> 32 << 32) == tag) {
      std::uint32_t cand = static_cast<std::uint32_t>(s) - 1;
      std::uint32_t begin = cand == 0 ? 0 : key_ends_[cand - 1];
      if (std::string_view(arena_.data() + begin, key_ends_[cand] - begin) == key_) {
        id = cand;
        break;
      }
    }
    i = (i + 1) & mask_;
  }
  if (last_ordinal_[id] == ordinal_) return;  // repeated within the record
  last_ordinal_[id] = ordinal_;
  pairs_.push_back(static_cast<std::uint64_t>(id) << 32 | ordinal_);
}

SegmentPostings PostingCollector::Finish() {
  SegmentPostings out;
  const std::size_t n = key_ends_.size();
  auto key_of = [&](std::uint32_t id) {
    std::uint32_t begin = id == 0 ? 0 : key_ends_[id - 1];
    return std::string_view(arena_.data() + begin, key_ends_[id] - begin);
  };
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return key_of(a) < key_of(b); });
  // rank[id] = position of the key in sorted order; counts_ per rank.
  std::vector<std::uint32_t> rank(n);
  for (std::uint32_t r = 0; r < n; ++r) rank[order[r]] = r;
  counts_.assign(n, 0);
  for (std::uint64_t p : pairs_) ++counts_[rank[p >> 32]];
  out.keys.reserve(arena_.size());
  out.key_ends.reserve(n);
  out.list_ends.reserve(n);
  std::uint32_t total = 0;
  for (std::uint32_t r = 0; r < n; ++r) {
    out.keys.append(key_of(order[r]));
    out.key_ends.push_back(static_cast<std::uint32_t>(out.keys.size()));
    std::uint32_t c = counts_[r];
    counts_[r] = total;  // now the next write position of the list
    total += c;
    out.list_ends.push_back(total);
  }
  out.ordinals.resize(total);
  for (std::uint64_t p : pairs_) out.ordinals[counts_[rank[p >> 32]]++] = static_cast<std::uint32_t>(p);
  // Empty, keeping the buffers.
  std::fill(slots_.begin(), slots_.end(), 0);
  arena_.clear();
  key_ends_.clear();
  last_ordinal_.clear();
  pairs_.clear();
  ordinal_ = 0;
  return out;
}

namespace {

struct Cursor {
  const SegmentPostings* postings = nullptr;
  std::uint32_t base = 0;
  std::size_t next = 0;  // index of the current key
  std::string_view Key() const {
    std::uint32_t begin = next == 0 ? 0 : postings->key_ends[next - 1];
    return std::string_view(postings->keys.data() + begin, postings->key_ends[next] - begin);
  }
};

}  // namespace

Status MergeSegmentPostings(std::span<const std::pair<std::uint32_t, SegmentPostings>> parts, const PostingEmit& emit) {
  std::vector<Cursor> cursors;
  cursors.reserve(parts.size());
  for (const auto& [base, p] : parts) {
    if (p.size() > 0) cursors.push_back(Cursor{&p, base, 0});
  }
  // A min-heap of cursor indexes by (current key, index): equal keys come out
  // in segment order, so concatenated lists stay increasing.
  auto greater = [&](std::size_t a, std::size_t b) {
    int c = cursors[a].Key().compare(cursors[b].Key());
    return c != 0 ? c > 0 : a > b;
  };
  std::vector<std::size_t> heap(cursors.size());
  std::iota(heap.begin(), heap.end(), std::size_t{0});
  std::make_heap(heap.begin(), heap.end(), greater);
  std::string key;
  std::vector<std::uint32_t> ords;
  while (!heap.empty()) {
    key.assign(cursors[heap.front()].Key());
    ords.clear();
    while (!heap.empty() && cursors[heap.front()].Key() == key) {
      std::pop_heap(heap.begin(), heap.end(), greater);
      Cursor& c = cursors[heap.back()];
      const SegmentPostings& p = *c.postings;
      std::uint32_t begin = c.next == 0 ? 0 : p.list_ends[c.next - 1];
      for (std::uint32_t i = begin; i < p.list_ends[c.next]; ++i) ords.push_back(c.base + p.ordinals[i]);
      if (++c.next < p.size()) {
        std::push_heap(heap.begin(), heap.end(), greater);
      } else {
        heap.pop_back();
      }
    }
    SIPDEX_RETURN_IF_ERROR(emit(key, ords));
  }
  return Status::Ok();
}

}  // namespace sipdex::storage
