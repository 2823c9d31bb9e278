# Helpers of the reliability tests (sourced by each *_test.sh, never run).
#
# Every test drives the `sipdex` command line only: no index internals, no
# file names inside the index directory except where a test damages files
# picked generically (largest file of each kind).
#
# Environment (set by tests/reliability/CMakeLists.txt, or by hand):
#   SIPDEX       the sipdex binary
#   SIPDEX_GEN   the sipdex-gen binary
#   WORK_ROOT    scratch root; each test uses WORK_ROOT/<test name>, wiped first
#   SIPDEX_LONG  1 = the long version (more kill rounds, bigger corpora, 2 GB file)
set -euo pipefail

: "${SIPDEX:?set SIPDEX to the sipdex binary}"
: "${SIPDEX_GEN:?set SIPDEX_GEN to the sipdex-gen binary}"
: "${WORK_ROOT:?set WORK_ROOT to a scratch directory}"
LONG=${SIPDEX_LONG:-0}
TEST_NAME=$(basename "$0" .sh)
WORK="$WORK_ROOT/$TEST_NAME"
rm -rf "$WORK"
mkdir -p "$WORK"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
unset SIPDEX_INDEX

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
note() { echo "-- $*"; }

# run NAME CMD...: runs CMD with stdout in $WORK/NAME.out and stderr in
# $WORK/NAME.err; sets RC. Fails the test when CMD died of a signal or a
# sanitizer reported anything: bad input and damage must never crash.
run() {
  local name=$1
  shift
  set +e
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  RC=$?
  set -e
  check_no_crash "$name"
}

check_no_crash() {
  local name=$1
  if [ "$RC" -ge 128 ]; then
    tail -20 "$WORK/$name.err" >&2
    fail "$name: killed by signal $((RC - 128))"
  fi
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|terminate called' "$WORK/$name.err"; then
    head -40 "$WORK/$name.err" >&2
    fail "$name: sanitizer report or uncaught exception"
  fi
}

# expect_rc NAME WANT: the last run's exit code must be WANT.
expect_rc() {
  if [ "$RC" -ne "$2" ]; then
    echo "stdout:" >&2
    head -30 "$WORK/$1.out" >&2
    echo "stderr:" >&2
    head -30 "$WORK/$1.err" >&2
    fail "$1: exit $RC, expected $2"
  fi
}

# ingest NAME INDEX DIR [OPTIONS...]: `sipdex ingest` of folder DIR, run from
# DIR's parent so that stored file names are "BASENAME/file" whatever WORK is
# (a folder argument's files are named by the path as given). Sets RC.
ingest() {
  local name=$1 idx=$2 dir=$3
  shift 3
  run "$name" env -C "$(dirname "$dir")" "$SIPDEX" ingest --index "$idx" "$@" "$(basename "$dir")"
}

# generate DIR SIZE SEED: a deterministic corpus with ground-truth.json.
generate() {
  "$SIPDEX_GEN" -q --size "$2" --seed "$3" --days 2 --roll-size 1MB --out "$1"
}

# truth_kind DIR KIND: the generator's record count of one kind.
truth_kind() { jq -r ".records.by_kind.$2" "$1/ground-truth.json"; }

# stats_kind INDEX KIND: the index's record count of one kind (0 when none).
stats_kind() {
  "$SIPDEX" stats --index "$1" | sed -n 's/^records: .*(\(.*\))$/\1/p' | tr ',' '\n' |
    awk -v k="$2" '$2 == k { n = $1 } END { print n + 0 }'
}

# stats_records INDEX: all records of the index.
stats_records() { "$SIPDEX" stats --index "$1" | awk '$1 == "records:" { print $2 }'; }

# per_file INDEX OUT: "file,count" lines (csv has CRLF ends: dropped), sorted,
# of every committed record.
per_file() {
  "$SIPDEX" query --index "$1" 'file exists | count by file' --format csv | tail -n +2 | tr -d '\r' |
    LC_ALL=C sort >"$2"
}

# check_kinds INDEX CORPUS: protocol, diagnostic and other counts equal the
# generator's ground truth.
check_kinds() {
  local k want got
  for k in protocol diagnostic other; do
    want=$(truth_kind "$2" "$k")
    got=$(stats_kind "$1" "$k")
    [ "$want" = "$got" ] || fail "$1: $got $k records, ground truth says $want"
  done
}

# expected_export CORPUS OUT: what `export -o` must give back for a corpus
# folder: every log file's decompressed bytes under its name without .gz/.zst.
expected_export() {
  local f base
  mkdir -p "$2"
  for f in "$1"/*; do
    base=$(basename "$f")
    case "$base" in
      *.json) ;;
      *.gz) gzip -dc "$f" >"$2/${base%.gz}" ;;
      *.zst) zstd -qdc "$f" >"$2/${base%.zst}" ;;
      *) cp "$f" "$2/$base" ;;
    esac
  done
}

# check_export INDEX EXPECTED SUBDIR: `export -o OUT` gives back exactly the
# files of EXPECTED (an expected_export folder) under OUT/SUBDIR (the folder
# name they were ingested from), byte for byte. Empty files may be absent
# (nothing was stored for them).
check_export() {
  local out="$WORK/export.$$.$RANDOM" f
  run export "$SIPDEX" export --index "$1" -o "$out"
  expect_rc export 0
  for f in "$2"/*; do
    if [ ! -s "$f" ] && [ ! -e "$out/$3/$(basename "$f")" ]; then continue; fi
    cmp -s "$f" "$out/$3/$(basename "$f")" || fail "export of $(basename "$f") differs from the input"
  done
  [ "$(ls "$out")" = "$3" ] || fail "export wrote $(ls "$out" | tr '\n' ' ') under -o, expected only $3"
  for f in "$out/$3"/*; do
    [ -e "$2/$(basename "$f")" ] || fail "export wrote $(basename "$f"), which was never ingested"
  done
  rm -rf "$out"
}

# verify_ok INDEX: `verify` exits 0.
verify_ok() {
  run verify "$SIPDEX" verify --index "$1"
  expect_rc verify 0
}

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }
