#!/usr/bin/env bash
# A damaged index: for each kind of file in the index directory (files
# grouped by extension, or by the name before "-" for MANIFEST-000005 and the
# like; the info log LOG* and the LOCK file are skipped), the largest one gets
# 64 bytes inverted in its middle, in a copy of an intact index. Then:
#   - `verify` exits 1 and prints what is damaged; or, for a file no answer
#     depends on, exits 0 and then every export and query gives the intact
#     answer; the largest file (records) and at least two kinds are detected;
#   - every command touching the damage fails with exit 1 and an "error:"
#     line, never crashes, and never answers wrongly: each file's `export` is
#     either byte-exact or fails; a query either gives the intact answer or
#     fails;
#   - what is not damaged still answers: at least one file still exports
#     byte-exact unless the index cannot be opened at all (then every command
#     says so).
# The recovery path (ARCHITECTURE.md): ingest the original files into a new
# index; this test checks it gives back the intact answers.
source "$(dirname "$0")/lib.sh"

if [ "$LONG" = 1 ]; then size=32MB; else size=6MB; fi
corpus="$WORK/corpus"
generate "$corpus" "$size" 23
expected_export "$corpus" "$WORK/expected"
intact="$WORK/intact"
ingest ingest "$intact" "$corpus"
expect_rc ingest 0
verify_ok "$intact"

queries=(
  'file exists | count by file'
  'method = SUBSCRIBE and status = 403 | count by diag'
  'text contains "2157" | count'
  'resource.diag = 2157 | count distinct resource.uri'
)
answers() {  # answers INDEX PREFIX: runs every query, keeps stdout and exit code
  local i
  for i in "${!queries[@]}"; do
    run "$2.q$i" "$SIPDEX" query --index "$1" "${queries[$i]}" --format csv
    echo "$RC" >"$WORK/$2.q$i.rc"
  done
}
answers "$intact" intact
for i in "${!queries[@]}"; do
  [ "$(cat "$WORK/intact.q$i.rc")" = 0 ] || fail "query '${queries[$i]}' fails on the intact index"
done
files=$(tail -n +2 "$WORK/intact.q0.out" | cut -d, -f1)

# invert FILE OFFSET N: flips every bit of N bytes at OFFSET, in place.
invert() {
  perl -e 'my ($f, $o, $n) = @ARGV; open(my $h, "+<:raw", $f) or die "$f: $!";
           seek($h, $o, 0); read($h, my $b, $n); $b = ~$b; seek($h, $o, 0); print $h $b; close($h) or die;' "$1" "$2" "$3"
}

