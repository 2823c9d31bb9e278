#include "query/evaluator.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sipdex::query {
namespace {

char LowerChar(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool ContainsIgnoreCase(std::string_view hay, std::string_view lowered_needle) {
  if (lowered_needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), lowered_needle.begin(), lowered_needle.end(),
                        [](char a, char b) { return LowerChar(a) == b; });
  return it != hay.end();
}

void AddText(std::string_view s, std::vector<CellValue>* out) {
  if (!s.empty()) out->push_back(CellValue{false, 0, s});
}
void AddNumber(std::int64_t n, bool present, std::vector<CellValue>* out) {
  if (present) out->push_back(CellValue{true, n, {}});
}

std::string_view TypeName(MessageType t) {
  switch (t) {
    case MessageType::kRequest:
      return "request";
    case MessageType::kResponse:
      return "response";
    case MessageType::kUnknown:
      break;
  }
  return {};
}

void RecordValues(FieldId id, const RowInput& row, int resource, std::vector<CellValue>* out) {
  const Record& r = *row.record;
  const ResourceInstance* inst =
      resource >= 0 && static_cast<std::size_t>(resource) < r.resources.size() ? &r.resources[resource] : nullptr;
  switch (id) {
    case FieldId::kTime:
      AddNumber(r.time, r.has_time, out);
      break;
    case FieldId::kServer:
      AddText(row.server, out);
      break;
    case FieldId::kFile:
      AddText(row.file, out);
      break;
    case FieldId::kLine:
      AddNumber(r.line, r.line > 0, out);
      break;
    case FieldId::kKind:
      AddText(RecordKindName(r.kind), out);
      break;
    case FieldId::kLevel:
      AddText(r.level, out);
      break;
    case FieldId::kFlag:
      AddText(r.flag, out);
      break;
    case FieldId::kComponent:
      AddText(r.component, out);
      break;
    case FieldId::kCorrelationId:
      AddNumber(r.correlation_id, r.correlation_id >= 0, out);
      break;
    case FieldId::kInstanceId:
      AddText(r.instance_id, out);
      break;
    case FieldId::kDirection:
      AddText(r.direction, out);
      break;
    case FieldId::kPeer:
      AddText(r.peer, out);
      break;
    case FieldId::kType:
      AddText(TypeName(r.type), out);
      break;
    case FieldId::kMethod:
      AddText(r.method, out);
      break;
    case FieldId::kRuri:
      AddText(r.ruri, out);
      break;
    case FieldId::kStatus:
      AddNumber(r.status, r.status >= 0, out);
      break;
    case FieldId::kReason:
      AddText(r.reason_phrase, out);
      break;
    case FieldId::kFrom:
    case FieldId::kFromUri:
      AddText(r.from.uri, out);
      break;
    case FieldId::kFromUser:
      AddText(r.from.user, out);
      break;
    case FieldId::kFromHost:
      AddText(r.from.host, out);
      break;
    case FieldId::kFromName:
      AddText(r.from.display, out);
      break;
    case FieldId::kFromTag:
      AddText(r.from.tag, out);
      break;
    case FieldId::kFromEpid:
      AddText(r.from.epid, out);
      break;
    case FieldId::kTo:
    case FieldId::kToUri:
      AddText(r.to.uri, out);
      break;
    case FieldId::kToUser:
      AddText(r.to.user, out);
      break;
    case FieldId::kToHost:
      AddText(r.to.host, out);
      break;
    case FieldId::kToName:
      AddText(r.to.display, out);
      break;
    case FieldId::kToTag:
      AddText(r.to.tag, out);
      break;
    case FieldId::kToEpid:
      AddText(r.to.epid, out);
      break;
    case FieldId::kCallId:
      AddText(r.call_id.empty() ? r.sip_call_id : r.call_id, out);
      break;
    case FieldId::kCseq:
      AddNumber(r.cseq, r.cseq >= 0, out);
      break;
    case FieldId::kCseqMethod:
      AddText(r.cseq_method, out);
      break;
    case FieldId::kEvent:
      AddText(r.event, out);
      break;
    case FieldId::kExpires:
      AddNumber(r.expires, r.expires >= 0, out);
      break;
    case FieldId::kContentType:
      AddText(r.content_type, out);
      break;
    case FieldId::kUserAgent:
      AddText(r.user_agent, out);
      break;
    case FieldId::kServerHdr:
      AddText(r.server_hdr, out);
      break;
    case FieldId::kRecordRoute:
      for (std::string_view v : r.record_route) AddText(v, out);
      break;
    case FieldId::kDiag:
      for (const Diagnostic& d : r.diagnostics) AddNumber(d.code, d.code >= 0, out);
      break;
    case FieldId::kDiagReason:
      for (const Diagnostic& d : r.diagnostics) AddText(d.reason, out);
      break;
    case FieldId::kDiagSource:
      for (const Diagnostic& d : r.diagnostics) AddText(d.source, out);
      break;
    case FieldId::kBody:
      AddText(r.body, out);
      break;
    case FieldId::kText:
      AddText(r.text, out);
      break;
    case FieldId::kResource:
    case FieldId::kResourceUri:
      if (inst) AddText(inst->uri, out);
      break;
    case FieldId::kResourceState:
      if (inst) AddText(inst->state, out);
      break;
    case FieldId::kResourceReason:
      if (inst) AddText(inst->reason, out);
      break;
    case FieldId::kResourceStatus:
      if (inst) AddNumber(inst->status, inst->status >= 0, out);
      break;
    case FieldId::kResourceDiag:
      if (inst) AddNumber(inst->diag, inst->diag >= 0, out);
      break;
    case FieldId::kSeverity:
      AddText(r.severity, out);
      break;
    case FieldId::kResultCode:
      AddText(r.result_code, out);
      break;
    case FieldId::kResultText:
      AddText(r.result_text, out);
      break;
    case FieldId::kMalformed:
      AddNumber(r.malformed != kMalformedNone ? 1 : 0, true, out);
      break;
    case FieldId::kCount_:
      break;
  }
}

// Decimal text of a number, in a caller-provided buffer.
std::string_view NumberText(std::int64_t n, char (&buf)[24]) {
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  (void)ec;
  return std::string_view(buf, static_cast<std::size_t>(ptr - buf));
}

bool EqualsValue(const BoundField& f, const CellValue& c, const BoundValue& v) {
  if (c.is_number) return c.number == v.number;
  if (f.type == FieldType::kUri) return UriEquals(c.text, v.text);
  if (f.case_insensitive) return EqualsIgnoreCase(c.text, v.text);
  return c.text == v.text;
}

}  // namespace

