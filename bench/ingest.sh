#!/usr/bin/env bash
# Ingest and storage benchmark: sipdex ingest against zstd and xz on the same bytes.
#   bench/ingest.sh [BUILD_DIR]      (default build/release; builds sipdex and sipdex-gen there)
# Environment: SIZE (default 1GB), SEED (default 7), WORK (default BUILD_DIR/bench-ingest),
#   THREADS (default 2), SLOW=0 skips the slow baselines (zstd -19 --long=27, xz -9).
# Prints one line per figure; paste them into bench/RESULTS.md under "Ingest and storage".
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
size=${SIZE:-1GB}
seed=${SEED:-7}
threads=${THREADS:-2}
slow=${SLOW:-1}
work=${WORK:-$build/bench-ingest}

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target sipdex sipdex-gen >/dev/null ||
  echo "warning: build failed; using the sipdex and sipdex-gen already in $build" >&2
sipdex=$build/cli/sipdex
gen=$build/corpus/sipdex-gen

mkdir -p "$work"
corpus=$work/corpus-$size-$seed
if [ ! -f "$corpus/ground-truth.json" ]; then
  rm -rf "$corpus"
  "$gen" -q --size "$size" --seed "$seed" --out "$corpus"
fi

# The concatenated, decompressed corpus: what the baselines compress.
raw=$work/corpus-$size-$seed.raw
if [ ! -f "$raw" ]; then
  find "$corpus" -type f ! -name ground-truth.json | LC_ALL=C sort | while read -r f; do
    case "$f" in
      *.gz) gzip -dc "$f" ;;
      *.zst) zstd -dcq "$f" ;;
      *) cat "$f" ;;
    esac
  done > "$raw"
fi
raw_bytes=$(stat -c %s "$raw")
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD)  cores: $(nproc)"
echo "corpus: sipdex-gen --size $size --seed $seed: $(find "$corpus" -type f ! -name ground-truth.json | wc -l) files, $raw_bytes bytes decompressed"

# seconds and bytes of one compressor run
baseline() {
  local name=$1; shift
  local out=$work/baseline.out
  local t0 t1
  t0=$(date +%s.%N)
  "$@" < "$raw" > "$out"
  t1=$(date +%s.%N)
  local bytes
  bytes=$(stat -c %s "$out")
  printf '%-22s %12d bytes  %8.2f s  ratio %.2f\n' "$name" "$bytes" "$(echo "$t1 - $t0" | bc)" \
    "$(echo "$raw_bytes / $bytes" | bc -l)"
  rm -f "$out"
  last_bytes=$bytes
}

baseline "zstd -3 -T1" zstd -3 -T1 -c -q
zstd3=$last_bytes
if [ "$slow" = 1 ]; then
  baseline "zstd -19 --long=27" zstd -19 --long=27 -T"$threads" -c -q
  zstd19=$last_bytes
  baseline "xz -9" xz -9 -T"$threads" -c
else
  zstd19=0
fi

index=$work/index
rm -rf "$index"
mapfile -t logs < <(find "$corpus" -type f ! -name ground-truth.json | LC_ALL=C sort)
/usr/bin/time -v "$sipdex" ingest --index "$index" --threads "$threads" "${logs[@]}" > "$work/ingest.out" 2> "$work/ingest.time"
wall=$(grep "Elapsed (wall clock)" "$work/ingest.time" | awk '{print $NF}')
user=$(grep "User time" "$work/ingest.time" | awk '{print $NF}')
sys=$(grep "System time" "$work/ingest.time" | awk '{print $NF}')
rss=$(grep "Maximum resident set size" "$work/ingest.time" | awk '{print $NF}')
echo "load average before ingest: $(cut -d' ' -f1-3 /proc/loadavg); cpu: ${user} s user + ${sys} s sys"
index_bytes=$(du -sb "$index" | awk '{print $1}')
echo "sipdex ingest: wall $wall, max RSS $((rss / 1024)) MB, index $index_bytes bytes (ratio $(echo "$raw_bytes / $index_bytes" | bc -l | cut -c1-5))"
printf 'index / zstd -3: %.3f' "$(echo "$index_bytes / $zstd3" | bc -l)"
if [ "$zstd19" != 0 ]; then printf '   index / zstd -19 --long=27: %.3f' "$(echo "$index_bytes / $zstd19" | bc -l)"; fi
echo
sed 's/^/  /' "$work/ingest.out"
"$sipdex" stats --postings --index "$index" | grep -E "stored|ratio|postings" | head -12 | sed 's/^/  /'

# show latency: Call-IDs from the ground truth (stuck subscriptions), through the call_id postings.
call_ids=$(python3 -c "import json,sys; d=json.load(open('$corpus/ground-truth.json')); print(' '.join(d['stuck_subscriptions']['call_ids'][:5]))")
for id in $call_ids; do
  "$sipdex" show --index "$index" "$id" > /dev/null
done
if command -v hyperfine > /dev/null; then
  first=${call_ids%% *}
  hyperfine -N --warmup 3 --runs 30 --style basic "$sipdex show --index $index $first" 2>&1 | grep -E "Time|Range"
else
  t0=$(date +%s%N)
  for id in $call_ids; do "$sipdex" show --index "$index" "$id" > /dev/null; done
  t1=$(date +%s%N)
  echo "sipdex show: $(( (t1 - t0) / 5000000 )) ms per call (5 calls, process start included)"
fi
