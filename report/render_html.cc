// The self-contained HTML page: inline CSS, an inline SVG chart, no scripts.
#include <fmt/format.h>

#include <algorithm>

#include "report/render.h"

namespace sipdex::report {
namespace {

constexpr std::string_view kStyle = R"css(
:root{--ink:#1b1f24;--muted:#5b636e;--line:#d7dce2;--bad:#b42318;--warn:#b54708;--good:#067647;--accent:#175cd3}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0 auto;max-width:62rem;padding:1rem}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line)}
.sub{color:var(--muted);margin:0 0 1rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));gap:.6rem}
.card{border:1px solid var(--line);border-radius:.4rem;padding:.55rem .7rem}
.card .v{font-size:1.6rem;font-weight:650}.card .l{color:var(--muted);font-size:.85rem}
.card .d{font-size:.8rem;color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:.3rem .45rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.t{white-space:nowrap}
.blocked{color:var(--bad);font-weight:650}.atrisk{color:var(--warn);font-weight:650}.ready{color:var(--good);font-weight:650}
.gap{background:#fef3f2;color:var(--bad);font-weight:650}
a{color:var(--accent)}
code{font:.82rem/1.3 ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
ol.q li{margin:.25rem 0}
svg text{font:11px system-ui,sans-serif;fill:var(--ink)}
@media print{@page{size:A4;margin:14mm}body{max-width:none;font-size:11pt}a{color:inherit;text-decoration:none}
h2{break-after:avoid}table,svg,.card{break-inside:avoid}}
)css";

// Collects the queries behind the figures; each figure links to its entry.
class QueryList {
 public:
  // Returns the anchor number of `q` (deduplicated).
  size_t Add(const std::string& q) {
    auto it = std::find(queries_.begin(), queries_.end(), q);
    if (it != queries_.end()) return static_cast<size_t>(it - queries_.begin()) + 1;
    queries_.push_back(q);
    return queries_.size();
  }
  std::string Link(const std::string& q, const std::string& text) {
    size_t n = Add(q);
    return fmt::format("<a href=\"#q{}\" title=\"{}\">{}</a>", n, EscapeHtml(q), text);
  }
  const std::vector<std::string>& all() const { return queries_; }

 private:
  std::vector<std::string> queries_;
};

std::string DeltaText(std::int64_t now, const std::optional<std::vector<std::int64_t>>& prev, size_t i) {
  if (!prev || i >= prev->size()) return "no previous week in the index";
  std::int64_t d = now - (*prev)[i];
  if (d == 0) return "same as the previous week";
  return fmt::format("{}{} on the previous week", d > 0 ? "+" : "", d);
}

// "2014-07-14T08:00:01.000Z" -> "2014-07-14 08:00": tables stay narrow.
std::string ShortTime(const std::string& iso) {
  if (iso.size() < 16 || iso[10] != 'T') return EscapeHtml(iso);
  return EscapeHtml(iso.substr(0, 10) + " " + iso.substr(11, 5));
}

const char* VerdictClass(Verdict v) {
  switch (v) {
    case Verdict::kReady: return "ready";
    case Verdict::kAtRisk: return "atrisk";
    case Verdict::kBlocked: return "blocked";
  }
  return "";
}

// Grouped bars: refusals against successful subscriptions, one group per day.
std::string DailyChart(const std::vector<DayRow>& days) {
  const int width = 640, height = 220, left = 44, bottom = 36, top = 14;
  std::int64_t max = 1;
  for (const DayRow& d : days) max = std::max({max, d.refusals, d.successes});
  const int plot_h = height - bottom - top;
  const double group_w = days.empty() ? 0 : static_cast<double>(width - left - 8) / static_cast<double>(days.size());
  const double bar_w = std::max(4.0, group_w * 0.34);
  std::string s = fmt::format(
      "<svg viewBox=\"0 0 {} {}\" width=\"100%\" role=\"img\" aria-label=\"Refusals and successful subscriptions "
      "by day\" xmlns=\"http://www.w3.org/2000/svg\">\n",
      width, height);
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#d7dce2\"/>\n", left, height - bottom,
                   width - 4, height - bottom);
  for (int tick = 0; tick <= 4; ++tick) {
    double y = height - bottom - plot_h * tick / 4.0;
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 6, y + 4,
                     max * tick / 4);
    if (tick > 0) {
      s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#eef0f3\"/>\n", left, y,
                       width - 4, y);
    }
  }
  for (size_t i = 0; i < days.size(); ++i) {
    double x0 = left + group_w * static_cast<double>(i) + (group_w - 2 * bar_w) / 2;
    auto bar = [&](double x, std::int64_t v, const char* color, const char* what) {
      double h = plot_h * static_cast<double>(v) / static_cast<double>(max);
      s += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{} {}: "
          "{}</title></rect>\n",
          x, height - bottom - h, bar_w, h, color, EscapeHtml(days[i].day), what, v);
    };
    bar(x0, days[i].refusals, "#b42318", "refusals");
    bar(x0 + bar_w, days[i].successes, "#12b76a", "successes");
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x0 + bar_w,
                     height - bottom + 15, EscapeHtml(days[i].day.size() >= 10 ? days[i].day.substr(5) : days[i].day));
  }
  s += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"#b42318\"/><text x=\"{}\" y=\"{}\">refusals "
      "(2157)</text>\n",
      left, height - 12, left + 14, height - 3);
  s += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"#12b76a\"/><text x=\"{}\" y=\"{}\">successful "
      "subscriptions</text>\n",
      left + 130, height - 12, left + 144, height - 3);
  s += "</svg>\n";
  return s;
}

}  // namespace