bool UriEquals(std::string_view uri, std::string_view normalized) {
  while (!uri.empty() && uri.front() == '<') uri.remove_prefix(1);
  while (!uri.empty() && uri.back() == '>') uri.remove_suffix(1);
  if (uri.size() == normalized.size() && uri == normalized) return true;
  // Same length is required: normalisation only changes case (or adds "sip:",
  // which logged URIs always carry).
  if (uri.size() != normalized.size()) return false;
  std::size_t colon = uri.find(':');
  std::size_t at = uri.find('@');
  std::size_t host_start = at != std::string_view::npos ? at + 1 : (colon != std::string_view::npos ? colon + 1 : 0);
  std::size_t host_end = uri.find_first_of(";?>", host_start);
  if (host_end == std::string_view::npos) host_end = uri.size();
  for (std::size_t i = 0; i < uri.size(); ++i) {
    bool fold = (colon != std::string_view::npos && i < colon) || (i >= host_start && i < host_end);
    if (fold ? LowerChar(uri[i]) != normalized[i] : uri[i] != normalized[i]) return false;
  }
  return true;
}

void CollectValues(const BoundField& field, const RowInput& row, int resource, ResponseLookup* responses,
                   std::vector<CellValue>* out) {
  switch (field.source) {
    case FieldSource::kRecord:
      RecordValues(field.info->id, row, resource, out);
      return;
    case FieldSource::kHeader:
      for (const Header& h : row.record->headers) {
        if (EqualsIgnoreCase(h.name, field.header)) out->push_back(CellValue{false, 0, h.value});
      }
      return;
    case FieldSource::kResponse:
    case FieldSource::kResponseExists: {
      if (field.source == FieldSource::kResponseExists) {
        if (responses != nullptr && responses->HasFinalResponse(*row.record)) out->push_back(CellValue{true, 1, {}});
        return;
      }
      const Record* resp = responses != nullptr ? responses->FinalResponse(*row.record) : nullptr;
      if (resp == nullptr) return;
      RowInput r2{resp, row.file, row.server};
      RecordValues(field.info->id, r2, -1, out);
      return;
    }
    case FieldSource::kBucket: {
      const Record& r = *row.record;  // the carried time when the record has none of its own
      TimeMs t = field.bucket == TimeBucket::kMinute ? FloorMinute(r.time)
                 : field.bucket == TimeBucket::kHour ? FloorHour(r.time)
                 : field.bucket == TimeBucket::kDay  ? FloorDay(r.time)
                                                     : FloorIsoWeek(r.time);
      out->push_back(CellValue{true, t, {}});
      return;
    }
    case FieldSource::kCount:
    case FieldSource::kColumn:
      return;  // columns of stage output are read by the executor, not from records
  }
}

