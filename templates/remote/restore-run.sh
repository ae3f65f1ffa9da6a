#!/bin/bash
# Summary: the provisioner's `restore` on one host, after the operator confirmed on the control
# machine: runs the INSTALLED restore script of the component (restore-database.sh, -media.sh or
# -config.sh, with --force: the confirmation was given there) as root from / with cron's clean
# environment, as a person would run it with sudo; the script takes its pre-restore backup, ends
# sessions, restores, verifies against the manifest, and puts things back on a failure. Prints
# "RUN|field|value" lines (its report and log base64-encoded), then appends the attempt to the
# audit log: AUDIT_HEAD (the JSON object's first fields, from the control machine) completed with
# the result, exit code and duration.
#
# Sent over SSH by src/restore/job.ts, never installed, after this run's values (as in common.sh;
# COMPONENT; BACKUP_PATH, the restore point's path; TARGET_DB, or TARGET (empty: the script's
# default); AUDIT_LOG; AUDIT_HEAD; AGE_IDENTITY: for an encrypted backup, the identity, handed to the
# restore script on a pipe by common.sh's with_identity),
# common.sh, lib/newest.sh and audit.sh.
set -Euo pipefail
umask 077

run() { printf 'RUN|%s|%s\n' "$1" "${2//$'\n'/ }"; }

# As root from /, with the environment cron gives the jobs (nothing of this SSH session's).
as_root_clean() {
  (cd / && env -i SHELL=/bin/bash PATH="$CRON_PATH" HOME=/root LOGNAME=root USER=root "$@")
}

case "$COMPONENT" in
  database) args=("$SCRIPTS/restore-database.sh" "$BACKUP_PATH" --force --target-db "$TARGET_DB") ;;
  media) args=("$SCRIPTS/restore-media.sh" "$BACKUP_PATH" --force) ;;
  config) args=("$SCRIPTS/restore-config.sh" "$BACKUP_PATH" --force) ;;
  *) run error "unknown component $COMPONENT"; exit 0 ;;
esac
# Without --target the script restores where the live data is (the media folder or volume, the app).
if [ "$COMPONENT" != database ] && [ -n "$TARGET" ]; then args+=(--target "$TARGET"); fi

out="$(mktemp)"
err="$(mktemp)"
trap 'rm -f -- "$out" "$err"' EXIT
# A dropped connection (HUP) or a kill reaches the restore script, which rolls back; this script
# waits for it and still writes the audit line, before it prints anything (stdout may be gone).
signal=""
trap 'signal=HUP' HUP
trap 'signal=TERM' TERM
trap 'signal=INT' INT
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
t0="$(now_ms)"
rc=0
if [[ "$BACKUP_PATH" == *.age ]]; then
  with_identity as_root_clean "${args[@]}" >"$out" 2>"$err" </dev/null || rc=$?
else
  as_root_clean "${args[@]}" >"$out" 2>"$err" </dev/null || rc=$?
fi
took=$(($(now_ms) - t0))
result=success
[ "$rc" = 0 ] || result=failed
audit="$(audit_append "${AUDIT_HEAD}\"result\":\"$result\",\"exit_code\":$rc,\"duration_ms\":$took,\"finished_at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"${signal:+,\"signal\":\"$signal\"}}")"
run started_at "$started"
run exit "$rc"
run rto_ms "$took"
run report_b64 "$(base64 -w0 -- "$out")"
run log_b64 "$(tail -n 40 -- "$err" | base64 -w0)"
printf '%s\n' "$audit"
