// sipdex show [--index DIR] CALL-ID
//
// The records of one dialog (Call-ID, or SIP-Call-ID of diagnostic records)
// in time order as a text ladder:
//   TIME  SERVER  DIRECTION  ARROW  METHOD-OR-STATUS  ms-diagnostics
// An incoming message is drawn "server <-- peer", an outgoing one
// "server --> peer". Found through the call_id postings, so it reads only
// the segments holding the dialog. Exit status: 0 ok (found), 1 not found or
// damage, 2 usage.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/index_access.h"
#include "indexer/ingest.h"
#include "storage/index.h"

namespace sipdex::cli {
namespace {

struct ShowArgs {
  std::string index;
  std::string call_id;
};

struct Line {
  TimeMs time;
  storage::RecordId id;
  std::string text;
};

std::string OneLine(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out.push_back((static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c);
  if (s.size() > max) out += "...";
  return out;
}

std::string Describe(const Record& r, std::string_view server) {
  std::string what;
  if (r.kind == RecordKind::kDiagnostic) {
    what = fmt::format("[{}] {} {}", OneLine(r.severity.empty() ? r.level : r.severity, 12),
                       OneLine(r.result_text.empty() ? r.result_code : r.result_text, 60), OneLine(r.diag_text, 80));
  } else if (r.type == MessageType::kResponse || r.status >= 0) {
    what = r.status >= 0 ? fmt::format("{} {}", r.status, OneLine(r.reason_phrase, 40)) : std::string("response");
    if (!r.method.empty()) what += fmt::format(" ({})", OneLine(r.method, 20));
  } else {
    what = fmt::format("{} {}", OneLine(r.method.empty() ? std::string_view("?") : r.method, 20), OneLine(r.ruri, 60));
  }
  std::string diags;
  for (auto d = r.diagnostics.begin(); d != r.diagnostics.end(); ++d) {
    // The same diagnostic in ms-diagnostics and ms-diagnostics-public is shown once.
    bool repeated = std::any_of(r.diagnostics.begin(), d, [&](const Diagnostic& e) {
      return e.code == d->code && e.subcode == d->subcode && e.reason == d->reason;
    });
    if (repeated) continue;
    diags += fmt::format("  {}: {}{}", DiagHeaderName(d->variant), d->code,
                         d->reason.empty() ? "" : " " + OneLine(d->reason, 80));
  }
  for (const ResourceInstance& ri : r.resources) {
    if (ri.diag >= 0 || ri.status >= 400) {
      diags += fmt::format("  [{} {} {} {}]", OneLine(ri.uri, 60), OneLine(ri.state, 12), ri.status, ri.diag);
    }
  }
  std::string arrow;
  std::string peer = OneLine(r.peer, 40);
  if (r.direction == "incoming") {
    arrow = "<-- " + peer;
  } else if (r.direction == "outgoing") {
    arrow = "--> " + peer;
  } else {
    arrow = "    " + peer;
  }
  return fmt::format("{}  {:<10} {:<9} {:<30} {}{}", FormatTime(r.time), OneLine(server, 10),
                     OneLine(r.direction, 9), arrow, what, diags);
}

int RunShow(const ShowArgs& args) {
  int open_exit = kExitOk;
  std::optional<ReadableIndex> open = OpenForReading(args.index, &open_exit);
  if (!open) return open_exit;
  const storage::IndexSnapshot& snap = *open->snapshot;
  // A Call-ID pasted from a CSV cell or a terminal may carry spaces or a CR.
  const std::string call_id = [&] {
    std::string_view v = args.call_id;
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    return std::string(v);
  }();
  auto ids = snap.Lookup(FieldId::kCallId, call_id);
  if (!ids.ok()) {
    fmt::print(stderr, "error: {}\n", ids.status().message());
    return kExitDamage;
  }
  std::vector<Line> lines;
  Record record;
  Status parse_status;
  Status s = snap.ReadRecords(*ids, [&](const storage::StoredRecord& sr) {
    Status ps = snap.Parse(sr, &record);
    if (!ps.ok()) {
      parse_status = ps;
      return;
    }
    std::string_view call = record.call_id.empty() ? record.sip_call_id : record.call_id;
    if (call != call_id) return;  // postings are a superset (hashes)
    lines.push_back(Line{sr.time, sr.id, Describe(record, sr.server)});
  });
  if (s.ok()) s = parse_status;
  if (!s.ok()) {
    fmt::print(stderr, "error: {}\n", s.message());
    return kExitDamage;
  }
  if (lines.empty()) {
    fmt::print(stderr, "no records with Call-ID {}\n", call_id);
    return kExitDamage;
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const Line& a, const Line& b) { return a.time != b.time ? a.time < b.time : a.id < b.id; });
  fmt::print("Call-ID {}: {} records\n", call_id, lines.size());
  for (const Line& l : lines) fmt::print("{}\n", l.text);
  return kExitOk;
}

}  // namespace

void RegisterShowCommand(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<ShowArgs>();
  CLI::App* sub = app.add_subcommand("show", "Show the dialog of a Call-ID as a ladder");
  AddIndexOption(sub, &args->index);
  sub->add_option("call_id", args->call_id, "the Call-ID")->required();
  registry.Add(sub, [args] { return RunShow(*args); });
}

}  // namespace sipdex::cli
