#!/usr/bin/env bash
# Disk full during ingest, two ways:
#   1. the index on a small tmpfs that a filler file has almost filled (when
#      this process may mount: root outside a locked-down container; else the
#      case says it is skipped and why);
#   2. a write-limit shim that works everywhere: RLIMIT_FSIZE (ulimit -f) with
#      SIGXFSZ ignored, so a write past the limit fails with EFBIG.
# Each: the ingest exits non-zero with an error line naming the problem (no
# crash), the index still opens and verifies, and once space is back the same
# ingest completes with the ground truth's counts and a byte-exact export.
source "$(dirname "$0")/lib.sh"

if [ "$LONG" = 1 ]; then size=24MB; else size=6MB; fi
corpus="$WORK/corpus"
generate "$corpus" "$size" 29
expected_export "$corpus" "$WORK/expected"
ingest ref "$WORK/ref" "$corpus"
expect_rc ref 0
per_file "$WORK/ref" "$WORK/ref.csv"
index_kb=$(du -sk "$WORK/ref" | cut -f1)
note "the whole corpus needs a ${index_kb} KB index"

# after_failure NAME INDEX: checks of an ingest that ran out of space.
after_failure() {
  local name=$1 idx=$2
  [ "$RC" -ne 0 ] || fail "$name: ingest exits 0 although the disk was full"
  grep -qiE 'space|EFBIG|too large|disk|quota|write' "$WORK/$name.err" "$WORK/$name.out" ||
    fail "$name: the error does not say what went wrong: $(head -3 "$WORK/$name.err")"
  note "$name: exit $RC: $(grep -iE 'error|problem' "$WORK/$name.err" "$WORK/$name.out" | sed -n 1p)"
  if [ -e "$idx" ]; then
    verify_ok "$idx"
    per_file "$idx" "$WORK/partial.csv"
    while IFS=, read -r f n; do
      grep -qxF "$f,$n" "$WORK/ref.csv" || fail "$name: $f has $n records after the failed ingest (not all or nothing)"
    done <"$WORK/partial.csv"
  fi
}

# after_recovery NAME INDEX: the same ingest once there is space again.
after_recovery() {
  local name=$1 idx=$2
  ingest "$name-again" "$idx" "$corpus"
  expect_rc "$name-again" 0
  verify_ok "$idx"
  per_file "$idx" "$WORK/final.csv"
  cmp -s "$WORK/final.csv" "$WORK/ref.csv" || fail "$name: after space came back the index differs from a normal ingest"
  check_kinds "$idx" "$corpus"
  check_export "$idx" "$WORK/expected" corpus
}

# 1. A small tmpfs.
mnt="$WORK/mnt"
mkdir -p "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=$((index_kb * 2 + 4096))k sipdex-test "$mnt" 2>"$WORK/mount.err"; then
  trap 'umount "$mnt" 2>/dev/null || true' EXIT
  # Leave about a third of what the index needs.
  free_kb=$(df -k --output=avail "$mnt" | tail -1 | tr -d ' ')
  fallocate -l $(((free_kb - index_kb / 3) * 1024)) "$mnt/filler" 2>/dev/null ||
    dd if=/dev/zero of="$mnt/filler" bs=1k count=$((free_kb - index_kb / 3)) status=none
  ingest tmpfs "$mnt/idx" "$corpus"
  after_failure tmpfs "$mnt/idx"
  rm -f "$mnt/filler"
  after_recovery tmpfs "$mnt/idx"
  umount "$mnt"
  trap - EXIT
else
  note "tmpfs case skipped: cannot mount here ($(head -1 "$WORK/mount.err" 2>/dev/null || echo "not root"))"
fi

# 2. RLIMIT_FSIZE: no file may grow past a quarter of the index.
limit_kb=$((index_kb / 4 > 64 ? index_kb / 4 : 64))
set +e
(
  trap '' XFSZ
  ulimit -f "$limit_kb"
  exec env -C "$WORK" "$SIPDEX" ingest --index "$WORK/limited" corpus
) >"$WORK/fsize.out" 2>"$WORK/fsize.err"
RC=$?
set -e
check_no_crash fsize
after_failure fsize "$WORK/limited"
after_recovery fsize "$WORK/limited"
rm -rf "$WORK"
