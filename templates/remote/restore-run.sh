#!/bin/bash
# Summary: the provisioner's `restore` on one host, after the operator confirmed on the control
# machine: runs the INSTALLED restore script of the component (restore-database.sh, -media.sh or
# -config.sh, with --force: the confirmation was given there) as root from / with cron's clean
# environment, as a person would run it with sudo; the script takes its pre-restore backup, ends
# sessions, restores, verifies against the manifest, and puts things back on a failure.
#
# From the off-site copy (FROM=offsite, or FALLBACK=1 and the local copy is missing or fails its
# checksum: said in a RUN|fallback line, never silently) the backup is first fetched with the
# INSTALLED fetch-offsite.sh, as the backup user, into a 0700 work folder beside the backup tree
# (on its filesystem, outside it and outside the app); fetch-offsite.sh verifies it (the server's
# MD5 and the SHA-256; a media snapshot rebuilt and every file checked) and leaves an encrypted dump
# or archive encrypted; the restore script then runs on the fetched copy exactly as on a local one.
# The work folder is removed whatever happens.
#
# Prints "RUN|field|value" lines (its report and log base64-encoded), then appends the attempt to
# the audit log: AUDIT_HEAD (the JSON object's first fields, from the control machine) completed
# with where the backup was read from, the result, exit code and duration.
#
# Sent over SSH by src/restore/job.ts, never installed, after this run's values (as in common.sh;
# COMPONENT; BACKUP_PATH, the restore point's local path; BACKUP_KIND and BACKUP_NAME, its kind and
# name as fetch-offsite.sh takes them; FROM, local or offsite; FALLBACK, 1 when a complete off-site
# copy is there to fall back on; TARGET_DB, or TARGET (empty: the script's default); AUDIT_LOG;
# AUDIT_HEAD; AGE_IDENTITY: for an encrypted backup (or an off-site media snapshot), the identity,
# handed to the installed scripts on a pipe by common.sh's with_identity), common.sh,
# lib/newest.sh, points.sh and audit.sh.
set -Euo pipefail
umask 077

run() { printf 'RUN|%s|%s\n' "$1" "${2//$'\n'/ }"; }
# note FIELD VALUE: a RUN line kept until the audit line is written (nothing is printed before it).
notes="$(mktemp)"
note() { run "$@" >>"$notes"; }

# The last words of a failed command's output: its last ERROR line without the log prefix.
last_error() {
  local s
  s="$(grep -E '\[(ERROR|CRITICAL)\]' -- "$1" | tail -n 1 || true)"
  [ -n "$s" ] || s="$(tail -n 1 -- "$1")"
  printf '%s' "$s" | sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+[+-][0-9]{4} \[[A-Z]+\] \[[a-z-]+\] //'
}

case "$COMPONENT" in
  database) script=restore-database.sh ;;
  media) script=restore-media.sh ;;
  config) script=restore-config.sh ;;
  *) run error "unknown component $COMPONENT"; exit 0 ;;
esac

# Work folders of restores from the off-site copy sit next to the backup directory. Each restore
# holds a shared lock while it runs; one that gets the lock exclusively knows every folder left
# there belongs to a restore that was killed, and removes them.
WORK_PARENT="$(dirname -- "$BACKUP_DIR")"
WORK_PREFIX=".${APP}-restore-"
WORK=""
out="$(mktemp)"
err="$(mktemp)"
cleanup() {
  rm -f -- "$out" "$err" "$out.fetch" "$notes"
  if [ -n "$WORK" ]; then
    rm -rf -- "$WORK" 2>/dev/null || true
    if [ -e "$WORK" ]; then run workdir_cleanup "left: $WORK"; else run workdir_cleanup "removed: $WORK"; fi
  fi
}
trap cleanup EXIT

# local_problem: why the local copy cannot be restored (missing, no checksum, fails it), or nothing.
# The same checks the restore script makes first (the whole SHA-256 of a dump or archive; a media
# snapshot's file count, bytes and a sample of its checksums).
local_problem() {
  if [ ! -e "$BACKUP_PATH" ]; then
    printf 'is missing'
  elif [ ! -f "$BACKUP_PATH.sha256" ]; then
    printf 'has no checksum file'
  elif [ -d "$BACKUP_PATH" ]; then
    local m
    m="$(manifest_of "$BACKUP_PATH")"
    if [ -z "$m" ]; then
      printf 'has no manifest'
    elif [ "$(verify_snapshot "$BACKUP_PATH" "$m")" != yes ]; then
      printf 'failed its checksum'
    fi
  elif [ "$(verify_file "$BACKUP_PATH")" != yes ]; then
    printf 'failed its checksum'
  fi
}

