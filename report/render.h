#pragma once
// Renderers of the report model. Pure functions of the model: the same model
// always renders to the same bytes (golden tests rely on it).

#include <string>
#include <string_view>

#include "report/model.h"

namespace sipdex::report {

// One self-contained HTML page: inline CSS and SVG, no scripts, no network
// references; readable on a phone, prints on A4. Every string is escaped.
std::string RenderHtml(const Report& r);

// GitHub-flavoured Markdown. Log text is escaped so it cannot inject markup.
std::string RenderMarkdown(const Report& r);

// The model as pretty-printed JSON (2-space indent, trailing newline).
std::string RenderJson(const Report& r);

// Escapes & < > " ' for HTML text and attribute values.
std::string EscapeHtml(std::string_view s);
// Escapes Markdown inline syntax and HTML-significant characters.
std::string EscapeMarkdown(std::string_view s);

}  // namespace sipdex::report
