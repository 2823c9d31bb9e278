#!/usr/bin/env bash
# Hostile and odd input files, ingested as one folder next to good files:
#   0-byte file, a 10 MB single line, NUL bytes, invalid UTF-8, CRLF and LF
#   mixed, a truncated .gz, a corrupt .gz, a .zip whose entries are named
#   "../../x" and "/tmp/x", an unreadable file (chmod 000 when not root; a
#   dangling symlink, which root cannot open either), and, with SIPDEX_LONG=1,
#   a 2 GB single file (made from a generated file repeated, deleted after).
# Checks: no crash; the ingest exits 1 (a file could not be read completely)
# and its summary names every problem file and counts it; the good files and
# everything readable are ingested (counts equal the ground truth); export
# gives back the readable files byte for byte and never writes outside -o.
source "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
corpus="$WORK/in"
generate "$WORK/gen" 2MB 31
mkdir -p "$corpus"
cp "$WORK/gen"/*.log* "$corpus/"
gen_logs=("$WORK/gen"/*.log)
one=${gen_logs[0]}
record=$(awk '/^TL_INFO\(TF_PROTOCOL\)/ { on = 1 } on { print } on && /^\$\$end_record/ { exit }' "$one")
[ -n "$record" ] || fail "no protocol record found in the generated corpus"

: >"$corpus/empty.log"
{
  # A 10 MB line inside a record's body, between two ordinary records.
  printf '%s\n' "$record"
  printf '%s\n' "$record" | sed '$d'
  head -c 10485760 /dev/zero | tr '\0' 'x'
  printf '\n$$end_record\n%s\n' "$record"
} >"$corpus/long_line.log"
{
  printf '%s\n' "$record" | sed 's/^Content-Length: 0/Content-Length: \x00\x00\x00/'
  printf 'TL_INFO(TF_PROTOCOL) [0]1.2::07/16/2014-10:17:57.003.1 nul\x00inside\n$$end_record\n'
} >"$corpus/nul_bytes.log"
printf '%s\n' "$record" | sed 's/^To: /To: "\xff\xfe\xc3\x28 caf\xe9" /' >"$corpus/bad_utf8.log"
printf '%s\n' "$record" | sed 's/$/\r/' >"$corpus/mixed_eol.log"
printf '%s\n' "$record" >>"$corpus/mixed_eol.log"
gzip -c "$one" >"$WORK/one.gz"
gz_size=$(stat -c %s "$WORK/one.gz")
head -c $((gz_size / 2)) "$WORK/one.gz" >"$corpus/truncated.log.gz"
cp "$WORK/one.gz" "$corpus/corrupt.log.gz"
perl -e 'open(my $h, "+<:raw", $ARGV[0]) or die; seek($h, $ARGV[1], 0); print $h ("\xA5" x 400); close($h);' \
  "$corpus/corrupt.log.gz" $((gz_size / 3))
cp "$here/data/traversal.zip" "$corpus/traversal.zip"
ln -s "$WORK/does-not-exist.log" "$corpus/dangling.log"
unreadable_expected=dangling.log
if [ "$(id -u)" != 0 ]; then
  printf '%s\n' "$record" >"$corpus/no_permission.log"
  chmod 000 "$corpus/no_permission.log"
  unreadable_expected="dangling.log no_permission.log"
else
  note "running as root: chmod 000 cannot make a file unreadable; the dangling symlink stands for it"
fi
if [ "$LONG" = 1 ]; then
  generate "$WORK/big-src" 100MB 37
  big_src=$(ls -S "$WORK/big-src"/*.log | sed -n 1p)
  reps=$((2147483648 / $(stat -c %s "$big_src") + 1))
  for _ in $(seq "$reps"); do cat "$big_src"; done >"$corpus/big.log"
  note "big.log: $(stat -c %s "$corpus/big.log") bytes"
fi

marker="$WORK/marker"
touch "$marker"
sleep 1
ingest ingest "$WORK/idx" "$corpus"
expect_rc ingest 1
summary="$WORK/ingest.out"
cat "$summary"
# Each problem file is named, with what is wrong.
for f in truncated.log.gz corrupt.log.gz $unreadable_expected; do
  grep -E "^(problem|warning): .*$f" "$summary" "$WORK/ingest.err" >/dev/null ||
    fail "the ingest summary does not name $f"
done
grep -qE 'truncated|unexpected end' <(grep truncated.log.gz "$summary") || fail "truncated.log.gz: the problem is not said"
failed=$(sed -n 's/^files: .* \([0-9]*\) failed$/\1/p' "$summary")
want_failed=$((2 + $(echo "$unreadable_expected" | wc -w)))
[ "$failed" = "$want_failed" ] || fail "the summary counts $failed failed files, expected $want_failed"
grep -qE '^malformed: .*, [0-9]+ empty files?$' "$summary" || fail "empty files are not counted"
grep -qE '^  empty-file: [0-9]+ .*in/empty.log:0' "$summary" || fail "the empty file is not named"
grep -qE 'long-line: [0-9]+ .*long_line.log' "$summary" || fail "the 10 MB line is not counted and named as long-line"
grep -qE 'binary: [0-9]+ .*nul_bytes.log' "$summary" || fail "the NUL bytes are not counted and named as binary"

# No file was written from a zip entry name, anywhere.
for p in "$WORK/escaped_parent.log" "$WORK/../escaped_parent.log" "$corpus/../escaped_parent.log"; do
  [ ! -e "$p" ] || fail "ingest wrote $p from a zip entry name"
done
if [ -e /tmp/escaped_absolute.log ] && [ /tmp/escaped_absolute.log -nt "$marker" ]; then
  fail "ingest wrote /tmp/escaped_absolute.log from a zip entry name"
fi

# The readable files are all there, whole.
verify_ok "$WORK/idx"
per_file "$WORK/idx" "$WORK/files.csv"
# The generated files, ingested alone from a folder of the same name, match the
# generator's ground truth, and have the same counts next to the hostile files.
mkdir -p "$WORK/ref/in"
cp "$WORK/gen"/*.log* "$WORK/ref/in/"
ingest ref "$WORK/ref-idx" "$WORK/ref/in"
expect_rc ref 0
check_kinds "$WORK/ref-idx" "$WORK/gen"
per_file "$WORK/ref-idx" "$WORK/ref.csv"
while IFS= read -r line; do
  grep -qxF "$line" "$WORK/files.csv" || fail "next to the hostile files, ${line%,*} does not have ${line##*,} records"
done <"$WORK/ref.csv"
for f in long_line.log nul_bytes.log bad_utf8.log mixed_eol.log; do
  grep -q "^in/$f," "$WORK/files.csv" || fail "$f was not ingested"
done
grep -q '^in/traversal.zip/inner/ok.log,1$' "$WORK/files.csv" || fail "the zip's good entry was not ingested"

# Export: byte-exact for every readable file, and only under -o.
out="$WORK/out"
run export "$SIPDEX" export --index "$WORK/idx" -o "$out"
expect_rc export 0
for f in "$WORK/gen"/*.log "$corpus"/long_line.log "$corpus"/nul_bytes.log "$corpus"/bad_utf8.log "$corpus"/mixed_eol.log; do
  [ -s "$f" ] || continue
  cmp -s "$f" "$out/in/$(basename "$f")" || fail "export of $(basename "$f") differs from the input"
done
# What was read of the truncated .gz before the damage is kept, as a prefix.
if [ -e "$out/in/truncated.log" ]; then
  cmp -s "$out/in/truncated.log" <(head -c "$(stat -c %s "$out/in/truncated.log")" "$one") ||
    fail "what was kept of truncated.log.gz is not a prefix of its content"
fi
outside=$(find "$WORK" -name 'escaped_*' -not -path "$out/*" | sed -n 1p)
[ -z "$outside" ] || fail "export wrote $outside outside -o"
if [ -e /tmp/escaped_absolute.log ] && [ /tmp/escaped_absolute.log -nt "$marker" ]; then
  fail "export wrote /tmp/escaped_absolute.log"
fi
note "export of the zip entries: $(cd "$out/in" && find traversal.zip -type f | tr '\n' ' ')"
rm -rf "$WORK"
