# Shared setup of the query-side benchmarks (query.sh, report.sh, sequence.sh). Source it after
# setting `default_runs` and `default_work` (a folder name under the build directory):
#   build=BUILD_DIR (first argument, default build/release), size, seed, runs, work, sipdex, gen,
#   corpus, index are set; sipdex and sipdex-gen are built; the corpus is generated when missing.
# Environment: SIZE (default 1GB), SEED (default 7), RUNS, WORK, CORPUS, INDEX (see each script).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build/release}
size=${SIZE:-1GB}
seed=${SEED:-7}
runs=${RUNS:-$default_runs}
work=${WORK:-$build/$default_work}

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target sipdex sipdex-gen >/dev/null ||
  echo "warning: build failed; using the sipdex and sipdex-gen already in $build" >&2
sipdex=$(realpath "$build/cli/sipdex")
gen=$build/corpus/sipdex-gen

mkdir -p "$work"
corpus=${CORPUS:-$work/corpus-$size-$seed}
index=${INDEX:-$work/index-$size-$seed}
if [ ! -f "$corpus/ground-truth.json" ]; then
  rm -rf "$corpus" "$index"
  "$gen" -q --size "$size" --seed "$seed" --out "$corpus"
fi

# Prints the date, commit, cores and load average: every figure is recorded with them.
bench_stamp() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD)  cores: $(nproc)  load: $(cut -d' ' -f1 /proc/loadavg)"
}
