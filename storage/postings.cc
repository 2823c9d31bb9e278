#include "storage/postings.h"

#include <charconv>
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

}  // namespace sipdex::storage
