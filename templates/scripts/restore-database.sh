#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: restore-database.sh <dump> [--force] [--target-db NAME] [--jobs N] [--identity FILE]
# Summary: Restore the application's PostgreSQL database from a backup-database.sh dump.
#
#   <dump>            a .dump file ($BACKUP_DIR/database/..., weekly/ or pre-restore/), or its name
#   --force           do not ask for confirmation (without a terminal a restore needs it)
#   --target-db NAME  restore into database NAME instead of $DB_NAME (a scratch database for a
#                     drill; a lowercase identifier)
#   --jobs N          parallel pg_restore jobs (default: 1 below 64 MiB, else up to 4 by CPU count)
#   --identity FILE   the age identity that decrypts an encrypted dump (.dump.age): a file, "-"
#                     (stdin: then --force) or /dev/fd/N; it is read once and kept in memory only
#   -h, --help        this text
#
#   Steps: 1 verify the dump's SHA-256 (a missing or wrong checksum refuses) and decrypt an
#   encrypted one into an unlinked temporary file (a wrong or missing identity refuses); 2 test the connection
#   and read the dump with pg_restore -l; 3 confirm; 4 terminate the target's connections and
#   rename it aside (<db>_pre_restore_<time>: clients that reconnect find no database rather than
#   write into one about to go); 5 dump it to
#   $BACKUP_DIR/database/pre-restore/pre-restore_<db>_<timestamp>.dump (checksum and manifest; it
#   can be restored with this script); 6 create the target empty (owner $DB_USER); 7 pg_restore
#   --no-owner; 8 compare every table and its row count with the dump's manifest; 9 drop the
#   database set aside; 10 print the report. A failure after step 4 puts the original database
#   back under its name. Log: $LOG_DIR/restore-database.log (its "steps (s): ..." line says how
#   long each step took).
#
#   Exit: 0 restored and verified, 1 failure, refusal or usage error, 75 a database backup or
#   restore is running, 78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

# How long each step took, logged in one line at the end ("steps (s): ..."), so that the log says
# where a restore's time went. EPOCHREALTIME (bash 5) costs no process.
STEP_TIMES=()

# _now_us: the time in microseconds, in NOW_US (no subshell).
_now_us() {
  local t="${EPOCHREALTIME:-}"
  if [[ -z "$t" ]]; then t="$(date +%s.%6N)"; fi
  NOW_US="${t//[.,]/}"
}
_now_us
STEP_T0="$NOW_US"

# _seconds_since T0_US: the seconds since T0_US, with three decimals, in SECONDS_SINCE.
_seconds_since() {
  _now_us
  local d=$((NOW_US - $1))
  printf -v SECONDS_SINCE '%d.%03d' $((d / 1000000)) $(((d / 1000) % 1000))
}

# step NAME FUNCTION [ARG...]: run one step of main and note its duration under NAME.
step() {
  local name="$1" t0
  shift
  _now_us
  t0="$NOW_US"
  "$@"
  _seconds_since "$t0"
  STEP_TIMES+=("$name $SECONDS_SINCE")
}

# log_step_times: the steps' durations in one log line, the run's last before the report.
log_step_times() {
  local line="" t
  for t in "${STEP_TIMES[@]}"; do line+="${line:+, }$t"; done
  _seconds_since "$STEP_T0"
  log INFO "steps (s): $line; total $SECONDS_SINCE"
}

parse_args() {
  parse_restore_args dump "give a .dump file made by backup-database.sh" \
    "--target-db:TARGET_DB:a database name" "--jobs:JOBS:a number" \
    "--identity:IDENTITY_FILE:a file holding the age identity" -- "$@"
  DUMP_ARG="$RESTORE_ARG"
  # The name ends up in SQL and file names: only plain lowercase identifiers.
  if [[ -n "$TARGET_DB" ]] && ! is_identifier "$TARGET_DB"; then
    usage_error "--target-db '$TARGET_DB' is not a valid database name (lowercase letters, digits and _, not starting with a digit, at most 63)"
  fi
  case "$TARGET_DB" in
    postgres | template0 | template1) usage_error "--target-db $TARGET_DB is a system database" ;;
  esac
  if [[ -n "$JOBS" ]] && ! [[ "$JOBS" =~ ^[1-9][0-9]?$ ]]; then usage_error "--jobs must be a number from 1 to 99"; fi
}