# fetch: the backup from the off-site copy into the work folder, verified by fetch-offsite.sh; sets
# RESTORE_PATH. The identity goes along only for media (objects are decrypted while the snapshot
# is rebuilt); a dump or archive stays encrypted and the restore script decrypts it.
fetch() {
  local rc=0 t0
  t0="$(now_ms)"
  if ! open_lock "$LOCK_DIR/restore-offsite.lock"; then
    note error "$LOCK_ERROR"
    return 1
  fi
  if flock -n -x 9; then
    find "$WORK_PARENT" -mindepth 1 -maxdepth 1 -type d -name "${WORK_PREFIX}*" -exec rm -rf -- {} + 2>/dev/null || true
  fi
  flock -s 9
  WORK="$(mktemp -d -- "$WORK_PARENT/${WORK_PREFIX}XXXXXX")" || { note error "cannot create a work folder in $WORK_PARENT"; return 1; }
  chown -- "$BACKUP_USER:" "$WORK" 2>/dev/null || chown -- "$BACKUP_USER" "$WORK" 2>/dev/null || true
  note workdir "$WORK"
  if [ "$BACKUP_KIND" = media ]; then
    with_identity as_cron "$SCRIPTS/fetch-offsite.sh" "$BACKUP_KIND" "$BACKUP_NAME" --to "$WORK/fetched" >"$out.fetch" 2>"$err" </dev/null || rc=$?
  else
    as_cron "$SCRIPTS/fetch-offsite.sh" "$BACKUP_KIND" "$BACKUP_NAME" --to "$WORK/fetched" >"$out.fetch" 2>"$err" </dev/null || rc=$?
  fi
  note fetch_ms "$(($(now_ms) - t0))"
  RESTORE_PATH="$(sed -n 's/^FETCHED|//p' -- "$out.fetch" | tail -n 1)"
  if [ "$rc" != 0 ] || [ -z "$RESTORE_PATH" ] || [ ! -e "$RESTORE_PATH" ]; then
    note error "fetching $BACKUP_KIND/$BACKUP_NAME from the off-site copy failed (fetch-offsite.sh exit $rc): $(last_error "$err")"
    return 1
  fi
  note fetched "$RESTORE_PATH"
}

# A dropped connection (HUP) or a kill reaches the restore script, which rolls back; this script
# waits for it and still writes the audit line, before it prints anything (stdout may be gone).
signal=""
trap 'signal=HUP' HUP
trap 'signal=TERM' TERM
trap 'signal=INT' INT
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
t0="$(now_ms)"
rc=0
source=local
fallback_why=""
RESTORE_PATH="$BACKUP_PATH"
if [ "$FROM" = local ] && [ "$FALLBACK" = 1 ]; then
  problem="$(local_problem)"
  if [ -n "$problem" ]; then
    fallback_why="the local copy $problem"
    note fallback "the local copy $BACKUP_PATH $problem; restoring the off-site copy"
    source=offsite
  fi
fi
[ "$FROM" != offsite ] || source=offsite
ran=0
if [ "$source" = offsite ] && ! fetch; then
  rc=1
else
  case "$COMPONENT" in
    database) args=("$SCRIPTS/$script" "$RESTORE_PATH" --force --target-db "$TARGET_DB") ;;
    *) args=("$SCRIPTS/$script" "$RESTORE_PATH" --force) ;;
  esac
  # Without --target the script restores where the live data is (the media folder or volume, the app).
  if [ "$COMPONENT" != database ] && [ -n "$TARGET" ]; then args+=(--target "$TARGET"); fi
  ran=1
  if [[ "$RESTORE_PATH" == *.age ]]; then
    with_identity as_root_clean "${args[@]}" >"$out" 2>"$err" </dev/null || rc=$?
  else
    as_root_clean "${args[@]}" >"$out" 2>"$err" </dev/null || rc=$?
  fi
fi
took=$(($(now_ms) - t0))
result=success
[ "$rc" = 0 ] || result=failed
audit="$(audit_append "${AUDIT_HEAD}\"from\":\"$source\",${fallback_why:+\"fallback\":\"$fallback_why\",}\"result\":\"$result\",\"exit_code\":$rc,\"duration_ms\":$took,\"finished_at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"${signal:+,\"signal\":\"$signal\"}}")"
cat -- "$notes"
run started_at "$started"
run source "$source"
run ran "$ran"
run exit "$rc"
run rto_ms "$took"
run report_b64 "$(base64 -w0 -- "$out")"
run log_b64 "$(tail -n 40 -- "$err" | base64 -w0)"
printf '%s\n' "$audit"
