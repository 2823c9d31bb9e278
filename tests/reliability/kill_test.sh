#!/usr/bin/env bash
# SIGKILL during ingest, at random moments (>= 20 kills; SIPDEX_LONG=1: >= 60):
#   - half of the rounds kill the first ingest of a corpus;
#   - the other half kill a second ingest that appends the second half of
#     every file to an index already holding the first half (appends, manifest
#     updates, the final flush of the write-ahead log into tables).
# After every kill: `verify` exits 0, every file's record count is one of its
# committed states (nothing, the first half, everything: never part of a
# part), then re-ingesting the same folder finishes the job: per-file counts
# equal an uninterrupted ingest, kind counts equal the generator's ground
# truth, and `export` gives every file back byte for byte.
source "$(dirname "$0")/lib.sh"

if [ "$LONG" = 1 ]; then size=24MB; want_kills=60; else size=3MB; want_kills=20; fi
RANDOM=20140716

full="$WORK/full"
half="$WORK/half"
generate "$full" "$size" 11
# The first half of each plain file, cut after the $$end_record line nearest
# its middle (so the appended part starts with a record); compressed files are
# taken whole (they are then unchanged in the second ingest).
mkdir -p "$half"
for f in "$full"/*; do
  base=$(basename "$f")
  case "$base" in
    *.json) ;;
    *.log)
      lines=$(wc -l <"$f")
      cut=$(awk -v mid=$((lines / 2)) '/^\$\$end_record/ && NR >= mid { print NR; exit }' "$f")
      if [ -n "$cut" ]; then head -n "$cut" "$f" >"$half/$base"; else cp "$f" "$half/$base"; fi
      ;;
    *) cp "$f" "$half/$base" ;;
  esac
done
expected_export "$full" "$WORK/expected"

# References: uninterrupted ingests of the half and of the whole corpus, from
# the folder every round ingests ($work), so that stored names are the same.
work="$WORK/nightly"
idx="$WORK/idx"
rm -rf "$work" && cp -r "$full" "$work"
t0=$(now_ms)
ingest ref_full "$WORK/ref-full" "$work"
expect_rc ref_full 0
full_ms=$(($(now_ms) - t0))
check_kinds "$WORK/ref-full" "$full"
per_file "$WORK/ref-full" "$WORK/ref-full.csv"
rm -rf "$work" && cp -r "$half" "$work"
ingest ref_half "$WORK/ref-half" "$work"
expect_rc ref_half 0
per_file "$WORK/ref-half" "$WORK/ref-half.csv"
note "uninterrupted ingest: ${full_ms} ms, $(wc -l <"$WORK/ref-full.csv") files"

# check_states INDEX: every file's count is one of its committed states.
check_states() {
  local name n
  per_file "$1" "$WORK/now.csv"
  while IFS=, read -r name n; do
    grep -qxF "$name,$n" "$WORK/ref-full.csv" && continue
    grep -qxF "$name,$n" "$WORK/ref-half.csv" && continue
    fail "after a kill, $name has $n records: neither of its committed states ($(grep -F "$name," "$WORK/ref-half.csv" "$WORK/ref-full.csv" | tr '\n' ' '))"
  done <"$WORK/now.csv"
}

# kill_ingest INDEX DIR MAX_MS: starts an ingest, SIGKILLs it after a random
# delay in [5, MAX_MS] ms. Sets KILLED=1 when it was still running.
kill_ingest() {
  local delay=$((5 + (RANDOM * 32768 + RANDOM) % $3))
  env -C "$(dirname "$2")" "$SIPDEX" ingest --index "$1" "$(basename "$2")" >"$WORK/killed.out" 2>"$WORK/killed.err" &
  local pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  if kill -KILL "$pid" 2>/dev/null; then KILLED=1; else KILLED=0; fi
  set +e
  { wait "$pid"; } 2>/dev/null
  RC=$?
  set -e
  if [ "$KILLED" = 1 ] && [ "$RC" -ne 137 ]; then KILLED=0; fi  # it ended just before the signal
  if [ "$KILLED" = 0 ]; then
    check_no_crash killed
    expect_rc killed 0
  fi
  LAST_DELAY=$delay
}

kills=0
round=0
while [ "$kills" -lt "$want_kills" ]; do
  round=$((round + 1))
  [ "$round" -le $((want_kills * 4)) ] || fail "only $kills kills in $((round - 1)) rounds: ingest too fast to interrupt"
  rm -rf "$idx" "$work"
  cp -r "$half" "$work"
  if [ $((round % 2)) = 0 ]; then
    # Second ingest, of the appended halves.
    ingest first "$idx" "$work"
    expect_rc first 0
    for f in "$full"/*.log; do cp "$f" "$work/"; done
    phase=append
  else
    cp "$full"/* "$work/"
    phase=first
  fi
  kill_ingest "$idx" "$work" $((full_ms + 50))
  [ "$KILLED" = 1 ] && kills=$((kills + 1))
  if [ ! -e "$idx" ]; then
    note "round $round ($phase): killed after ${LAST_DELAY} ms, before the index existed"
  elif ! "$SIPDEX" verify --index "$idx" >"$WORK/v.out" 2>"$WORK/v.err" &&
    grep -q '^error: no index at ' "$WORK/v.err"; then
    # Killed while the index was being created: readers see no index (exit 2)
    # and the next ingest starts it again.
    note "round $round ($phase): killed after ${LAST_DELAY} ms, while the index was created: $(cat "$WORK/v.err")"
  else
    verify_ok "$idx"
    check_states "$idx"
    note "round $round ($phase): killed=$KILLED after ${LAST_DELAY} ms; $(stats_records "$idx") records visible, verify ok"
  fi
  # Finishing the job gives exactly the uninterrupted result.
  ingest again "$idx" "$work"
  expect_rc again 0
  per_file "$idx" "$WORK/final.csv"
  cmp -s "$WORK/final.csv" "$WORK/ref-full.csv" ||
    fail "round $round: re-ingest after the kill differs from an uninterrupted ingest: $(diff "$WORK/ref-full.csv" "$WORK/final.csv" | head -5)"
  if [ $((round % 5)) = 0 ]; then
    verify_ok "$idx"
    check_kinds "$idx" "$full"
    check_export "$idx" "$WORK/expected" nightly
  fi
done
verify_ok "$idx"
check_kinds "$idx" "$full"
check_export "$idx" "$WORK/expected" nightly
note "$kills kills in $round rounds; every round verified, re-ingested to the ground truth"
rm -rf "$WORK"
