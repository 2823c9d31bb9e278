#!/usr/bin/env bash
# Query benchmark: sipdex query against rg on the same (generated) corpus.
#   bench/query.sh [BUILD_DIR]      (default build/release; builds sipdex and sipdex-gen there)
# Environment: SIZE (default 1GB), SEED (default 7), WORK (default BUILD_DIR/bench-query),
#   RUNS (hyperfine runs per command, default 5), CORPUS (an existing sipdex-gen output folder
#   to use instead of generating one), INDEX (an existing index of that corpus, made by this
#   build's sipdex, instead of ingesting it here).
# Prints one line per figure (mean wall time from hyperfine, peak RSS from /usr/bin/time);
# paste them into bench/RESULTS.md under "Queries".
set -euo pipefail
default_runs=5
default_work=bench-query
source "$(dirname "$0")/lib.sh"
# Baseline inputs: the decompressed files (rg), and each file at zstd -3 (zstdcat | rg).
raw=$work/raw-$size-$seed
zst=$work/zst-$size-$seed
if [ ! -d "$raw" ]; then
  mkdir -p "$raw.tmp" "$zst"
  for f in "$corpus"/*; do
    name=$(basename "$f")
    case "$name" in
      ground-truth.json) continue ;;
      *.gz) gzip -dc "$f" > "$raw.tmp/${name%.gz}" ;;
      *) cp "$f" "$raw.tmp/$name" ;;
    esac
  done
  for f in "$raw.tmp"/*; do zstd -3 -q -f "$f" -o "$zst/$(basename "$f").zst"; done
  mv "$raw.tmp" "$raw"
fi
if [ ! -d "$index" ]; then
  /usr/bin/time -f "ingest: %e s, max RSS %M KB" "$sipdex" ingest --index "$index" \
    $(find "$corpus" -type f ! -name ground-truth.json | LC_ALL=C sort) > "$work/ingest.txt" 2>&1 ||
    { cat "$work/ingest.txt"; exit 1; }
fi
raw_bytes=$(du -cb "$raw" | tail -1 | cut -f1)
bench_stamp
echo "corpus: sipdex-gen --size $size --seed $seed: $(ls "$raw" | wc -l) files, $raw_bytes bytes decompressed"
grep -E "^ingest:" "$work/ingest.txt" || true

day=$(jq -r '.time.first[0:10]' "$corpus/ground-truth.json")
day2=$(date -u -d "$day + 1 day" +%Y-%m-%d)
call_id=$(jq -r '.stuck_subscriptions.call_ids[0]' "$corpus/ground-truth.json")

# mean seconds of a command (hyperfine), then its peak RSS (one more run under /usr/bin/time)
measure() {
  local name=$1; shift
  local json=$work/hyperfine.json
  hyperfine --style none --warmup 1 --runs "$runs" --export-json "$json" -- "$*" >/dev/null
  local mean
  mean=$(jq -r '.results[0].mean' "$json")
  local usage rss cpu
  usage=$( { /usr/bin/time -f "%M %U %S" bash -c "$* > /dev/null" ; } 2>&1 | tail -1)
  rss=$(echo "$usage" | cut -d' ' -f1)
  cpu=$(echo "$usage" | awk '{print ($2 + $3) * 1000}')
  printf '%-38s %9.1f ms wall  %7.0f ms cpu  peak RSS %6.1f MiB   %s\n' "$name" "$(echo "$mean * 1000" | bc -l)" \
    "$cpu" "$(echo "$rss / 1024" | bc -l)" "$*"
  last_mean=$mean
}

q() { printf "%s query --index %q %q --format csv" "$sipdex" "$index" "$1"; }

echo "-- opening the index and one postings lookup (the floor of any query)"
measure "--explain call_id = <stuck call>" "$(q "call_id = $call_id") --explain"
echo "-- selective queries (postings + time map)"
measure "call_id = <stuck call>" "$(q "call_id = $call_id")"
measure "diag = 2157 and on DAY" "$(q "diag = 2157 and on $day2")"
measure "diag = 2157 and on DAY | count" "$(q "diag = 2157 and on $day2 | count")"

echo "-- all 2157 refusals by day, against rg -c on the decompressed files"
measure "sipdex: canonical refusals | count by day" \
  "$(q 'method in (SUBSCRIBE, NOTIFY) and (diag = 2157 or resource.diag = 2157) | count by day')"
canonical=$last_mean
measure "sipdex: refusals | count by day" \
  "$(q '(diag = 2157 or resource.diag = 2157) | count by day')"
ours=$last_mean
measure "rg -c (same refusals, per file)" \
  "rg -c --no-messages -e 'ms-diagnostics(-public)?: *2157|msDiagCode=\"2157\"' $raw"
echo "   ratio sipdex / rg: $(echo "$ours / $last_mean" | bc -l | cut -c1-5) (goal <= 0.5)"
echo "   ratio canonical / rg: $(echo "$canonical / $last_mean" | bc -l | cut -c1-5) (goal <= 0.5)"

echo "-- 2157 in ms-diagnostics headers by day (exact postings: counted without decoding whole days)"
measure "sipdex: diag = 2157 | count by day" "$(q 'diag = 2157 | count by day')"
ours=$last_mean
measure "rg -c 'ms-diagnostics(-public)?: *2157'" \
  "rg -c --no-messages -e 'ms-diagnostics(-public)?: *2157' $raw"
echo "   ratio sipdex / rg: $(echo "$ours / $last_mean" | bc -l | cut -c1-5) (goal <= 0.5)"

echo "-- unindexed text search, against zstdcat | rg over zstd -3 files"
needle=${NEEDLE:-SIPPROXY_E_ROUTING}
measure "sipdex: text contains | count" "$(q "text contains \"$needle\" | count")"
ours=$last_mean
measure "zstdcat *.zst | rg -c" "zstdcat $zst/*.zst | rg -c $needle"
baseline=$last_mean
echo "   ratio sipdex / zstdcat|rg: $(echo "$ours / $baseline" | bc -l | cut -c1-5) (goal <= 1)"
# Other shapes of the same scan (rows, body, a regex, with an indexed predicate), against the same baseline.
for search in "text contains \"$needle\"" "body contains \"$needle\" | count" "text =~ \"$needle\" | count" \
              "kind = diagnostic and text contains \"$needle\" | count" \
              "method = SUBSCRIBE and text contains \"2157\" | count"; do
  measure "sipdex: $search" "$(q "$search")"
  echo "   ratio sipdex / zstdcat|rg: $(echo "$last_mean / $baseline" | bc -l | cut -c1-5)"
done

echo "-- other shapes"
measure "resource.diag = 2157 | count distinct" "$(q 'resource.diag = 2157 | count distinct resource.uri by from.uri')"
measure "stuck app SUBSCRIBEs (response exists)" \
  "$(q "type = request and method = SUBSCRIBE and on $day2 and not response exists | count")"
measure "kind = diagnostic | sort | limit 5" "$(q 'kind = diagnostic | sort time desc | limit 5')"
