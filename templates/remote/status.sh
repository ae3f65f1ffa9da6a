#!/bin/bash
# Summary: the provisioner's `status` command on one host: runs the installed check-backups.sh
# --no-alert as the backup user (as cron would), then reads the status JSON it wrote and the newest
# database dump (daily or weekly). Prints "STATUS|field|value" lines; the JSON travels base64-encoded.
#
# Sent over SSH by src/run/status.ts, never installed, after this run's values (the host's paths
# and database, as in common.sh), common.sh and lib/newest.sh.
set -Euo pipefail
umask 077

line() { printf 'STATUS|%s|%s\n' "$1" "${2//$'\n'/ }"; }

if [ ! -x "$SCRIPTS/check-backups.sh" ]; then
  line error "$SCRIPTS/check-backups.sh is not installed (run provision first)"
  exit 0
fi

# The status file must be the one this run wrote: its mtime is compared with the start (whole seconds).
started=$(date +%s)
line started "$started"
# 75: another check is running; wait for it (a few times) rather than report its old file.
rc=75
out=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
  rc=0
  out=$(as_cron "$SCRIPTS/check-backups.sh" --no-alert 2>&1) || rc=$?
  [ "$rc" = 75 ] || break
  sleep 3
done
line check_exit "$rc"
if [ "$rc" != 0 ] && [ "$rc" != 1 ] && [ "$rc" != 2 ]; then
  line check_output "$(printf '%s' "$out" | tail -n 3 | tr '|' '/')"
fi

if [ -f "$STATUS_FILE" ]; then
  line status_mtime "$(stat -c %Y -- "$STATUS_FILE")"
  line status_json "$(base64 -w0 -- "$STATUS_FILE")"
else
  line status_missing "$STATUS_FILE"
fi

# The newest dump, daily or weekly (by the timestamp in its name), and when it was taken.
newest="$(newest_backup f "${APP}_*.dump" "$BACKUP_DIR/database" "$BACKUP_DIR/database/weekly")"
if [ -n "$newest" ]; then
  line newest_dump "$(basename -- "$newest")"
  line newest_dump_kind "$([ "$(dirname -- "$newest")" = "$BACKUP_DIR/database/weekly" ] && echo weekly || echo daily)"
  line newest_dump_time "$(backup_epoch "$newest")"
  line newest_dump_bytes "$(stat -c %s -- "$newest")"
fi
line now "$(date +%s)"