# psql_maint: psql on the maintenance database (postgres), SQL on stdin, stop on the first error,
# unaligned tuples only.
psql_maint() {
  pg_conn_args postgres
  PGCONNECT_TIMEOUT=10 "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "${PG_CONN[@]}"
}

# psql_target: the same on the target database.
psql_target() {
  pg_conn_args "$TARGET_DB"
  PGCONNECT_TIMEOUT=10 "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "${PG_CONN[@]}"
}

# Step 1: the checksum, before anything else. A parallel dump (an archived -Fd directory) is
# unpacked into a private directory on the same pass that hashes it: one read of the file.
verify_checksum_first() {
  local file="$DUMP_ARG"
  [[ "$file" == */* ]] || file="$BACKUP_DIR/database/$file"
  [[ -f "$file" ]] || die "dump $DUMP_ARG not found ($file is not a file)"
  DUMP_FORMAT="$(db_dump_format "$file")"
  if [[ "$DUMP_FORMAT" == directory-tar ]]; then
    unpack_verified "$file"
  else
    verified_backup_file "$DUMP_ARG" "$BACKUP_DIR/database" dump
  fi
  DUMP="$RESTORE_FILE"
  DUMP_NAME="$RESTORE_NAME"
  MANIFEST="$(manifest_path "$DUMP")"
  if [[ -f "$MANIFEST" ]]; then
    # The manifest must belong to this dump.
    local recorded actual
    recorded="$(grep -o -m1 '"sha256": *"[0-9a-f]*"' -- "$MANIFEST" | grep -o '[0-9a-f]\{64\}')" || true
    read -r actual _ <"$DUMP.sha256"
    if [[ -n "$recorded" && "$recorded" != "$actual" ]]; then
      die "manifest $(basename -- "$MANIFEST") records a different sha256 than $DUMP_NAME; refusing to restore"
    fi
  else
    MANIFEST=""
    log WARNING "no manifest next to $DUMP_NAME: tables will be listed but row counts cannot be compared"
  fi
}

# Step 1b: an encrypted dump is decrypted now, before anything is touched (lib/crypt.sh);
# pg_restore reads DUMP_DATA, the checks and the report name DUMP.
open_dump() {
  if [[ "$DUMP_FORMAT" == directory-tar ]]; then return 0; fi
  crypt_open "$DUMP"
  DUMP_DATA="$CRYPT_PLAIN"
}

# unpack_verified FILE: a parallel dump: tar -x into a new private directory (beside the dump when
# this user may write there, else in the temp directory; removed at exit) while the same bytes are
# hashed; a checksum that does not match refuses, as for any dump, before anything is changed.
# Sets RESTORE_FILE, RESTORE_NAME and DUMP_DATA (the directory pg_restore reads).
unpack_verified() {
  local file expected name base dir err actual
  RESTORE_FILE="$(readlink -f -- "$1")"
  RESTORE_NAME="$(basename -- "$RESTORE_FILE")"
  file="$RESTORE_FILE"
  expected=""
  name=""
  if [[ -f "$file.sha256" ]]; then read -r expected name <"$file.sha256" || true; fi
  [[ "$expected" =~ ^[0-9a-f]{64}$ && "${name#\*}" == "$RESTORE_NAME" ]] ||
    die "no valid checksum file $file.sha256: the dump cannot be verified; refusing to restore"
  require_cmd tar tee mkfifo
  base="${TMPDIR:-/tmp}"
  if ((EUID != 0)) && [[ -w "$(dirname -- "$file")" ]]; then base="$(dirname -- "$file")"; fi
  dir="$(mktemp -d -p "$base" --suffix=.partial .restore-XXXXXX)" || die "cannot create a directory in $base"
  on_exit_remove "$dir"
  err="$(mktemp)"
  on_exit_remove "$err"
  log INFO "unpacking the parallel dump $RESTORE_NAME and checking its SHA-256 on the same read"
  mkfifo -- "$err.fifo"
  on_exit_remove "$err.fifo" "$err.sum"
  {
    trap - ERR
    sha256_stdin >"$err.sum"
  } <"$err.fifo" &
  local ps=$! rc=0
  # GNU tar strips leading / and refuses .. in member names: nothing lands outside the directory.
  tee -p -- "$err.fifo" <"$file" | tar -xf - -C "$dir" --no-same-owner --no-same-permissions 2>"$err" || rc=$?
  wait "$ps" || true
  ((rc == 0)) || die "$RESTORE_NAME does not unpack: $(head -c 300 "$err" | tr '\n' ' '); refusing to restore"
  actual="$(cat -- "$err.sum" 2>/dev/null || true)"
  if [[ "$actual" != "$expected" ]]; then
    unmark_verified "$file"
    die "checksum MISMATCH: $RESTORE_NAME does not match $RESTORE_NAME.sha256 (corrupted or altered); refusing to restore"
  fi
  mark_verified "$file"
  log INFO "checksum OK: $RESTORE_NAME"
  DUMP_DATA="$dir"
}

# Step 2: connection and privileges; what the target is and how it is created.
test_connection() {
  TARGET_DB="${TARGET_DB:-$DB_NAME}"
  is_identifier "$TARGET_DB" || die "database name '$TARGET_DB' is not a plain lowercase identifier"
  pg_preflight postgres
  # One session answers all of it: may this role create databases, does the target exist, may it
  # drop it, and how to re-create it with the same encoding and locale.
  local row can_create owner_ok create_sql
  row="$(psql_maint <<<"SELECT (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user), count(d.datname), coalesce(bool_or(pg_has_role(current_user, d.datdba, 'MEMBER') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)), false), coalesce(max(format('CREATE DATABASE %I OWNER %I TEMPLATE template0 ENCODING %L LC_COLLATE %L LC_CTYPE %L', d.datname, current_user, pg_encoding_to_char(d.encoding), d.datcollate, d.datctype)), '') FROM pg_database d WHERE d.datname = '$TARGET_DB';")" ||
    die "cannot query the role of $DB_USER"
  IFS='|' read -r can_create TARGET_EXISTS owner_ok create_sql <<<"$row"
  [[ "$can_create" == t ]] || die "$DB_USER may not create databases (needs CREATEDB); nothing was changed"
  if [[ "$TARGET_EXISTS" == 1 ]]; then
    [[ "$owner_ok" == t ]] || die "$DB_USER does not own database $TARGET_DB and cannot drop it; nothing was changed"
    CREATE_SQL="$create_sql"
  else
    CREATE_SQL="CREATE DATABASE \"$TARGET_DB\" OWNER \"$DB_USER\" TEMPLATE template0"
  fi
  log INFO "target database: $TARGET_DB ($([[ "$TARGET_EXISTS" == 1 ]] && echo "exists: it will be replaced" || echo "does not exist: it will be created"))"
}

# Step 2b: a dump pg_restore can read (its table of contents).
read_toc() {
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  TOC_ENTRIES="$("$PG_RESTORE" -l -- "$DUMP_DATA" 2>"$err" | grep -c -v '^;')" ||
    die "pg_restore -l cannot read $DUMP_NAME: $(head -c 300 "$err" | tr '\n' ' '); refusing to restore"
  ((TOC_ENTRIES > 0)) || die "$DUMP_NAME has an empty table of contents; refusing to restore"
}

# Step 2c: the manifest's tables and row counts, to compare with the restored database.
read_manifest() {
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  EXPECTED="$(mktemp)"
  on_exit_remove "$EXPECTED"
  if [[ -n "$MANIFEST" ]]; then
    # PostgreSQL parses the manifest's JSON (no jq needed); the text travels on stdin inside a
    # dollar quote whose tag cannot occur in it.
    local tag="m${RUN_ID//-/}"
    grep -q -F -- "\$$tag\$" "$MANIFEST" && die "manifest $MANIFEST cannot be read safely"
    {
      printf 'SELECT t->>%s, t->>%s, t->>%s FROM json_array_elements(($%s$' "'schema'" "'name'" "'rows'" "$tag"
      cat -- "$MANIFEST"
      printf '$%s$)::json -> %s) AS t;\n' "$tag" "'tables'"
    } | psql_maint 2>"$err" | LC_ALL=C sort >"$EXPECTED" ||
      die "manifest $(basename -- "$MANIFEST") is not valid JSON with a tables list: $(head -c 300 "$err" | tr '\n' ' '); refusing to restore"
    EXPECTED_TABLES="$(grep -c . "$EXPECTED" || true)"
    log INFO "manifest: $EXPECTED_TABLES tables with row counts to compare after the restore"
  fi
}

# Step 3: --force or a "yes" at a terminal.
confirm() {
  confirm_restore "$FORCE" "Restore $DUMP_NAME into database $TARGET_DB on $DB_HOST:$DB_PORT? $([[ "$TARGET_EXISTS" == 1 ]] && echo "Database $TARGET_DB will be DROPPED and re-created (a pre-restore dump is taken first)." || echo "Database $TARGET_DB will be created.")"
}

# Step 4: dump what is there now (verified, checksummed, with a manifest) before dropping anything.
# Step 4: end the target's sessions and rename it aside, so nothing writes to it while it is dumped
# and replaced (the app usually connects as the same role: only a missing name keeps it out).
ASIDE=""
PRE_RESTORE=""
# Sessions this role may end (its own, or any as superuser / pg_signal_backend): one it may not
# end must not stop the others from being ended.
TERMINABLE="pid <> pg_backend_pid() AND (pg_has_role(current_user, usesysid, 'MEMBER') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'))"
set_aside() {
  [[ "$TARGET_EXISTS" == 1 ]] || return 0
  local aside attempt
  # 36 + 13 + 14 = 63 characters at most: PostgreSQL cuts longer names, which could collide.
  aside="${TARGET_DB:0:36}_pre_restore_$(date +%Y%m%d%H%M%S)"
  if [[ "$(psql_maint <<<"SELECT count(*) FROM pg_database WHERE datname = '$aside';")" != 0 ]]; then
    die "a database named $aside already exists (an earlier restore's?): drop or rename it first; nothing was changed"
  fi
  # Known, and the restore marked as started, BEFORE the rename is sent: a signal while it waits on
  # a lock (or right after it commits) finds what may have to be put back; put_back then finds out
  # whether the rename happened.
  ASIDE="$aside"
  RESTORE_STARTED=1
  local rc
  for attempt in 1 2 3 4 5; do
    psql_maint <<<"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$TARGET_DB' AND $TERMINABLE;" >/dev/null 2>&1 || true
    # In the background: a signal is handled at once by `wait`, not after the RENAME returns.
    psql_maint <<<"ALTER DATABASE \"$TARGET_DB\" RENAME TO \"$aside\";" 2>/dev/null &
    RENAME_PID=$!
    rc=0
    wait "$RENAME_PID" || rc=$?
    RENAME_PID=""
    if ((rc == 0)); then
      log INFO "ended the sessions of $TARGET_DB and set it aside as $ASIDE (attempt $attempt)"
      return 0
    fi
    sleep 1
  done
  die "could not set $TARGET_DB aside: sessions keep reconnecting or belong to roles $DB_USER may not end (stop the application first); nothing was changed"
}

# stop_own_statements: end this run's own statements still running on the server (a RENAME waiting
# on a lock whose psql was killed keeps waiting there, and would rename the database later), so that
# the state put_back finds is final. This run's sessions carry PGAPPNAME.
stop_own_statements() {
  if [[ -n "${RENAME_PID:-}" ]]; then kill "$RENAME_PID" 2>/dev/null || true; fi
  local attempt left
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    left="$(psql_maint <<<"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '$PGAPPNAME' AND pid <> pg_backend_pid();" 2>/dev/null)" || left=""
    [[ "$left" == 0 ]] && return 0
    sleep 0.5
  done
  log WARNING "could not end this restore's own statements on the server (application_name $PGAPPNAME)"
}

# On a failure after step 4: the partly restored target goes, the original comes back. Whether the
# rename happened is found out here, not assumed.
RENAME_PID=""
# How long put_back waits for PostgreSQL to answer again (a server restarted, or stopped by hand,
# during the restore): what it finds then is what it acts on, never a guess made while it is down.
PUT_BACK_WAIT_S="${RESTORE_PUT_BACK_WAIT_S:-120}"
pg_answers() {
  local waited=0
  until psql_maint <<<"SELECT 1;" >/dev/null 2>&1; do
    ((waited < PUT_BACK_WAIT_S)) || return 1
    if ((waited == 0)); then log WARNING "PostgreSQL at $DB_HOST:$DB_PORT does not answer: waiting up to ${PUT_BACK_WAIT_S}s to put the original database back"; fi
    sleep 1
    waited=$((waited + 1))
  done
}
put_back() {
  [[ -n "$ASIDE" ]] || return 0
  if ! pg_answers; then
    # ASIDE stays set: the report names the database set aside and the command that puts it back.
    PUT_BACK_UNKNOWN=1
    log ERROR "PostgreSQL at $DB_HOST:$DB_PORT did not answer for ${PUT_BACK_WAIT_S}s: the original database may be set aside as $ASIDE; once the server is up: ALTER DATABASE \"$ASIDE\" RENAME TO \"$TARGET_DB\" (after dropping $TARGET_DB if it exists)"
    return 0
  fi
  stop_own_statements
  if [[ "$(psql_maint <<<"SELECT count(*) FROM pg_database WHERE datname = '$ASIDE';" 2>/dev/null)" != 1 ]]; then
    if [[ "$(psql_maint <<<"SELECT count(*) FROM pg_database WHERE datname = '$TARGET_DB';" 2>/dev/null)" == 1 ]]; then
      log WARNING "the rename was stopped before it happened: $TARGET_DB is in place"
    else
      log ERROR "neither $TARGET_DB nor $ASIDE is there (or PostgreSQL cannot be asked): check the databases of $DB_HOST:$DB_PORT"
    fi
    ASIDE=""
    return 0
  fi
  # The pre-restore dump's snapshot session may still be open on it.
  db_snapshot_close
  local force="" attempt
  if [[ "$SERVER_MAJOR" =~ ^[0-9]+$ ]] && ((SERVER_MAJOR >= 13)); then force=" WITH (FORCE)"; fi
  psql_maint <<<"DROP DATABASE IF EXISTS \"$TARGET_DB\"$force;" >/dev/null 2>&1 || true
  for attempt in 1 2 3 4 5; do
    psql_maint <<<"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$ASIDE' AND $TERMINABLE;" >/dev/null 2>&1 || true
    if psql_maint <<<"ALTER DATABASE \"$ASIDE\" RENAME TO \"$TARGET_DB\";" 2>/dev/null; then
      log WARNING "the original database was put back as $TARGET_DB: $TARGET_DB is in place"
      PUT_BACK=1
      ASIDE=""
      return 0
    fi
    sleep 1
  done
  log ERROR "could not put the original database back: it is still there as $ASIDE (ALTER DATABASE \"$ASIDE\" RENAME TO \"$TARGET_DB\")"
}

# Step 9: the restore verified, the database set aside goes (its dump is the rollback).
drop_aside() {
  [[ -n "$ASIDE" ]] || return 0
  if psql_maint <<<"DROP DATABASE IF EXISTS \"$ASIDE\";"; then
    log INFO "dropped $ASIDE (the database before the restore; its pre-restore dump stays)"
  else
    log WARNING "could not drop $ASIDE, the database before the restore: drop it by hand once satisfied"
  fi
  ASIDE=""
}

pre_restore_backup() {
  PRE_RESTORE=""
  if [[ -z "$ASIDE" ]]; then
    log INFO "database $TARGET_DB does not exist: no pre-restore dump needed"
    return 0
  fi
  local saved_db="$DB_NAME"
  DB_NAME="$ASIDE"
  local dir="$BACKUP_DIR/database/pre-restore" name
  # Names have one-second resolution: a restore right after another waits for a fresh name.
  name="pre-restore_${TARGET_DB}_$(now_stamp).dump$(crypt_suffix database)"
  while [[ -e "$dir/$name" ]]; do sleep 1; name="pre-restore_${TARGET_DB}_$(now_stamp).dump$(crypt_suffix database)"; done
  db_dump_verified "$dir" "$name" pre-restore
  DB_NAME="$saved_db"
  PRE_RESTORE="$DUMP_FILE"
  [[ "$PRE_RESTORE" != *.age ]] || PRE_RESTORE_ID_HINT=" --identity FILE"
  log INFO "pre-restore dump written: $PRE_RESTORE"
}

# Steps 5-7: nobody connected, the old database gone, a new empty one owned by DB_USER.
recreate_database() {
  # Set aside in step 4, so normally gone by now; a leftover of the same name is dropped.
  if [[ "$(psql_maint <<<"SELECT count(*) FROM pg_database WHERE datname = '$TARGET_DB';")" == 1 ]]; then
    local terminated
    terminated="$(psql_maint <<<"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$TARGET_DB' AND pid <> pg_backend_pid() AND (pg_has_role(current_user, usesysid, 'MEMBER') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'));")" ||
      die "could not terminate the connections to $TARGET_DB"
    log INFO "terminated $terminated connection(s) to $TARGET_DB"
    local force=""
    # WITH (FORCE) (PostgreSQL 13+) also ends connections opened meanwhile.
    if [[ "$SERVER_MAJOR" =~ ^[0-9]+$ ]] && ((SERVER_MAJOR >= 13)); then force=" WITH (FORCE)"; fi
    psql_maint <<<"DROP DATABASE IF EXISTS \"$TARGET_DB\"$force;" || die "could not drop database $TARGET_DB"
    log INFO "dropped database $TARGET_DB"
  fi
  psql_maint <<<"$CREATE_SQL;" || die "could not create database $TARGET_DB"
  log INFO "created empty database $TARGET_DB (owner $DB_USER)"
}

# Step 8: pg_restore, in one transaction for small dumps, with parallel jobs for big ones.
restore_dump() {
  local size args=(--no-owner --exit-on-error)
  size="$(file_size "$DUMP")"
  if [[ -z "$JOBS" ]]; then
    JOBS=1
    if ((size >= 64 * 1024 * 1024)); then
      JOBS="$(nproc 2>/dev/null || echo 1)"
      ((JOBS <= 4)) || JOBS=4
    fi
  fi
  if ((JOBS > 1)); then args+=(--jobs="$JOBS"); else args+=(--single-transaction); fi
  local err t0
  err="$(mktemp)"
  on_exit_remove "$err"
  t0="$(date +%s)"
  pg_conn_args "$TARGET_DB"
  log INFO "pg_restore ${args[*]} $DUMP_NAME into $TARGET_DB"
  if ! "$PG_RESTORE" "${args[@]}" "${PG_CONN[@]}" -- "$DUMP_DATA" 2>"$err"; then
    die "pg_restore failed: $(head -c 800 "$err" | tr '\n' ' ')"
  fi
  RESTORE_SECONDS=$(($(date +%s) - t0))
  log INFO "pg_restore finished in ${RESTORE_SECONDS}s"
}

# Steps 8b-9: ANALYZE (the planner's statistics; a restore has none) and the row counts for the
# check, in two sessions at once: one scans every table, the other samples them.
analyze_and_count() {
  ACTUAL_COUNTS="$(mktemp)"
  on_exit_remove "$ACTUAL_COUNTS" "$ACTUAL_COUNTS.err"
  local pid rc=0
  { pg_table_counts_sql | psql_target >"$ACTUAL_COUNTS" 2>"$ACTUAL_COUNTS.err"; } &
  pid=$!
  psql_target <<<"ANALYZE;" >/dev/null 2>&1 || log WARNING "ANALYZE after the restore failed (the data is restored)"
  wait "$pid" || rc=$?
  ((rc == 0)) || die "could not count the rows of the restored database: $(head -c 300 "$ACTUAL_COUNTS.err" | tr '\n' ' ')"
}

# Step 9: every table of the manifest with the same row count, and no other table.
verify_restore() {
  local actual diffs
  actual="$(mktemp)"
  on_exit_remove "$actual"
  LC_ALL=C sort -- "$ACTUAL_COUNTS" >"$actual"
  ACTUAL_TABLES="$(grep -c . "$actual" || true)"
  ACTUAL_ROWS="$(awk -F'|' '{ s += $NF } END { print s + 0 }' "$actual")"
  if [[ -z "$MANIFEST" ]]; then
    VERIFIED="$ACTUAL_TABLES tables, $ACTUAL_ROWS rows (no manifest: not compared)"
    log WARNING "restored $ACTUAL_TABLES tables; no manifest to compare them with"
    return 0
  fi
  if ! diffs="$(diff -- "$EXPECTED" "$actual")"; then
    local line
    while IFS= read -r line; do
      case "$line" in
        "<"*) log ERROR "  manifest: ${line#< }" ;;
        ">"*) log ERROR "  restored: ${line#> }" ;;
      esac
    done <<<"$diffs"
    die "the restored database does not match the manifest (tables or row counts differ, above)"
  fi
  VERIFIED="$ACTUAL_TABLES tables and $ACTUAL_ROWS rows match the manifest"
  log INFO "verified: $VERIFIED"
}

# Step 10: the report.
report() {
  restore_report "DATABASE RESTORE REPORT" "Database: $TARGET_DB" SUCCESS \
    "Restored From: $DUMP_NAME" \
    "Backup Size: $(human_size "$(file_size "$DUMP")")" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none (database $TARGET_DB did not exist)}" \
    -- \
    "Database Host: $DB_HOST:$DB_PORT" \
    "Database User: $DB_USER" \
    "Verified: $VERIFIED" \
    "Duration: ${RESTORE_SECONDS}s (pg_restore, $JOBS job(s))" \
    ==
}

PUT_BACK=0
PUT_BACK_UNKNOWN=0
restore_failed_report() {
  put_back
  local rollback
  if ((PUT_BACK)); then
    rollback="none needed: the original database was put back as $TARGET_DB"
  elif ((PUT_BACK_UNKNOWN)); then
    rollback="PostgreSQL did not answer: if $TARGET_DB is missing once it is up, the original is there as $ASIDE: ALTER DATABASE \"$ASIDE\" RENAME TO \"$TARGET_DB\" (after dropping $TARGET_DB if it exists)"
  elif [[ -n "$ASIDE" ]]; then
    rollback="the original database is still there as $ASIDE: ALTER DATABASE \"$ASIDE\" RENAME TO \"$TARGET_DB\" (after dropping $TARGET_DB if it exists)"
  elif [[ -n "$PRE_RESTORE" ]]; then
    rollback="$(basename -- "$0") $PRE_RESTORE --target-db $TARGET_DB --force${PRE_RESTORE_ID_HINT:-}"
  else
    rollback="none needed: $TARGET_DB was not replaced"
  fi
  restore_report "DATABASE RESTORE REPORT" "Database: $TARGET_DB" "FAILED (exit $1): ${LIB_LAST_ERROR:-see $LOG_FILE}" \
    "Restored From: $DUMP_NAME" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none}" \
    "Rollback: $rollback" \
    ==
}

main() {
  parse_args "$@"
  crypt_init_identity "$IDENTITY_FILE"
  lib_init restore-database
  # Every session of this run is marked, so that its own statements can be found and ended.
  export PGAPPNAME="restore-database-$RUN_ID"
  # The backups' locks: a restore never runs while a daily or weekly dump (or another restore) does.
  acquire_lock backup-database
  acquire_lock backup-database-weekly
  restore_exit_trap
  log INFO "restore requested by $(id -un): dump $DUMP_ARG, target database ${TARGET_DB:-\$DB_NAME}, force=$FORCE"
  _seconds_since "$STEP_T0"
  STEP_TIMES+=("start $SECONDS_SINCE")
  step checksum verify_checksum_first
  step decrypt open_dump
  step preflight test_connection
  step toc read_toc
  step manifest read_manifest
  step confirm confirm
  # A target that does not exist yet: from here on the restore changes things.
  [[ "$TARGET_EXISTS" == 1 ]] || RESTORE_STARTED=1
  step set_aside set_aside
  step pre_restore_dump pre_restore_backup
  step create recreate_database
  step pg_restore restore_dump
  step analyze_count analyze_and_count
  step compare verify_restore
  step drop_aside drop_aside
  step prune restore_prune_after "$BACKUP_DIR/database/pre-restore" "pre-restore_*.dump*" is_verified_backup "$DUMP"
  log_step_times
  report
}

main "$@"
