#!/usr/bin/env bash
# Concurrent use while a nightly ingest runs:
#   - `query`, `stats` and `report` in a loop never fail, and every answer is a
#     committed state: the record count only grows, and each file is either
#     absent or has all of its records (the count it has at the end);
#   - a second `ingest` into the same index at the same time either waits and
#     then adds nothing twice, or refuses with exit 2 and a message saying the
#     index is busy.
source "$(dirname "$0")/lib.sh"

# Big enough that the ingest outlasts several query loops on a fast idle machine
# (ingest runs at about 60 MB/s on one thread).
if [ "$LONG" = 1 ]; then size=256MB; else size=64MB; fi
corpus="$WORK/corpus"
generate "$corpus" "$size" 17
idx="$WORK/idx"
# The index exists before the loop starts (one small file), so every reader
# finds one.
# (a glob, not `ls | head`: under pipefail, head closing early can kill ls with SIGPIPE)
logs=("$corpus"/*.log)
first=${logs[0]}
run seed_ingest "$SIPDEX" ingest --index "$idx" "$first"
expect_rc seed_ingest 0

# Reports in a loop of their own (a report takes longer than a query).
week=$(date -u -d "$(jq -r '.time.first' "$corpus/ground-truth.json" | cut -c1-10)" +%G-W%V)
(
  i=0
  while [ ! -e "$WORK/stop" ]; do
    i=$((i + 1))
    set +e
    "$SIPDEX" report --index "$idx" --week "$week" --format json >"$WORK/report.$i.out" 2>"$WORK/report.$i.err"
    echo "$? $i" >>"$WORK/report.rc"
    set -e
  done
) &
report_pid=$!
# However the test ends, the report loop stops.
trap 'touch "$WORK/stop"; wait "$report_pid" 2>/dev/null || true' EXIT
# Commit groups of 4 MB, so that readers see the index grow file group by group.
"$SIPDEX" ingest --index "$idx" --threads 1 --commit-mb 4 "$corpus" >"$WORK/main.out" 2>"$WORK/main.err" &
main_pid=$!
sleep 0.05
# A second writer while the first runs.
run second "$SIPDEX" ingest --index "$idx" "$corpus"
second_rc=$RC
if [ "$second_rc" -ne 0 ]; then
  expect_rc second 2
  grep -qiE 'busy|locked|another' "$WORK/second.err" ||
    fail "the second ingest refused without saying the index is busy: $(head -3 "$WORK/second.err")"
  note "second ingest refused: $(head -1 "$WORK/second.err")"
else
  note "second ingest waited and succeeded"
fi

last_total=0
loops=0
: >"$WORK/seen.csv"
while kill -0 "$main_pid" 2>/dev/null; do
  loops=$((loops + 1))
  run q "$SIPDEX" query --index "$idx" 'file exists | count by file' --format csv
  expect_rc q 0
  tail -n +2 "$WORK/q.out" | tr -d '\r' >>"$WORK/seen.csv"
  total=$(awk -F, 'NR > 1 { n += $NF } END { print n + 0 }' "$WORK/q.out")
  [ "$total" -ge "$last_total" ] || fail "record count went down while ingesting: $last_total then $total"
  last_total=$total
  run s "$SIPDEX" stats --index "$idx"
  expect_rc s 0
  n=$(awk '$1 == "records:" { print $2 }' "$WORK/s.out")
  [ "$n" -ge "$total" ] || fail "stats shows $n records after a query counted $total"
  run c "$SIPDEX" query --index "$idx" 'method = SUBSCRIBE and status = 403 | count by diag'
  expect_rc c 0
done
touch "$WORK/stop"
wait "$report_pid"
trap - EXIT
set +e
wait "$main_pid"
main_rc=$?
set -e
RC=$main_rc
check_no_crash main
expect_rc main 0
[ "$loops" -ge 2 ] || fail "only $loops query loops ran during the ingest: corpus too small for this machine"

reports=0
while read -r rc i; do
  RC=$rc
  check_no_crash "report.$i"
  expect_rc "report.$i" 0
  jq -e . "$WORK/report.$i.out" >/dev/null || fail "report $i during the ingest is not valid JSON"
  reports=$((reports + 1))
done <"$WORK/report.rc"

verify_ok "$idx"
check_kinds "$idx" "$corpus"
per_file "$idx" "$WORK/final.csv"
# Every count seen during the ingest is the file's final count.
LC_ALL=C sort -u "$WORK/seen.csv" >"$WORK/seen-u.csv"
while IFS=, read -r name n; do
  grep -qxF "$name,$n" "$WORK/final.csv" ||
    fail "a query during the ingest saw $n records of $name; it ends with $(grep -F "$name," "$WORK/final.csv")"
done <"$WORK/seen-u.csv"
if [ "$second_rc" -eq 0 ]; then
  # The waiting writer must not have added anything twice (checked by check_kinds above).
  note "no duplicates after the waiting second ingest"
fi
note "$loops loops of query and stats, $reports reports during the ingest; $(wc -l <"$WORK/seen-u.csv") distinct per-file states seen, all committed"
rm -rf "$WORK"
