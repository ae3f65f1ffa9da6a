#!/bin/bash
# Summary: the provisioner's restore drill on one host. Restores the newest daily, weekly and monthly
# database dumps, media snapshot and config archive with the INSTALLED restore scripts into a scratch
# database and a temporary folder, verifies them, times each restore (RTO) and dates each backup
# (RPO), and removes the scratch database and folder whatever happens. With MODE=live the newest
# daily dump, media snapshot and config archive are restored over the live database, media and app
# config instead (the scripts take their pre-restore backups and roll back on a failure), verified
# there, then VERIFY_COMMAND runs; the weekly and monthly dumps still go into the scratch database.
# Prints "DRILL|component|field|value" lines; the provisioner compares them with the manifests.
#
# Sent over SSH by src/drill/job.ts, never installed, after this run's values (the host's paths and
# database, as in common.sh; SCRATCH_DB, the scratch database; SCRATCH_RE, the names of the scratch
# databases of earlier drills that were killed; FROM: local, or offsite to restore from the bucket
# (fetch-offsite.sh, into the temporary folder) instead of the local copies; AGE_IDENTITY: the age
# identity, only when the inventory gives one and something is encrypted: it stays in this shell's
# memory and reaches the installed scripts on a pipe, --identity /dev/fd/3; MODE: scratch or live;
# LIVE_DB, the live database; VERIFY_COMMAND, drill.verify_command or empty; VERIFY_TIMEOUT, its
# limit in seconds), common.sh and lib/newest.sh. With --source (src/drill/source.ts) also
# SOURCE_INVENTORY and SOURCE_HOST (whose backups), SOURCE_APP, SOURCE_BUCKET, SOURCE_PREFIX,
# SOURCE_ENDPOINT (where they are), SOURCE_RCLONE_CONF (an rclone config with read-only keys),
# HOST_CONF (this host's backup.conf), and AGE_IDENTITY is the source's; see "--source" below.
set -Euo pipefail
umask 077
# Scratch unless live was asked for: a value missing from the header never means live data.
: "${MODE:=scratch}"

# Temporary folders sit next to the backup directory: on its filesystem, outside it (restore-media
# refuses a target inside it) and outside the app.
WORK_PARENT="$(dirname -- "$BACKUP_DIR")"
WORK_PREFIX=".${APP}-drill-"

out() { local v="${3:-}"; printf 'DRILL|%s|%s|%s\n' "$1" "$2" "${v//$'\n'/ }"; }
b64() { base64 -w0 -- "$1" 2>/dev/null || true; }

db_count() {
  psql_admin -c "SELECT count(*) FROM pg_database WHERE datname = '$1'" 2>/dev/null
}

# The last words of a failed restore: its report's "Status: FAILED" line, else the tail of its output.
why() {
  local s
  s="$(printf '%s\n' "$1" | grep -m1 '^Status: FAILED' || true)"
  [ -n "$s" ] || s="$(printf '%s\n' "$1" | grep -E '\[(ERROR|CRITICAL)\]' | tail -n 2 || true)"
  [ -n "$s" ] || s="$(printf '%s\n' "$1" | tail -n 3)"
  # Without the log prefix: "2025-01-01T02:00:00+0000 [ERROR] [restore-database] ".
  printf '%s' "$s" | sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+[+-][0-9]{4} \[[A-Z]+\] \[[a-z-]+\] //' | tr '|' '/'
}

# fetched COMPONENT KIND: with FROM=offsite, download the newest backup of KIND from the bucket
# into the temporary folder with the installed fetch-offsite.sh (verified there: the server's MD5,
# the SHA-256; a media snapshot rebuilt and every file checked) and print its path; its time goes
# into the component's RTO (FETCH_MS). On a failure prints the error and returns 1.
FETCH_MS=0
FETCHED_PATH=""
fetched() {
  local comp="$1" kind="$2" log rc=0 t0 path
  out "$comp" source offsite
  t0="$(now_ms)"
  log="$(with_identity fetch_offsite "$kind" latest --to "$WORK/offsite/$kind" 2>&1)" || rc=$?
  FETCH_MS=$(($(now_ms) - t0))
  out "$comp" fetch_ms "$FETCH_MS"
  path="$(printf '%s\n' "$log" | sed -n 's/^FETCHED|//p' | tail -n 1)"
  if [ "$rc" != 0 ] || [ -z "$path" ]; then
    out "$comp" error "fetch-offsite.sh exit $rc: $(source_why "$(why "$log")")"
    return 1
  fi
  FETCHED_PATH="$path"
}

