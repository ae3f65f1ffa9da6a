# shellcheck shell=bash
# Summary: the audit log of restores on a host (the spec's "log all restore operations"): one JSON
# line per attempt, appended to AUDIT_LOG. Written as the backup user when it is not root (the log
# directory is that user's: a root write there could follow a link it planted). Sent with
# restore-run.sh and restore-audit.sh; needs AUDIT_LOG and BACKUP_USER.

# audit_append LINE: prints AUDIT|written|1 when the line is in the log, AUDIT|error|why when not.
audit_append() {
  local err
  if [ -L "$AUDIT_LOG" ]; then
    printf 'AUDIT|error|%s is a symbolic link: not written\n' "$AUDIT_LOG"
    return 0
  fi
  if [ "$BACKUP_USER" = "$(id -un)" ]; then
    mkdir -p -- "$(dirname -- "$AUDIT_LOG")" && err="$( { printf '%s\n' "$1" >>"$AUDIT_LOG"; } 2>&1)"
  else
    err="$(printf '%s\n' "$1" | /usr/sbin/runuser -u "$BACKUP_USER" -- tee -a -- "$AUDIT_LOG" 2>&1 >/dev/null)"
  fi
  if [ -z "$err" ] && [ -f "$AUDIT_LOG" ]; then
    printf 'AUDIT|written|1\n'
  else
    printf 'AUDIT|error|cannot append to %s: %s\n' "$AUDIT_LOG" "${err//$'\n'/ }"
  fi
}
