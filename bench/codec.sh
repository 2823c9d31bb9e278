#!/usr/bin/env bash
# Segment codec figures: zstd baselines on the concatenated corpus, then the
# segment codecs over the same bytes cut into segments the way ingest cuts them
# (framer batches of 8 MB of one file, parsed for record times), with sizes,
# CPU throughput, point-read latency and a byte-for-byte check of every segment.
#
# usage: bench/codec.sh CORPUS_DIR ALL_LOG [--skip-19] [--build DIR]
#   CORPUS_DIR  the corpus folder (plain and .gz logs)
#   ALL_LOG     the same bytes concatenated (for the zstd baselines)
#   --skip-19   reuse the cached `zstd -19 --long=27` size (it takes ~9 minutes)
#   --build DIR a build tree holding tests/bench/codec_bench (default build/release)
set -euo pipefail
corpus=$1
all=$2
shift 2
skip19=0
build=build/release
while [ $# -gt 0 ]; do
  case $1 in
    --skip-19) skip19=1 ;;
    --build) build=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
bench="$build/tests/bench/codec_bench"
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build --target codec_bench)" >&2; exit 2; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/sipdex-bench"
mkdir -p "$cache"
key=$(stat -c '%s-%Y' "$all")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timed() {  # timed LABEL command...: prints "LABEL: wall user sys maxrss"
  local label=$1
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@"
  read -r wall user sys rss < "$tmp/time"
  echo "$label: ${wall} s wall, ${user} s user, ${sys} s sys, ${rss} KB max RSS"
}

raw=$(stat -c %s "$all")
echo "== corpus: $raw bytes; $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%FT%TZ)"
echo "== zstd -3 -T1"
timed "zstd -3 -T1" zstd -3 -T1 -q -c "$all" -o "$tmp/all.zst" -f
echo "size $(stat -c %s "$tmp/all.zst") bytes"
rm -f "$tmp/all.zst"
echo "== zstd -19 --long=27"
if [ "$skip19" = 1 ] && [ -f "$cache/zstd19-$key" ]; then
  echo "size $(cat "$cache/zstd19-$key") bytes (cached)"
else
  timed "zstd -19 --long=27 -T1" zstd -19 --long=27 -T1 -q -c "$all" -o "$tmp/all.zst19" -f
  stat -c %s "$tmp/all.zst19" | tee "$cache/zstd19-$key" | sed 's/^/size /; s/$/ bytes/'
  rm -f "$tmp/all.zst19"
fi
for args in "--codec 1 --level 3" "--codec 2 --level 3" "--codec 2 --level 5"; do
  echo "== codec_bench $args (8 MB segments, 1 MB chunks, 20 point reads per segment)"
  # shellcheck disable=SC2086
  timed "codec_bench $args" "$bench" $args --points 20 "$corpus" | cat
done