# timed_restore COMPONENT SCRIPT ARG...: run an installed restore script as cron would and print its
# time (the RTO, with the download from the bucket when FROM=offsite); its output is in
# RESTORE_LOG. On a failure prints the error and returns 1.
RESTORE_LOG=""
timed_restore() {
  local comp="$1" script="$2" rc=0 t0
  shift 2
  t0="$(now_ms)"
  # Media snapshots are never encrypted on a host (fetch-offsite.sh decrypted the objects): no identity.
  if [ "$script" = restore-media.sh ]; then
    RESTORE_LOG="$(as_cron "$SCRIPTS/$script" "$@" 2>&1)" || rc=$?
  else
    RESTORE_LOG="$(with_identity as_cron "$SCRIPTS/$script" "$@" 2>&1)" || rc=$?
  fi
  out "$comp" rto_ms "$(($(now_ms) - t0 + FETCH_MS))"
  if [ "$rc" != 0 ]; then
    out "$comp" error "$script exit $rc: $(why "$RESTORE_LOG")"
    return 1
  fi
}

# ---- live mode (MODE=live) -------------------------------------------------------------------
# The recovery rehearsed for real: the newest daily dump, media snapshot and config archive restored
# over the live database, media and app config, one after the other, stopping at the first that does
# not pass (the restore scripts put their own component back; what follows is left as it was), then
# VERIFY_COMMAND on the restored host.

# report_field NAME: a line "NAME: value" of the last restore's report (RESTORE_LOG).
report_field() {
  printf '%s\n' "$RESTORE_LOG" | sed -n "s/^$1: //p" | head -n 1
}

# live_restore COMPONENT SCRIPT ARG...: an installed restore script over the live data, timed like
# timed_restore; prints where it restored, its pre-restore backup (and whether it is there) and, on a
# failure, its rollback line and the error (returns 1).
live_restore() {
  local comp="$1" script="$2" rc=0 t0 pre target
  shift 2
  t0="$(now_ms)"
  if [ "$script" = restore-media.sh ]; then
    RESTORE_LOG="$(as_root_clean "$SCRIPTS/$script" "$@" 2>&1 </dev/null)" || rc=$?
  else
    RESTORE_LOG="$(with_identity as_root_clean "$SCRIPTS/$script" "$@" 2>&1 </dev/null)" || rc=$?
  fi
  out "$comp" rto_ms "$(($(now_ms) - t0 + FETCH_MS))"
  target="$(report_field "Target Directory")"
  [ "$comp" != database ] || target="$(report_field Database)"
  out "$comp" live_target "$target"
  pre="$(report_field "Pre-Restore Backup")"
  out "$comp" pre_restore "$pre"
  if [ "${pre#/}" != "$pre" ]; then
    out "$comp" pre_restore_exists "$([ -e "$pre" ] && echo yes || echo no)"
  fi
  if [ "$rc" != 0 ]; then
    out "$comp" rollback "$(report_field Rollback)"
    out "$comp" error "$script exit $rc: $(why "$RESTORE_LOG")"
    return 1
  fi
}

# live_database DUMP: restore-database.sh over the live database (its pre-restore dump taken, the old
# database put back on a failure); it compares every table and its row count with the manifest.
LIVE_PASSED=0
live_database() {
  live_restore database restore-database.sh "$1" --force --target-db "$LIVE_DB" || return 0
  out database verified "$(printf '%s\n' "$RESTORE_LOG" | sed -n 's/^Verified: //p' | head -n 1)"
  rm -rf -- "${WORK:?}/offsite/database"
  out database restored ok
  LIVE_PASSED=1
}

# live_media SNAPSHOT: restore-media.sh over the live media (its pre-restore copy taken), then every
# file and byte of the live folder against the snapshot.
live_media() {
  local target
  live_restore media restore-media.sh "$1" --force || return 0
  target="$(report_field "Target Directory")"
  if [ -z "$target" ] || [ ! -d "$target" ]; then
    out media error "restore-media.sh did not name a target folder that exists (\"$target\")"
    return 0
  fi
  verify_media_tree "$1" "$target" || return 0
  rm -rf -- "${WORK:?}/offsite/media"
  out media restored ok
  LIVE_PASSED=1
}

