#!/usr/bin/env bash
# Generator benchmark and checks at full size:
#   1. times sipdex-gen on SIZE (wall, max RSS with /usr/bin/time) and prints MB/s, on all cores and on one;
#   2. checks that the same seed gives identical bytes (sha256sum of every file of both runs);
#   3. checks `sipdex inspect --format summary-json` against every parser-visible count of ground-truth.json.
#   bench/gen.sh [BUILD_DIR]      (default build/release; builds sipdex and sipdex-gen there)
# Environment: SIZE (default 1GB), SEED (default 7), WORK (default BUILD_DIR/bench-gen), CHECK=0 skips 3.
# Prints one line per figure; paste them into bench/RESULTS.md under "Generator".
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
size=${SIZE:-1GB}
seed=${SEED:-7}
check=${CHECK:-1}
work=${WORK:-$build/bench-gen}

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target sipdex sipdex-gen >/dev/null
sipdex=$build/cli/sipdex
gen=$build/corpus/sipdex-gen
mkdir -p "$work"

# Runs the generator into $1 with $2 threads; prints "wall_s max_rss_kb".
run() {
  rm -rf "$1"
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$gen" -q --size "$size" --seed "$seed" --threads "$2" --out "$1"
  cat "$work/time.txt"
}

echo "== sipdex-gen --size $size --seed $seed ($(nproc) cores, commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d))"
read -r wall rss < <(run "$work/a" 0)
bytes=$(jq '.bytes.total' "$work/a/ground-truth.json")
files=$(jq '.files | length' "$work/a/ground-truth.json")
records=$(jq '.records.total' "$work/a/ground-truth.json")
echo "generate, all cores: $bytes bytes, $files files, $records records in ${wall} s = $(awk -v b="$bytes" -v s="$wall" 'BEGIN { printf "%.0f", b / 1e6 / s }') MB/s, max RSS $((rss / 1024)) MB"
stored=$(du -cb "$work/a" | tail -1 | cut -f1)
echo "on disk: $stored bytes (some files gzip-compressed, ground-truth.json included)"

read -r wall1 rss1 < <(run "$work/b" 1)
echo "generate, 1 thread:  ${wall1} s = $(awk -v b="$bytes" -v s="$wall1" 'BEGIN { printf "%.0f", b / 1e6 / s }') MB/s, max RSS $((rss1 / 1024)) MB"

(cd "$work/a" && sha256sum -- * | LC_ALL=C sort -k2) > "$work/a.sha256"
(cd "$work/b" && sha256sum -- * | LC_ALL=C sort -k2) > "$work/b.sha256"
if cmp -s "$work/a.sha256" "$work/b.sha256"; then
  echo "same seed, all cores vs 1 thread: identical bytes ($(wc -l < "$work/a.sha256") files, sha256 of the list $(sha256sum < "$work/a.sha256" | cut -c1-16))"
else
  echo "same seed, all cores vs 1 thread: DIFFERENT bytes"; diff "$work/a.sha256" "$work/b.sha256" | head; exit 1
fi
rm -rf "$work/b"

if [ "$check" = 1 ]; then
  mapfile -t logs < <(jq -r --arg d "$work/a" '.files[].name | $d + "/" + .' "$work/a/ground-truth.json")
  start=$(date +%s.%N)
  "$sipdex" inspect --format summary-json "${logs[@]}" > "$work/summary.json"
  end=$(date +%s.%N)
  verdict=$(jq -n --slurpfile s "$work/summary.json" --slurpfile g "$work/a/ground-truth.json" '
    ($s[0]) as $s | ($g[0]) as $g |
    [ ["bytes", $s.bytes == $g.bytes.total],
      ["records", $s.records == $g.records.total],
      ["records_by_kind", $s.records_by_kind == $g.records.by_kind],
      ["requests_by_method", $s.requests_by_method == $g.requests_by_method],
      ["responses_by_status", $s.responses_by_status == $g.responses_by_status],
      ["responses_by_cseq_method", $s.responses_by_cseq_method == $g.responses_by_method],
      ["diag_codes", $s.diag_messages_by_code == $g.diag_codes],
      ["resources", $s.resources_by_state_status_diag == $g.resources_by_state_status_diag],
      ["malformed_by_reason", $s.malformed_by_reason == $g.malformed.by_reason],
      ["malformed_list", ([$s.malformed[] | "\(.file | split("/") | last):\(.line):\(.reasons | join(","))"] | sort)
                         == ([$g.malformed.records[] | "\(.file):\(.line):\(.reason)"] | sort)] ]
    | map(select(.[1] | not) | .[0]) | if length == 0 then "all equal" else "DIFFERENT: " + join(", ") end')
  echo "sipdex inspect vs ground truth ($(jq '.records' "$work/summary.json") records, $(jq '.malformed_records' "$work/summary.json") malformed, inspect took $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s): $verdict"
  case "$verdict" in *DIFFERENT*) exit 1 ;; esac
fi
