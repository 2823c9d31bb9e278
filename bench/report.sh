#!/usr/bin/env bash
# Report benchmark: `sipdex report --week last` on a generated corpus (default 1 GB, seed 7: two
# ISO weeks, so the report also computes the previous week's headline).
#   bench/report.sh [BUILD_DIR]      (default build/release; builds sipdex and sipdex-gen there)
# Environment: SIZE (default 1GB), SEED (default 7), WORK (default BUILD_DIR/bench-query, shared
#   with bench/query.sh), RUNS (hyperfine runs, default 3), CORPUS / INDEX (an existing corpus and
#   its index, as in bench/query.sh).
# Prints the mean wall time (hyperfine), CPU seconds and peak RSS (/usr/bin/time) of the json
# report, then one run each of md and html. The numbers themselves are pinned by the golden
# tests (tests/end_to_end/report_test.cc).
set -euo pipefail
default_runs=3
default_work=bench-query
source "$(dirname "$0")/lib.sh"
if [ ! -d "$index" ]; then
  "$sipdex" ingest --index "$index" $(find "$corpus" -type f ! -name ground-truth.json | LC_ALL=C sort) \
    > "$work/ingest.txt" 2>&1 || { cat "$work/ingest.txt"; exit 1; }
fi
bench_stamp
echo "corpus: $(du -sb "$corpus" | cut -f1) bytes in $corpus (stored as generated); index $(du -sb "$index" | cut -f1) bytes"

cmd="$sipdex report --index $index --week last --format json -o $work/report.json"
hyperfine --style none --warmup 1 --runs "$runs" --export-json "$work/hyperfine-report.json" -- "$cmd" >/dev/null
mean=$(jq -r '.results[0].mean' "$work/hyperfine-report.json")
usage=$( { /usr/bin/time -f "%M %U %S" $cmd ; } 2>&1 | tail -1)
rss=$(echo "$usage" | cut -d' ' -f1)
cpu=$(echo "$usage" | awk '{print ($2 + $3) * 1000}')
printf 'report --week %s: %9.1f ms wall  %7.0f ms cpu  peak RSS %6.1f MiB   (goal: under 1 s)\n' \
  "$(jq -r .week "$work/report.json")" "$(echo "$mean * 1000" | bc -l)" "$cpu" "$(echo "$rss / 1024" | bc -l)"
for fmt in md html; do
  /usr/bin/time -f "report --format $fmt: %e s wall, %U+%S s cpu, max RSS %M KB" \
    "$sipdex" report --index "$index" --week last --format "$fmt" -o "$work/report.$fmt" 2>&1 | grep -v "written to"
done