# live_config ARCHIVE: restore-config.sh over the app's config (its pre-restore archive taken), then
# each file in the app folder against the archive, byte for byte.
live_config() {
  local target
  live_restore config restore-config.sh "$1" --force || return 0
  target="$(report_field "Target Directory")"
  if [ -z "$target" ] || [ ! -d "$target" ]; then
    out config error "restore-config.sh did not name a target folder that exists (\"$target\")"
    return 0
  fi
  verify_config_tree "$1" "$target" || return 0
  out config restored ok
  LIVE_PASSED=1
}

# live_verify_command: drill.verify_command on the restored host, as root from / with cron's PATH (it
# may restart the app before it checks it), for at most VERIFY_TIMEOUT seconds; its exit status and
# the last 20 lines of its output are the check. Not run when a restore did not pass.
live_verify_command() {
  local rc=0 t0 log line
  if [ -z "$VERIFY_COMMAND" ]; then
    out verify_command none "drill.verify_command is not set: nothing checked the app on the restored data"
    return 0
  fi
  out verify_command command "$VERIFY_COMMAND"
  out verify_command timeout_s "$VERIFY_TIMEOUT"
  if [ -n "$LIVE_FAILED" ]; then
    out verify_command skipped "not run: the $LIVE_FAILED restore did not pass"
    return 0
  fi
  # Its output goes to a file, not a pipe: a service it starts in the background keeps the pipe
  # open, and the drill would wait for that service instead of the command.
  log="$WORK/verify_command.out"
  t0="$(now_ms)"
  as_root_clean timeout --kill-after=10 "$VERIFY_TIMEOUT" /bin/bash -c "$VERIFY_COMMAND" >"$log" 2>&1 </dev/null || rc=$?
  out verify_command ms "$(($(now_ms) - t0))"
  out verify_command exit "$rc"
  while IFS= read -r line || [ -n "$line" ]; do
    out verify_command output "${line:0:300}"
  done < <(tail -n 20 -- "$log")
  rm -f -- "$log"
}

# live_recovery: database, media, config over the live data; after the first that does not pass,
# the others are not restored (the host keeps its own from there on), and verify_command is not run.
LIVE_FAILED=""
live_recovery() {
  local comp
  for comp in database media config; do
    if [ -n "$LIVE_FAILED" ]; then
      out "$comp" skipped "not restored over the live data: the $LIVE_FAILED restore did not pass, so the live $comp was left as it was"
      continue
    fi
    LIVE_PASSED=0
    FETCH_MS=0
    case "$comp" in
      database) drill_dump database daily ;;
      media) drill_media ;;
      config) drill_config ;;
    esac
    [ "$LIVE_PASSED" = 1 ] || LIVE_FAILED="$comp"
  done
  live_verify_command
}

# ---- --source: another inventory's off-site copy ---------------------------------------------
# With SOURCE_HOST (npm run drill -- staging --source prod), fetch-offsite.sh reads the source
# host's bucket and prefix instead of this host's: it is given a backup.conf of its own (this
# host's, then the source's APP_NAME and OFFSITE_* values) and an rclone config with the read-only
# keys, both 0600 in a private folder of the backup user (CRED). The keys reach that file from this
# shell's memory by printf, a builtin: never an argument. cleanup removes CRED whatever happens; a
# drill killed with -9 leaves it to the next drill's leftover removal (it is named like WORK).
CRED=""
SOURCE_CONF=""
source_setup() {
  [ -n "${SOURCE_HOST:-}" ] || return 0
  out drill source "$SOURCE_INVENTORY/$SOURCE_HOST"
  if [ "$FROM" != offsite ]; then
    out drill error "a drill of another inventory's backups restores from its off-site copy (FROM=offsite), not FROM=$FROM"
    return 1
  fi
  local tool
  for tool in rclone ${AGE_IDENTITY:+age}; do
    if ! PATH="$CRON_PATH" command -v "$tool" >/dev/null 2>&1; then
      out drill error "$tool is not installed on this host (in $CRON_PATH): a drill from $SOURCE_INVENTORY's off-site copy needs it (provision installs it when drill.source is set)"
      return 1
    fi
  done
  CRED="$(mktemp -d -- "$WORK_PARENT/${WORK_PREFIX}source-XXXXXX")" || {
    CRED=""
    out drill error "cannot create a private folder for the source's credentials in $WORK_PARENT"
    return 1
  }
  out drill credentials "$CRED"
  printf '%s\n' "$SOURCE_RCLONE_CONF" >"$CRED/rclone.conf"
  {
    printf '# A drill of this host restoring %s/%s: this host'"'"'s backup.conf, then where the source'"'"'s\n' "$SOURCE_INVENTORY" "$SOURCE_HOST"
    printf '# backups are. Written by the drill, removed when it ends.\n'
    printf 'source %q\n' "$HOST_CONF"
    printf 'APP_NAME=%q\n' "$SOURCE_APP"
    printf 'OFFSITE_ENABLED=true\n'
    printf 'OFFSITE_BUCKET=%q\n' "$SOURCE_BUCKET"
    printf 'OFFSITE_PREFIX=%q\n' "$SOURCE_PREFIX"
    printf 'OFFSITE_ENDPOINT=%q\n' "$SOURCE_ENDPOINT"
    printf 'OFFSITE_RCLONE_CONFIG=%q\n' "$CRED/rclone.conf"
  } >"$CRED/backup.conf"
  chmod 0600 -- "$CRED/rclone.conf" "$CRED/backup.conf"
  if ! chown -R -- "$BACKUP_USER:" "$CRED" 2>/dev/null && ! chown -R -- "$BACKUP_USER" "$CRED"; then
    out drill error "cannot give the source's credentials folder $CRED to $BACKUP_USER"
    return 1
  fi
  SOURCE_CONF="$CRED/backup.conf"
}

