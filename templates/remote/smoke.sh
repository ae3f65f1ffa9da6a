#!/bin/bash
# Summary: the provisioner's smoke test: runs the installed backup jobs once as the backup user in
# cron's environment, test-restores what they produced without touching live data, reads their
# off-site copies back (when the off-site copy is on), then runs the health check. Prints one
# "SMOKE|component|status|ms|details" line per component.
#
# Sent over SSH by src/run/smoke.ts, never installed, after this run's values (the host's paths and
# database, as in common.sh; SCRATCH_DB, the scratch database; SCRATCH_RE, the names of the
# scratch databases of earlier smoke tests that were killed; RUN_DB, RUN_MEDIA, RUN_CONFIG,
# RUN_OFFSITE: 1 to test that component; AGE_IDENTITY: the age identity, only when the inventory
# gives one and something is encrypted), common.sh and lib/newest.sh.
#
# The identity exists only in this shell's memory (the script came on the SSH channel's stdin): the
# installed scripts get it on an inherited pipe (--identity /dev/fd/3), age with -i <(printf ...);
# printf is a builtin, so it is in no process's command line, and no file ever holds it.
set -Eeuo pipefail
umask 077

# Beside the backup tree (same filesystem, room for a media copy), not inside it: restores refuse
# targets inside the backup directory.
WORK_PARENT="$(dirname -- "$BACKUP_DIR")"
WORK_PREFIX=".${APP}-smoke-"

cd /
result() { printf 'SMOKE|%s|%s|%s|%s\n' "$1" "$2" "$3" "${4//$'\n'/ }"; }

