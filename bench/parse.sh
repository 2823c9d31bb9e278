#!/usr/bin/env bash
# Parse throughput on one core against `zstd -3 -T1` on the same bytes.
#   bench/parse.sh [BUILD_DIR]     (default build/release; builds sipdex and sipdex-gen there)
# Environment: SIZE (default 1GB), SEED (default 11), WORK (default BUILD_DIR/bench-parse),
#   RUNS (default 3: each command is timed RUNS times, the fastest run is kept).
#
# 1. Builds one plain file of at least SIZE: the generator's output (sipdex-gen --size SIZE --seed SEED,
#    gzip files decompressed, all files concatenated in name order); without a generator binary, the
#    fixture logs of corpus/fixtures concatenated until SIZE is reached.
# 2. Times `sipdex inspect --format summary --threads 1 FILE` and `zstd -3 -T1 -c FILE >/dev/null`
#    with /usr/bin/time (wall, user, sys, max RSS) and prints MB/s for each, both per wall second and
#    per CPU second (user + sys): on a shared machine the CPU figure is the per-core speed.
# Prints one line per figure; paste them into bench/RESULTS.md under "Parse throughput".
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
size=${SIZE:-1GB}
seed=${SEED:-11}
runs=${RUNS:-3}
work=${WORK:-$build/bench-parse}

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target sipdex >/dev/null
cmake --build "$build" --target sipdex-gen >/dev/null 2>&1 || true
sipdex=$build/cli/sipdex
gen=$build/corpus/sipdex-gen
mkdir -p "$work"
file=$work/corpus.log

want=$(numfmt --from=si "${size%B}")
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -lt "$want" ]; then
  rm -f "$file"
  if [ -x "$gen" ]; then
    source_desc="sipdex-gen --size $size --seed $seed"
    rm -rf "$work/gen"
    "$gen" -q --size "$size" --seed "$seed" --out "$work/gen"
    find "$work/gen" -type f \( -name '*.log' -o -name '*.log.gz' \) | LC_ALL=C sort | while read -r f; do
      case "$f" in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac
    done >"$file"
    rm -rf "$work/gen"
  else
    source_desc="corpus/fixtures concatenated"
    one=$work/fixtures.log
    for f in corpus/fixtures/*; do
      case "$f" in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac
    done >"$one"
    while [ "$(stat -c %s "$file" 2>/dev/null || echo 0)" -lt "$want" ]; do cat "$one" "$one" "$one" "$one" >>"$file"; done
  fi
  echo "$source_desc" >"$file.source"
fi
bytes=$(stat -c %s "$file")
cat "$file" >/dev/null  # warm the page cache for both tools

# Times "$@" RUNS times; prints "wall user sys rss_kb" of the run with the least user+sys.
best() {
  local out=$work/time.txt best_line="" best_cpu=""
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o "$out" "$@" >/dev/null
    read -r w u s m <"$out"
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
    if [ -z "$best_cpu" ] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then
      best_cpu=$cpu
      best_line="$w $u $s $m"
    fi
  done
  echo "$best_line"
}

report() {  # name wall user sys rss
  awk -v n="$1" -v b="$bytes" -v w="$2" -v u="$3" -v s="$4" -v m="$5" 'BEGIN {
    printf "%-44s wall %6.2f s  user %6.2f s  sys %5.2f s  max RSS %5.0f MB  %6.0f MB/s wall  %6.0f MB/s CPU\n",
           n, w, u, s, m / 1024, b / 1e6 / w, b / 1e6 / (u + s) }'
}

echo "== parse throughput, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $(nproc) cores"
echo "corpus: $bytes bytes ($(cat "$file.source")), best of $runs runs"
read -r w u s m < <(best "$sipdex" inspect --format summary --threads 1 "$file")
report "sipdex inspect --format summary --threads 1" "$w" "$u" "$s" "$m"
sipdex_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
sipdex_wall=$w
read -r w u s m < <(best zstd -3 -T1 -q -c "$file")
report "zstd -3 -T1 -c FILE >/dev/null" "$w" "$u" "$s" "$m"
zstd_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
awk -v a="$sipdex_cpu" -v b="$zstd_cpu" -v wa="$sipdex_wall" -v wb="$w" 'BEGIN {
  printf "sipdex parse / zstd -3 speed: %.2fx per CPU second, %.2fx per wall second\n", b / a, wb / wa }'
"$sipdex" inspect --format summary --threads 1 "$file" | head -1
