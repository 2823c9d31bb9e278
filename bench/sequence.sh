#!/usr/bin/env bash
# Sequence benchmark (issue 6): a sequence over all SUBSCRIBE traffic of a generated corpus against a
# plain `text contains` scan of the same index (goal: the sequence at least half as fast as the scan),
# and the sequence's peak memory (goal: < 256 MiB).
#   bench/sequence.sh [BUILD_DIR]      (default build/release; builds sipdex and sipdex-gen there)
# Environment: SIZE (default 1GB), SEED (default 7), WORK (default BUILD_DIR/bench-sequence),
#   RUNS (hyperfine runs per command, default 3),
#   CORPUS / INDEX (use an existing sipdex-gen corpus / an index of it instead of generating them).
# Prints one line per figure (mean wall time from hyperfine; user+sys CPU and peak RSS from
# /usr/bin/time); paste them into bench/RESULTS.md under "Sequences".
set -euo pipefail
default_runs=3
default_work=bench-sequence
source "$(dirname "$0")/lib.sh"
if [ ! -d "$index" ]; then
  /usr/bin/time -f "ingest: %e s wall, %U+%S s CPU, max RSS %M KB" "$sipdex" ingest --index "$index" \
    $(find "$corpus" -type f ! -name ground-truth.json | LC_ALL=C sort) > "$work/ingest.txt" 2>&1 ||
    { cat "$work/ingest.txt"; exit 1; }
  grep -E "^ingest:" "$work/ingest.txt" || true
fi
raw_bytes=$(find "$corpus" -type f ! -name ground-truth.json -printf '%s\n' | awk '{s += $1} END {print s}')
bench_stamp
echo "corpus: $(find "$corpus" -type f ! -name ground-truth.json | wc -l) files, $raw_bytes bytes on disk; index $(du -sb "$index" | cut -f1) bytes"

# name|query
queries=(
  "sequence: SUBSCRIBE without a response in 32 s|sequence by call_id within 32s [method = SUBSCRIBE and type = request] ![method = SUBSCRIBE and type = response] | count"
  "sequence: refused again within 1 h|sequence by sub.subscriber, sub.target within 1h [method = SUBSCRIBE and type = response and diag = 2157 or resource.diag = 2157 and (method = SUBSCRIBE and type = response or method = NOTIFY and type = request)] [method = SUBSCRIBE and type = response and diag = 2157 or resource.diag = 2157 and (method = SUBSCRIBE and type = response or method = NOTIFY and type = request)] | count"
  "scan: text contains SUBSCRIBE|text contains SUBSCRIBE | count"
)
declare -A wall
for entry in "${queries[@]}"; do
  name=${entry%%|*}
  q=${entry#*|}
  json=$work/hyperfine.json
  hyperfine -N --runs "$runs" --warmup 1 --export-json "$json" \
    "$sipdex query --index $index --format csv '$q'" >/dev/null
  mean_ms=$(jq '.results[0].mean * 1000 | floor' "$json")
  wall[$name]=$mean_ms
  /usr/bin/time -o "$work/time.txt" -f "%U %S %M" "$sipdex" query --index "$index" --format csv "$q" \
    >"$work/out.txt" 2>/dev/null
  read -r user sys rss < <(tail -1 "$work/time.txt")
  cpu_ms=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%d", (u + s) * 1000}')
  echo "$name: ${mean_ms} ms wall (mean of $runs), ${cpu_ms} ms CPU, peak RSS $((rss / 1024)) MiB, answer $(tail -1 "$work/out.txt")"
done
scan=${wall["scan: text contains SUBSCRIBE"]}
for name in "sequence: SUBSCRIBE without a response in 32 s" "sequence: refused again within 1 h"; do
  awk -v n="$name" -v s="${wall[$name]}" -v b="$scan" 'BEGIN {printf "%s: %.2fx the scan time (goal <= 2)\n", n, s / b}'
done
