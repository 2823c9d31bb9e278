#!/usr/bin/env bash
# Opens a generated weekly report in headless Chromium (Debian's chromium
# package) and checks what a reader would see: no console errors, no network
# requests from the page, the headline numbers in the rendered DOM; saves a
# PNG screenshot beside the report. First proves on a deliberately bad page
# that the console and network checks do catch what they look for.
# usage: browser_test.sh SIPDEX SIPDEX_GEN WORK_DIR
# Exit 77 (ctest: skipped) when chromium is not installed.
set -euo pipefail
sipdex=$1
gen=$2
work=$3

if ! command -v chromium >/dev/null 2>&1; then
  echo "SKIPPED: chromium is not installed (scripts/setup.sh installs Debian's chromium where it can)"
  exit 77
fi

rm -rf "$work"
mkdir -p "$work"

# The browser's own background services (update checks, account lookups) also
# show in the net log; only requests to other hosts can come from the page.
browser_hosts='(^|\.)(google\.com|googleapis\.com|gstatic\.com|gvt1\.com|googleusercontent\.com)$'

# open PAGE PREFIX: dumps the DOM to PREFIX.dom, stderr to PREFIX.log, the net log to PREFIX.net.
open_page() {
  local page=$1 prefix=$2
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$prefix.profile" --enable-logging=stderr --v=0 --log-net-log="$prefix.net" \
    --dump-dom "file://$page" >"$prefix.dom" 2>"$prefix.log" || true
}
console_errors() { grep -E ':CONSOLE[:(]' "$1.log" || true; }
page_requests() {
  grep -oE '"url":"[a-z]+://[^"]*"' "$1.net" | sed -E 's/"url":"//; s/"$//' | sort -u |
    while read -r url; do
      host=$(printf '%s' "$url" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
      [[ "$url" == file://* ]] && continue
      [[ "$host" =~ $browser_hosts ]] && continue
      echo "$url"
    done
}

# 1. The checks themselves: a page with a console error and an image from the network.
cat >"$work/bad.html" <<'HTML'
<html><body><script>console.error("boom")</script><img src="http://example.invalid/a.png"></body></html>
HTML
open_page "$work/bad.html" "$work/bad"
if [ -z "$(console_errors "$work/bad")" ]; then echo "FAIL: the console check missed console.error"; exit 1; fi
if ! page_requests "$work/bad" | grep -q example.invalid; then echo "FAIL: the network check missed a request"; exit 1; fi

# 2. A report from a generated week.
"$gen" -q --size 3MB --seed 29 --days 14 --start 2014-07-07 --out "$work/corpus"
"$sipdex" ingest --index "$work/idx" "$work/corpus" >/dev/null 2>&1
"$sipdex" report --index "$work/idx" --week last --format html -o "$work/report.html" 2>/dev/null
"$sipdex" report --index "$work/idx" --week last --format json -o "$work/report.json" 2>/dev/null
open_page "$work/report.html" "$work/report"

status=0
errors=$(console_errors "$work/report")
if [ -n "$errors" ]; then echo "FAIL: console messages:"; echo "$errors"; status=1; fi
requests=$(page_requests "$work/report")
if [ -n "$requests" ]; then echo "FAIL: the report made network requests:"; echo "$requests"; status=1; fi

# Headline cards h0..h6 hold these figures, in this order.
i=0
for figure in attempts refused_single refused_batch refused_notify unanswered apps_affected users_affected; do
  want=$(jq -r ".headline.${figure}.value" "$work/report.json")
  got=$(grep -oE "id=\"h$i\"><div class=\"v\"><a [^>]*>[0-9]+<" "$work/report.dom" | grep -oE '>[0-9]+<$' | tr -d '<>' || true)
  if [ "$got" != "$want" ]; then
    echo "FAIL: headline $figure: the page shows '${got}', the report model says ${want}"
    status=1
  else
    echo "ok: headline $figure = $got"
  fi
  i=$((i + 1))
done
if [ "$(jq '.headline.refused_single.value + .headline.refused_batch.value' "$work/report.json")" -eq 0 ]; then
  echo "FAIL: the generated week has no refusals: the check would prove nothing"
  status=1
fi

timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/shot.profile" --hide-scrollbars --window-size=1000,2600 \
  --screenshot="$work/report.png" "file://$work/report.html" >/dev/null 2>&1 || true
if [ ! -s "$work/report.png" ]; then echo "FAIL: no screenshot"; status=1; else echo "screenshot: $work/report.png"; fi
exit $status