std::string EscapeHtml(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderHtml(const Report& r) {
  QueryList queries;
  std::string o;
  o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  o += fmt::format("<title>Hybrid readiness {}</title>\n<style>{}</style>\n</head>\n<body>\n", EscapeHtml(r.week),
                   kStyle);
  o += fmt::format("<h1>Hybrid readiness report, {}</h1>\n", EscapeHtml(r.week));
  o += fmt::format("<p class=\"sub\">{} to {} (UTC). Generated by {}. Trusted applications: {}</p>\n",
                   EscapeHtml(r.start), EscapeHtml(r.end), EscapeHtml(r.generated_by), EscapeHtml(r.apps_rule));

  const Headline& h = r.headline;
  const std::pair<const char*, const Figure*> cards[] = {
      {"subscriptions by trusted applications", &h.attempts},
      {"refused (2157), single SUBSCRIBE", &h.refused_single},
      {"refused (2157), in batched subscriptions", &h.refused_batch},
      {"refused (2157), in a later NOTIFY", &h.refused_notify},
      {"left without an answer", &h.unanswered},
      {"applications affected", &h.apps_affected},
      {"Office 365 users affected", &h.users_affected},
  };
  o += "<h2>Headline</h2>\n<div class=\"cards\">\n";
  for (size_t i = 0; i < std::size(cards); ++i) {
    o += fmt::format(
        "<div class=\"card\" id=\"h{}\"><div class=\"v\">{}</div><div class=\"l\">{}</div><div "
        "class=\"d\">{}</div></div>\n",
        i, queries.Link(cards[i].second->query, std::to_string(cards[i].second->value)), cards[i].first,
        DeltaText(cards[i].second->value, h.previous, i));
  }
  o += "</div>\n";

  o += "<h2>Trusted applications</h2>\n";
  if (r.apps.empty()) {
    o += "<p>No trusted application sent a subscription this week.</p>\n";
  } else {
    o += "<div class=\"scroll\"><table>\n<tr><th>application</th><th class=\"n\">attempts</th><th "
         "class=\"n\">refused single / batch / NOTIFY</th><th class=\"n\">rate</th><th "
         "class=\"n\">unanswered</th><th class=\"n\">users</th><th>first seen</th><th>last seen</th><th>verdict</th></tr>\n";
    for (const AppRow& a : r.apps) {
      o += fmt::format(
          "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} / {} / {}</td><td class=\"n\">{:.1f}%</td><td "
          "class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"{}\">{}</td></tr>\n",
          EscapeHtml(a.uri), a.attempts, a.refused_single, a.refused_batch, a.refused_notify, 100.0 * a.RefusalRate(),
          a.unanswered, queries.Link(a.query, std::to_string(a.distinct_users)), ShortTime(a.first_seen),
          ShortTime(a.last_seen), VerdictClass(a.verdict), VerdictName(a.verdict));
    }
    o += "</table></div>\n";
  }
  o += fmt::format("<p><strong>Workaround:</strong> {}</p>\n", EscapeHtml(r.workaround));

  o += "<h2>Affected Office 365 users</h2>\n";
  if (r.users.empty()) {
    o += "<p>No user was refused this week.</p>\n";
  } else {
    o += "<div class=\"scroll\"><table>\n<tr><th>user</th><th class=\"n\">refusals</th><th>applications</th><th>first "
         "seen</th><th>last seen</th></tr>\n";
    for (const UserRow& u : r.users) {
      std::string apps;
      for (const std::string& a : u.apps) apps += (apps.empty() ? "" : "<br>") + EscapeHtml(a);
      o += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td></tr>\n",
                       EscapeHtml(u.uri), u.refusals, apps, ShortTime(u.first_seen), ShortTime(u.last_seen));
    }
    o += "</table></div>\n";
  }

  o += "<h2>Refusals and successful subscriptions by day</h2>\n";
  o += DailyChart(r.daily);
  o += fmt::format("<p class=\"sub\">From {} and {}.</p>\n", queries.Link(r.daily_refusals_query.query, "refusals"),
                   queries.Link(r.daily_successes_query.query, "successes"));

  o += "<h2>Other ms-diagnostics codes this week</h2>\n";
  if (r.other_codes.empty()) {
    o += "<p>None.</p>\n";
  } else {
    o += "<div class=\"scroll\"><table>\n<tr><th class=\"n\">code</th><th class=\"n\">messages</th><th>reason</th></tr>\n";
    for (const CodeRow& c : r.other_codes) {
      o += fmt::format("<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n", c.code, c.count,
                       EscapeHtml(c.reason.empty() ? c.known_reason : c.reason));
    }
    o += "</table></div>\n";
  }
  o += fmt::format("<p class=\"sub\">From {}.</p>\n", queries.Link(r.other_codes_query, "this query"));

  o += "<h2>Coverage</h2>\n<div class=\"scroll\"><table>\n<tr><th>server</th>";
  for (const std::string& d : r.coverage.days) {
    o += fmt::format("<th class=\"n\">{}</th>", EscapeHtml(d.size() >= 10 ? d.substr(5) : d));
  }
  o += "</tr>\n";
  for (size_t s = 0; s < r.coverage.servers.size(); ++s) {
    o += fmt::format("<tr><td>{}</td>", EscapeHtml(r.coverage.servers[s]));
    for (size_t d = 0; d < r.coverage.days.size(); ++d) {
      std::int64_t n = s < r.coverage.records.size() && d < r.coverage.records[s].size() ? r.coverage.records[s][d] : 0;
      o += n == 0 ? "<td class=\"n gap\">gap</td>" : fmt::format("<td class=\"n\">{}</td>", n);
    }
    o += "</tr>\n";
  }
  o += "</table></div>\n";
  o += fmt::format("<p>{} files, {} records ({} malformed, kept and flagged).</p>\n", r.coverage.files,
                   queries.Link(r.coverage.total_records.query, std::to_string(r.coverage.total_records.value)),
                   queries.Link(r.coverage.malformed_records.query, std::to_string(r.coverage.malformed_records.value)));
  if (!r.coverage.gaps.empty()) {
    o += "<ul>\n";
    for (const std::string& g : r.coverage.gaps) o += fmt::format("<li class=\"gap\">{}</li>\n", EscapeHtml(g));
    o += "</ul>\n";
  }

  o += "<h2>Queries</h2>\n<p class=\"sub\">Every figure above links here; run any of them with <code>sipdex query "
       "'...'</code>.</p>\n<ol class=\"q\">\n";
  for (size_t i = 0; i < queries.all().size(); ++i) {
    o += fmt::format("<li id=\"q{}\"><code>{}</code></li>\n", i + 1, EscapeHtml(queries.all()[i]));
  }
  o += "</ol>\n</body>\n</html>\n";
  return o;
}

}  // namespace sipdex::report