# The kinds of data files, and the largest of each.
declare -A largest=()
while IFS= read -r -d '' f; do
  base=$(basename "$f")
  case "$base" in LOCK | LOG | LOG.*) continue ;; esac
  [ -s "$f" ] || continue
  if [[ "$base" == *.* ]]; then kind=${base##*.}; else kind=${base%%-*}; fi
  size_f=$(stat -c %s "$f")
  if [ -z "${largest[$kind]:-}" ] || [ "$size_f" -gt "$(stat -c %s "${largest[$kind]}")" ]; then
    largest[$kind]=$f
  fi
done < <(find "$intact" -type f -print0)
[ "${#largest[@]}" -ge 2 ] || fail "expected several kinds of files in the index, found: ${!largest[*]}"

summary=""
detected=0
for kind in $(printf '%s\n' "${!largest[@]}" | LC_ALL=C sort); do
  src=${largest[$kind]}
  rel=${src#"$intact"/}
  damaged="$WORK/damaged-$kind"
  rm -rf "$damaged"
  cp -a "$intact" "$damaged"
  fsize=$(stat -c %s "$damaged/$rel")
  n=64
  [ "$fsize" -gt 128 ] || n=$((fsize / 2 > 0 ? fsize / 2 : 1))
  invert "$damaged/$rel" $((fsize / 2)) "$n"

  run "verify-$kind" "$SIPDEX" verify --index "$damaged"
  verify_rc=$RC
  if [ "$verify_rc" = 1 ]; then
    said=$(cat "$WORK/verify-$kind.out" "$WORK/verify-$kind.err" | grep -iE 'damaged|corrupt|checksum|error' | sed -n 1p)
    [ -n "$said" ] || fail "verify of a damaged $kind file exits 1 without naming the damage"
    detected=$((detected + 1))
  else
    # Only acceptable for a file whose bytes no answer depends on (checked below).
    expect_rc "verify-$kind" 0
    said="not reported"
  fi

  # Exports: byte-exact or a clear failure, never wrong bytes.
  exported=0
  refused=0
  ok_file=""
  bad_file=""
  for name in $files; do
    run "export-$kind" "$SIPDEX" export --index "$damaged" --file "$name"
    if [ "$RC" = 0 ]; then
      cmp -s "$WORK/export-$kind.out" "$WORK/expected/$(basename "${name%.gz}")" ||
        fail "export of $name from an index with a damaged $kind file exits 0 with wrong bytes"
      exported=$((exported + 1))
      ok_file=${ok_file:-$name}
    else
      expect_rc "export-$kind" 1
      grep -q '^error: ' "$WORK/export-$kind.err" || fail "export of $name fails without an error line"
      refused=$((refused + 1))
      bad_file=${bad_file:-$name}
    fi
  done
  # A query over one undamaged file answers; over the damaged one it fails
  # clearly or answers right.
  per_file_q=""
  if [ -n "$ok_file" ] && [ -n "$bad_file" ]; then
    for name in "$ok_file" "$bad_file"; do
      q="file = \"$name\" and text contains \"SIP/2.0\" | count"
      run "pf-intact" "$SIPDEX" query --index "$intact" "$q"
      expect_rc pf-intact 0
      run "pf-$kind" "$SIPDEX" query --index "$damaged" "$q"
      if [ "$RC" = 0 ]; then
        cmp -s "$WORK/pf-$kind.out" "$WORK/pf-intact.out" || fail "query '$q' with a damaged $kind file answers wrongly"
        per_file_q+=" $name: answered;"
      else
        [ "$name" = "$bad_file" ] || fail "query '$q' touches no damaged segment but fails: $(head -2 "$WORK/pf-$kind.err")"
        expect_rc "pf-$kind" 1
        grep -q '^error: ' "$WORK/pf-$kind.err" || fail "query '$q' fails without an error line"
        per_file_q+=" $name: $(head -1 "$WORK/pf-$kind.err");"
      fi
    done
  fi
  # Queries: the intact answer, or exit 1 with an error line.
  answers "$damaged" "d-$kind"
  answered=0
  for i in "${!queries[@]}"; do
    rc=$(cat "$WORK/d-$kind.q$i.rc")
    if [ "$rc" = 0 ]; then
      cmp -s "$WORK/d-$kind.q$i.out" "$WORK/intact.q$i.out" ||
        fail "query '${queries[$i]}' on a damaged $kind file exits 0 with a wrong answer: $(diff "$WORK/intact.q$i.out" "$WORK/d-$kind.q$i.out" | head -4)"
      answered=$((answered + 1))
    else
      [ "$rc" = 1 ] || fail "query '${queries[$i]}' on a damaged $kind file exits $rc (want 0 or 1)"
      grep -q '^error: ' "$WORK/d-$kind.q$i.err" || fail "query '${queries[$i]}' fails without an error line"
    fi
  done
  if [ "$verify_rc" = 0 ] && { [ "$refused" != 0 ] || [ "$answered" != "${#queries[@]}" ]; }; then
    fail "verify passes with a damaged $kind file ($rel), but exports or queries fail"
  fi
  if [ "$exported" = 0 ] && [ "$answered" = 0 ]; then
    # Nothing answers: acceptable only when the index cannot be opened at all,
    # and every command then says why.
    grep -q '^error: ' "$WORK/verify-$kind.err" ||
      fail "a damaged $kind file ($rel) makes every export and query fail although the index opens"
  fi
  line="$kind ($rel, ${n} bytes at $((fsize / 2))): verify exit $verify_rc [$said]; exports ok $exported, refused $refused; queries answered $answered/${#queries[@]};$per_file_q"
  note "$line"
  summary+="$line"$'\n'
  rm -rf "$damaged"
done

# The largest file of the index holds records: its damage must be found.
biggest=$(find "$intact" -type f -printf '%s %f\n' | sort -n | tail -1 | cut -d' ' -f2)
grep -qF "($biggest," <<<"$summary" || fail "the largest file $biggest was not damaged"
grep -F "($biggest," <<<"$summary" | grep -q 'verify exit 1' || fail "verify does not report damage in $biggest"
[ "$detected" -ge 2 ] || fail "verify reported damage in only $detected kind(s) of files"

# Recovery: a new index from the original files gives the intact answers.
ingest recover "$WORK/recovered" "$corpus"
expect_rc recover 0
answers "$WORK/recovered" recovered
for i in "${!queries[@]}"; do
  cmp -s "$WORK/recovered.q$i.out" "$WORK/intact.q$i.out" || fail "the re-ingested index answers '${queries[$i]}' differently"
done
check_export "$WORK/recovered" "$WORK/expected" corpus
printf '%s' "$summary"
rm -rf "$WORK"