# fetch_offsite ARG...: the installed fetch-offsite.sh as cron would run it; with --source, on the
# source host's copy (BACKUP_CONF, in its clean environment).
fetch_offsite() {
  if [ -n "$SOURCE_CONF" ]; then
    as_cron BACKUP_CONF="$SOURCE_CONF" "$SCRIPTS/fetch-offsite.sh" "$@"
  else
    as_cron "$SCRIPTS/fetch-offsite.sh" "$@"
  fi
}

# source_why TEXT: fetch-offsite.sh's reason; with --source, a refused key is the read-only one of
# the drilled inventory (drill.source_offsite), not this host's offsite keys.
source_why() {
  local t="$1"
  [ -z "$SOURCE_CONF" ] || t="${t//check offsite.access_key_id and offsite.secret_access_key/check drill.source_offsite (the read-only keys of the bucket of $SOURCE_INVENTORY)}"
  printf '%s' "$t"
}

# The credentials go first: nothing of the source's is left on this host.
cleanup_credentials() {
  [ -n "$CRED" ] || return 0
  rm -rf -- "$CRED" 2>/dev/null || true
  if [ -e "$CRED" ]; then
    out cleanup credentials "left: $CRED"
    return 1
  fi
  out cleanup credentials "removed: $CRED"
}

WORK=""
SCRATCH_TOUCHED=0
CLEANUP_DONE=0
cleanup() {
  [ "$CLEANUP_DONE" = 0 ] || return 0
  CLEANUP_DONE=1
  local ok=1
  cleanup_credentials || ok=0
  if [ "$SCRATCH_TOUCHED" = 1 ]; then
    drop_db "$SCRATCH_DB" || true
    case "$(db_count "$SCRATCH_DB" || true)" in
      0) out cleanup scratch_db "gone: $SCRATCH_DB" ;;
      1) ok=0; out cleanup scratch_db "left: $SCRATCH_DB could not be dropped" ;;
      *) ok=0; out cleanup scratch_db "unknown: cannot ask PostgreSQL whether $SCRATCH_DB is gone" ;;
    esac
  else
    out cleanup scratch_db "never created"
  fi
  if [ -n "$WORK" ]; then
    rm -rf -- "$WORK" 2>/dev/null || true
    if [ -e "$WORK" ]; then
      ok=0
      out cleanup workdir "left: $WORK"
    else
      out cleanup workdir "removed: $WORK"
    fi
  fi
  out cleanup status "$([ "$ok" = 1 ] && echo passed || echo failed)"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

out drill now "$(date +%s)"
out drill scratch_db "$SCRATCH_DB"
out drill from "$FROM"
out drill mode "$MODE"
if [ ! -x "$SCRIPTS/restore-database.sh" ] || [ ! -x "$SCRIPTS/restore-media.sh" ] || [ ! -x "$SCRIPTS/restore-config.sh" ]; then
  out drill error "the restore scripts are not installed in $SCRIPTS (run provision first)"
  exit 0
fi
if [ "$FROM" = offsite ] && [ ! -x "$SCRIPTS/fetch-offsite.sh" ]; then
  out drill error "fetch-offsite.sh is not installed in $SCRIPTS (run provision first)"
  exit 0
fi

# One drill at a time per host; holding the lock, leftovers of a killed drill are removed.
if ! open_lock "$LOCK_DIR/drill.lock"; then
  CLEANUP_DONE=1
  out drill error "$LOCK_ERROR"
  exit 0