bool Evaluator::Compare(const BoundExpr& e, const RowInput& row, int resource) {
  scratch_.clear();
  CollectValues(e.field, row, resource, responses_, &scratch_);
  const BoundField& f = e.field;
  char buf[24];
  switch (e.op) {
    case Op::kExists:
      return !scratch_.empty();
    case Op::kEq:
    case Op::kIn:
      for (const CellValue& c : scratch_) {
        for (const BoundValue& v : e.values) {
          if (EqualsValue(f, c, v)) return true;
        }
      }
      return false;
    case Op::kNe:
      for (const CellValue& c : scratch_) {
        if (EqualsValue(f, c, e.values.at(0))) return false;
      }
      return true;
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      std::int64_t v = e.values.at(0).number;
      for (const CellValue& c : scratch_) {
        if (!c.is_number) continue;
        bool ok = e.op == Op::kLt   ? c.number < v
                  : e.op == Op::kLe ? c.number <= v
                  : e.op == Op::kGt ? c.number > v
                                    : c.number >= v;
        if (ok) return true;
      }
      return false;
    }
    case Op::kGlob:
    case Op::kRegex:
      for (const CellValue& c : scratch_) {
        std::string_view text = c.is_number ? NumberText(c.number, buf) : c.text;
        if (f.type == FieldType::kTime && c.is_number) continue;
        bool ok = e.op == Op::kGlob ? RE2::FullMatch(text, *e.pattern) : RE2::PartialMatch(text, *e.pattern);
        if (ok) return true;
      }
      return false;
    case Op::kContains: {
      const std::string& needle = e.values.at(0).text;
      for (const CellValue& c : scratch_) {
        std::string_view text = c.is_number ? NumberText(c.number, buf) : c.text;
        bool ok = f.case_insensitive ? ContainsIgnoreCase(text, needle) : text.find(needle) != std::string_view::npos;
        if (ok) return true;
      }
      return false;
    }
  }
  return false;
}

bool Evaluator::Eval(const BoundExpr& e, const RowInput& row, int resource) {
  switch (e.kind) {
    case BoundExpr::Kind::kAnd:
      for (const auto& c : e.children) {
        if (!Eval(*c, row, resource)) return false;
      }
      return true;
    case BoundExpr::Kind::kOr:
      for (const auto& c : e.children) {
        if (Eval(*c, row, resource)) return true;
      }
      return false;
    case BoundExpr::Kind::kNot:
      return !Eval(*e.children.at(0), row, resource);
    case BoundExpr::Kind::kTimeRange:
      // A record without a readable time carries the previous record's time
      // (storage/record.h), as the time map does.
      return row.record->time >= e.from && row.record->time < e.to;
    case BoundExpr::Kind::kCompare:
      return Compare(e, row, resource);
  }
  return false;
}

bool Evaluator::Match(const BoundQuery& q, const RowInput& row, std::vector<int>* instances) {
  instances->clear();
  const std::size_t n = row.record->resources.size();
  if (q.per_resource && n > 0) {
    const bool by_instance = q.where && q.where->UsesResources();
    bool record_level = by_instance ? false : (!q.where || Eval(*q.where, row, -1));
    for (std::size_t i = 0; i < n; ++i) {
      if (by_instance ? Eval(*q.where, row, static_cast<int>(i)) : record_level)
        instances->push_back(static_cast<int>(i));
    }
    return !instances->empty();
  }
  if (q.where && !Eval(*q.where, row, -1)) return false;
  instances->push_back(-1);
  return true;
}

}  // namespace sipdex::query
