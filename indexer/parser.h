#pragma once
// The record parser: turns one framed span into the fields of storage/record.h.
//
// Zero copy: every string_view of the Record points into the span's text,
// except values rebuilt from folded (continuation) lines, which live in
// Record::scratch. Reuse one Record per thread: ParseRecord() clears it first
// and keeps its vectors' capacity, so the steady state does not allocate.
// No regular expressions, no iostreams, no exceptions; bad input never
// crashes and is reported through Record::malformed.

#include <cstdint>
#include <functional>
#include <string_view>

#include "indexer/framer.h"
#include "storage/record.h"

namespace sipdex {

// Parses `text`, the bytes of `span` (from RecordBatch::Text()), into *record.
// Sets every field it can find, and record->malformed = span.malformed | what
// the parser found wrong:
//   kMalformedHeaderLine  the TL_ line does not have the documented shape
//   kMalformedTime        the date or time of the header line is impossible
//   kMalformedSipLine     a line of a protocol/diagnostic record that is neither
//                         "Name: value", a continuation, nor a start line; or a
//                         bad Start-Line
//   kMalformedBinary      NUL or other control bytes (not TAB/CR/LF) in the text
//   kMalformedLongLine    a line longer than kMaxLineBytes (values are cut there)
//   kMalformedDiagnostics an ms-diagnostics header without a leading code
//   kMalformedBody        an rlmi body whose XML is cut inside a tag
// Kinds: kForeign and kJunk spans are only located (offset, line, text,
// malformed), never parsed. A TL_ record becomes kDiagnostic when its flag is
// DIAG, its function is a WriteDiagnosticEvent, or it carries Severity:/
// Result-Code:/SIP-* fields without a SIP message; kProtocol when its flag is
// PROTOCOL; kOther otherwise (only its header line is parsed).
// When the header line has no readable time, record->has_time is false and
// record->time is 0: the caller fills in the previous record's time (see
// ParseBatch).
// REQUIRES: record != nullptr; text.size() == span.size.
void ParseRecord(std::string_view text, const FramedSpan& span, Record* record);

// Parses every span of `batch` in order, reusing *record, and calls
// visit(*record) for each. Records without a readable time get the time of the
// previous record of the batch, or `*carry_time` for the first ones; on return
// *carry_time is the last time seen (pass it to the next batch of the same
// file, in file order, to get the same times as a sequential parse).
// REQUIRES: record != nullptr, carry_time != nullptr.
void ParseBatch(const RecordBatch& batch, Record* record, TimeMs* carry_time,
                const std::function<void(const Record&)>& visit);

// The server a record comes from. The file name wins when its last path
// component has the CLS/OCSLogger shape `SERVER_YYYYMMDD_N.ext` (for example
// "logs/FE01_20140716_1.log" or "a.zip/FE01_20140716_1.log" -> "FE01");
// otherwise the machine of a `[machine\machine]` header ("fe01\fe01" ->
// "fe01"); otherwise "" (older `[0]`/`[4]` headers name a CPU, not a server).
// The result points into `file_name` or into record.machine.
std::string_view ServerName(std::string_view file_name, const Record& record);

// Parses one ms-diagnostics value ("2157;reason=\"...\";source=\"...\"") into
// *out (views into `value`). Returns false when the value has no leading
// code (out->code is then -1). Every field but out->variant is set (reason
// and source "" when absent), so one Diagnostic may be reused. Exposed for
// tests and for the query engine's fact table.
bool ParseDiagnosticValue(std::string_view value, Diagnostic* out);

// Appends to record->resources one ResourceInstance per rlmi `<instance>`
// element of `body` (a whole body, multipart or not), with the uri of its
// enclosing `<resource uri=...>`: state, reason, statusCode and msDiagCode
// (-1 when absent or not a number). `<resource/>` elements without an
// instance (the members of a batch subscribe) add nothing. Sets
// kMalformedBody in record->malformed when the XML is cut inside a tag.
// Views point into `body`. ParseRecord calls it for bodies whose
// Content-Type or text mentions rlmi; exposed for tests and fuzzing.
// REQUIRES: record != nullptr.
void ParseRlmiResources(std::string_view body, Record* record);

// Parses a From/To value ("\"Bob\" <sip:bob@contoso.com:5061;transport=tls>;tag=1;epid=2")
// into *out (views into `value`). Always succeeds; missing parts are "".
void ParseNameAddr(std::string_view value, NameAddr* out);

}  // namespace sipdex