fi
if ! flock -n 9; then
  CLEANUP_DONE=1
  out drill error "another restore drill is running on this host ($LOCK_DIR/drill.lock)"
  exit 0
fi
stale=0
while IFS= read -r -d '' d; do
  rm -rf -- "$d" && stale=$((stale + 1))
done < <(find "$WORK_PARENT" -mindepth 1 -maxdepth 1 -type d -name "${WORK_PREFIX}*" -print0 2>/dev/null)
while IFS= read -r db; do
  [ -n "$db" ] || continue
  drop_db "$db" && stale=$((stale + 1))
done < <(psql_admin -c "SELECT datname FROM pg_database WHERE datname ~ '$SCRATCH_RE'" 2>/dev/null || true)
out drill stale_removed "$stale"

WORK="$(mktemp -d -- "$WORK_PARENT/${WORK_PREFIX}XXXXXX")" || { out drill error "cannot create a temporary folder in $WORK_PARENT"; exit 0; }
chown -- "$BACKUP_USER:" "$WORK" 2>/dev/null || chown -- "$BACKUP_USER" "$WORK" 2>/dev/null || true
out drill workdir "$WORK"
source_setup || exit 0

# ---- database dumps ---------------------------------------------------------------------------
# drill_dump COMPONENT KIND: the newest dump of KIND (daily: database/, weekly, monthly) restored
# into the scratch database with restore-database.sh (checksum, restore, every table and its row
# count against the manifest), then the scratch database dropped. The daily one is the recovery;
# the weekly and monthly ones prove the older tiers restore too (a monthly dump that does not is a
# compliance failure). A host with no weekly or monthly dump yet says so ("none").
drill_dump() {
  local comp="$1" kind="$2" dump t0 verified dir
  case "$kind" in
    daily) dir="$BACKUP_DIR/database" ;;
    *) dir="$BACKUP_DIR/database/$kind" ;;
  esac
  if [ "$FROM" = offsite ]; then
    if [ "$kind" != daily ]; then
      local list
      if ! list="$(fetch_offsite --list "$kind" 2>&1)"; then
        out "$comp" error "fetch-offsite.sh --list $kind failed: $(source_why "$(why "$list")")"
        return 0
      fi
      if ! printf '%s\n' "$list" | grep -q "^$kind"$'\t'; then
        out "$comp" source offsite
        out "$comp" none "no $kind dump in the off-site copy"
        return 0
      fi
    fi
    fetched "$comp" "$([ "$kind" = daily ] && echo database || echo "$kind")" || return 0
    dump="$FETCHED_PATH"
  else
    dump="$(newest_backup f "${APP}_*.dump" "$dir")"
    if [ -z "$dump" ]; then
      if [ "$kind" = daily ]; then
        out "$comp" error "no database dump in $dir"
      else
        out "$comp" none "no $kind dump in $dir"
      fi
      return 0
    fi
  fi
  out "$comp" backup "$dump"
  out "$comp" kind "$kind"
  out "$comp" backup_epoch "$(backup_epoch "$dump")"
  out "$comp" size_bytes "$(stat -c %s -- "$dump")"
  out "$comp" manifest_b64 "$(b64 "$dump.manifest.json")"
  if [ "$MODE" = live ] && [ "$kind" = daily ]; then
    live_database "$dump"
    return 0
  fi
  SCRATCH_TOUCHED=1
  timed_restore "$comp" restore-database.sh "$dump" --force --target-db "$SCRATCH_DB" || { drop_db "$SCRATCH_DB" || true; return 0; }
  # restore-database.sh compared every table and its row count with the manifest.
  verified="$(printf '%s\n' "$RESTORE_LOG" | sed -n 's/^Verified: //p' | head -n 1)"
  out "$comp" verified "$verified"
  t0="$(now_ms)"
  if drop_db "$SCRATCH_DB" && [ "$(db_count "$SCRATCH_DB")" = 0 ]; then
    out "$comp" dropped "$(($(now_ms) - t0))"
  fi
  rm -rf -- "${WORK:?}/offsite/$kind" "${WORK:?}/offsite/database"
  out "$comp" restored ok
}