# Steps run in subshells, so cleanup does not track what they made: it removes all of it, on any
# exit (the provisioner's timeout sends TERM: the traps turn it into an exit).
WORK=""
cleanup() {
  if [ "$RUN_DB" = 1 ]; then drop_db "$SCRATCH_DB" || true; fi
  if [ -n "$WORK" ]; then rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# One smoke test at a time per host; holding the lock, leftovers of a killed one are removed.
if ! open_lock "$LOCK_DIR/smoke.lock"; then
  for c in database config media check; do result "$c" failed 0 "$LOCK_ERROR"; done
  trap - EXIT
  exit 0
fi
if ! flock -n 9; then
  for c in database config media check; do result "$c" failed 0 "another smoke test is running on this host ($LOCK_DIR/smoke.lock)"; done
  trap - EXIT
  exit 0
fi
find "$WORK_PARENT" -mindepth 1 -maxdepth 1 -type d -name "${WORK_PREFIX}*" -exec rm -rf -- {} + 2>/dev/null || true
if [ "$RUN_DB" = 1 ]; then
  while IFS= read -r db; do
    if [ -n "$db" ]; then drop_db "$db" || true; fi
  done < <(psql_admin -c "SELECT datname FROM pg_database WHERE datname ~ '$SCRATCH_RE'" 2>/dev/null || true)
fi

WORK=$(mktemp -d -- "$WORK_PARENT/${WORK_PREFIX}XXXXXX")
chown "$BACKUP_USER:" -- "$WORK" 2>/dev/null || chown "$BACKUP_USER" -- "$WORK"

# Run one step, timing it; on success keep its last line as the detail, on failure the last lines
# of its output as the reason.
step() {
  local name=$1 t0 out rc=0
  shift
  t0=$(now_ms)
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" = 0 ]; then
    result "$name" passed "$(( $(now_ms) - t0 ))" "$(printf '%s' "$out" | tail -n 1 | tr '|' '/')"
  else
    result "$name" failed "$(( $(now_ms) - t0 ))" "exit $rc: $(printf '%s' "$out" | tail -n 5 | tr '|' '/')"
  fi
  return "$rc"
}

# The installed jobs as cron runs them, with notifications off (BACKUP_NOTIFY=off, lib/alerts.sh):
# a rehearsal never pings the live healthchecks, never posts to the live alert channels and leaves
# the failure counts of the scheduled runs alone.
job() { as_cron env BACKUP_NOTIFY=off "$@"; }

# The newest backup by the timestamp in its name, as check-backups, status and drills pick it.
newest() { local p; p="$(newest_backup f "$2" "$1")"; [ -z "$p" ] || basename -- "$p"; }

# encrypted_unchecked DIR FILE: an encrypted backup without an identity to test-restore it: its
# checksum (which covers the encrypted file) must verify; says so.
encrypted_unchecked() {
  (cd -- "$1" && sha256sum -c --quiet --strict -- "$2.sha256") || { echo "$2 does not match its checksum"; return 1; }
  echo "$2 is encrypted (age) and matches its checksum; not test-restored: the inventory gives no encryption.identity"
}

smoke_database() {
  job "$SCRIPTS/backup-database.sh" || return
  local dump
  dump=$(newest "$BACKUP_DIR/database" '*.dump')
  [ -n "$dump" ] || { echo "no dump in $BACKUP_DIR/database"; return 1; }
  if [[ "$dump" == *.age && -z "${AGE_IDENTITY:-}" ]]; then
    encrypted_unchecked "$BACKUP_DIR/database" "$dump"
    return
  fi
  # The restore script compares tables and row counts with the dump's manifest and fails on a difference.
  with_identity job "$SCRIPTS/restore-database.sh" "$BACKUP_DIR/database/$dump" --force --target-db "$SCRATCH_DB" || return
  drop_db "$SCRATCH_DB"
  echo "$dump $([[ "$dump" == *.age ]] && echo "decrypted with the identity and ")restored into a scratch database; tables and row counts match its manifest"
}

smoke_config() {
  job "$SCRIPTS/backup-config.sh" || return
  local archive f n=0
  archive=$(newest "$BACKUP_DIR/config" 'config_*.tar.gz')
  [ -n "$archive" ] || { echo "no archive in $BACKUP_DIR/config"; return 1; }
  if [[ "$archive" == *.age && -z "${AGE_IDENTITY:-}" ]]; then
    encrypted_unchecked "$BACKUP_DIR/config" "$archive"
    return
  fi
  with_identity job "$SCRIPTS/restore-config.sh" "$BACKUP_DIR/config/$archive" --force --target "$WORK/config" || return
  # File by file: the restored copy equals the archived one.
  while IFS= read -r f; do
    [ "${f%/}" = "$f" ] || continue
    [ -f "$WORK/config/$f" ] || { echo "missing after restore: $f"; return 1; }
    archive_cat "$BACKUP_DIR/config/$archive" | tar -xzO -- "$f" | cmp -s - "$WORK/config/$f" || { echo "differs after restore: $f"; return 1; }
    n=$((n + 1))
  done < <(archive_cat "$BACKUP_DIR/config/$archive" | tar -tz)
  echo "$n files identical$([[ "$archive" == *.age ]] && echo " (the archive is encrypted: decrypted with the identity)")"
}

smoke_media() {
  job "$SCRIPTS/backup-media.sh" || return
  [ -L "$BACKUP_DIR/media/latest" ] || { echo "no media/latest after backup"; return 1; }
  local snap need avail
  snap=$(readlink -f -- "$BACKUP_DIR/media/latest")
  # A full copy of the media must fit, with 10% to spare, or the 2 AM backup could be starved.
  need=$(du -sk --apparent-size -- "$snap" | cut -f1)
  avail=$(df -Pk -- "$WORK" | awk 'NR == 2 { print $4 }')
  if [ $((need + need / 10)) -gt "$avail" ]; then
    echo "not enough space for a test restore of the media in $WORK_PARENT: ${need} KiB needed, ${avail} KiB free"
    return 1
  fi
  # The restore script checks the result against the snapshot's manifest; diff -r proves every byte.
  job "$SCRIPTS/restore-media.sh" latest --force --target "$WORK/media" || return
  diff -r -q -- "$snap" "$WORK/media" || { echo "restored media differ from the snapshot"; return 1; }
  echo "$(find "$WORK/media" -type f | wc -l) files restored, identical to snapshot $(basename -- "$snap")"
}

# The off-site leg: each job above copied its backup off-site (or recorded why not in its state
# file); each is read back from the bucket and verified (fetch-offsite.sh --check: downloaded,
# the server's MD5 and the SHA-256, equal to the local copy, decrypted with the identity; media:
# every object present and a sample checked), and must be the backup just made.
smoke_offsite() {
  local kinds=() k err out name want done_=()
  if [ "$RUN_DB" = 1 ]; then kinds+=(database monthly); fi
  if [ "$RUN_CONFIG" = 1 ]; then kinds+=(config); fi
  if [ "$RUN_MEDIA" = 1 ]; then kinds+=(media); fi
  for k in "${kinds[@]}"; do
    err="$(sed -n 's/^last_error=//p' -- "$BACKUP_DIR/.offsite/$k.state" 2>/dev/null || true)"
    [ -z "$err" ] || { echo "$k: the upload failed: $err"; return 1; }
    if ! out="$(with_identity job "$SCRIPTS/fetch-offsite.sh" --check "$k" latest 2>&1)"; then
      echo "$k: reading the off-site copy back failed: $(printf '%s\n' "$out" | grep '\[ERROR\]' | tail -n 1 | sed -E 's/^.*\[ERROR\] \[[a-z-]+\] //')"
      return 1
    fi
    name="$(printf '%s\n' "$out" | sed -n 's/^CHECKED|[a-z]*|\([^|]*\)|.*/\1/p' | tail -n 1)"
    case "$k" in
      database) want="$(newest "$BACKUP_DIR/database" "${APP}_*.dump")" ;;
      monthly) want="$(newest "$BACKUP_DIR/database/monthly" "${APP}_*.dump")" ;;
      config) want="$(newest "$BACKUP_DIR/config" 'config_*.tar.gz')" ;;
      media) want="$(basename -- "$(readlink -f -- "$BACKUP_DIR/media/latest")")" ;;
    esac
    [ "$name" = "$want" ] || { echo "$k: the newest off-site copy is ${name:-none}, not $want"; return 1; }
    done_+=("$k $name ($(printf '%s\n' "$out" | sed -n 's/^CHECKED|[^|]*|[^|]*|//p' | tail -n 1))")
  done
  local IFS=';'
  echo "read back and verified: ${done_[*]}"
}

failed=0
if [ "$RUN_DB" = 1 ]; then step database smoke_database || failed=1; else result database skipped 0 "not selected"; fi
if [ "$RUN_CONFIG" = 1 ]; then step config smoke_config || failed=1; else result config skipped 0 "not selected"; fi
if [ "$RUN_MEDIA" = 1 ]; then step media smoke_media || failed=1; else result media skipped 0 "not selected"; fi
if [ "${RUN_OFFSITE:-0}" = 1 ]; then step offsite smoke_offsite || failed=1; fi
if [ "$failed" = 0 ]; then
  step check job "$SCRIPTS/check-backups.sh" || true
else
  result check skipped 0 "a backup or restore failed"
fi