# ---- media ------------------------------------------------------------------------------------
# verify_media_tree SNAPSHOT DIR: every file, every byte of what a restore put in DIR: counts for
# the manifest, diff -r against the snapshot. Returns 1 when they differ.
verify_media_tree() {
  local t0 counts diffs rc=0
  t0="$(now_ms)"
  counts="$(find "$2" -type f -printf '%s\n' | awk '{ n++; b += $1 } END { printf "%d %d", n, b }')"
  out media restored_files "${counts% *}"
  out media restored_bytes "${counts#* }"
  if diffs="$(diff -r -q -- "$1" "$2" 2>&1)"; then
    out media diff identical
  else
    rc=1
    out media diff "$(printf '%s\n' "$diffs" | head -n 5 | tr '|' '/')"
  fi
  out media verify_ms "$(($(now_ms) - t0))"
  return "$rc"
}

drill_media() {
  local snap manifest want_bytes avail
  if [ "$FROM" = offsite ]; then
    # Rebuilt from its objects in the temporary folder (every file checked against its checksum).
    fetched media media || return 0
    snap="$FETCHED_PATH"
  else
    snap="$(newest_backup d '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9]-[0-9][0-9]-[0-9][0-9]' "$BACKUP_DIR/media")"
  fi
  if [ -z "$snap" ]; then
    out media error "no media snapshot in $BACKUP_DIR/media"
    return 0
  fi
  manifest="$snap.manifest.json"
  out media backup "$snap"
  out media backup_epoch "$(backup_epoch "$snap")"
  out media manifest_b64 "$(b64 "$manifest")"
  want_bytes="$(grep -o -m1 '"bytes": *[0-9]*' -- "$manifest" 2>/dev/null | grep -o '[0-9]*$' || true)"
  avail="$(df -P -B1 -- "$WORK" | awk 'NR == 2 { print $4 }')"
  if [ -n "$want_bytes" ] && [ -n "$avail" ] && [ "$avail" -lt $((want_bytes + 64 * 1024 * 1024)) ]; then
    out media error "not enough free space in $WORK_PARENT for the restored copy: $avail bytes free, $want_bytes needed plus 64 MiB"
    return 0
  fi
  if [ "$MODE" = live ]; then
    live_media "$snap"
    return 0
  fi
  timed_restore media restore-media.sh "$snap" --force --target "$WORK/media" || return 0
  verify_media_tree "$snap" "$WORK/media" || true
  rm -rf -- "${WORK:?}/media" "${WORK:?}/offsite/media"
  out media restored ok
}

# ---- config -----------------------------------------------------------------------------------
# verify_config_tree ARCHIVE DIR: file by file, each file a restore put in DIR equals its copy in the
# archive. On a difference prints the error and returns 1.
verify_config_tree() {
  local t0 f n=0 bad=""
  t0="$(now_ms)"
  while IFS= read -r f; do
    [ "${f%/}" = "$f" ] || continue
    if [ ! -f "$2/$f" ]; then
      bad="missing after restore: $f"
      break
    fi
    if ! archive_cat "$1" | tar -xzO -- "$f" | cmp -s - "$2/$f"; then
      bad="differs from the archive: $f"
      break
    fi
    out config restored_file "$f"
    n=$((n + 1))
  done < <(archive_cat "$1" | tar -tz)
  out config verify_ms "$(($(now_ms) - t0))"
  if [ -n "$bad" ]; then
    out config error "$bad"
    return 1
  fi
  out config restored_files "$n"
}

drill_config() {
  local archive
  if [ "$FROM" = offsite ]; then
    fetched config config || return 0
    archive="$FETCHED_PATH"
  else
    archive="$(newest_backup f 'config_*.tar.gz' "$BACKUP_DIR/config")"
  fi
  if [ -z "$archive" ]; then
    out config error "no config archive in $BACKUP_DIR/config"
    return 0
  fi
  out config backup "$archive"
  out config backup_epoch "$(backup_epoch "$archive")"
  out config size_bytes "$(stat -c %s -- "$archive")"
  out config manifest_b64 "$(b64 "$archive.manifest.json")"
  if [ "$MODE" = live ]; then
    live_config "$archive"
    return 0
  fi
  timed_restore config restore-config.sh "$archive" --force --target "$WORK/config" || return 0
  verify_config_tree "$archive" "$WORK/config" || return 0
  rm -rf -- "${WORK:?}/config"
  out config restored ok
}

if [ "$MODE" = live ]; then
  live_recovery
else
  drill_dump database daily
  FETCH_MS=0
  drill_media
  FETCH_MS=0
  drill_config
fi
# The older tiers go into the scratch database in both modes: restoring them over live data would
# only replace the newest data with older data.
FETCH_MS=0
drill_dump weekly weekly
FETCH_MS=0
drill_dump monthly monthly
