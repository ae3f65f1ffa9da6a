# shellcheck shell=bash
# Summary: the helpers the provisioner's smoke test, status and drill scripts share. Sent with them
# (src/render/remote.ts puts this run's values first, then this file, then lib/newest.sh of the
# installed scripts, then the script itself); never installed.
# Needs SCRIPTS, BACKUP_DIR, BACKUP_USER, CRON_PATH, DB_HOST, DB_PORT, DB_USER and PGPASSFILE.

# Run a command as cron runs the backup jobs: as the backup user, from /, with an empty environment
# but the cron file's SHELL and PATH (a PATH or permission problem shows here, not at 2 AM).
as_cron() {
  if [ "$BACKUP_USER" = "$(id -un)" ]; then
    (cd / && env -i SHELL=/bin/bash PATH="$CRON_PATH" HOME="$BACKUP_DIR" LOGNAME="$BACKUP_USER" "$@")
  else
    (cd / && /usr/sbin/runuser -u "$BACKUP_USER" -- env -i SHELL=/bin/bash PATH="$CRON_PATH" HOME="$BACKUP_DIR" LOGNAME="$BACKUP_USER" "$@")
  fi
}

# psql on the maintenance database as the app's role, with the installed pgpass file.
psql_admin() {
  as_cron env PGPASSFILE="$PGPASSFILE" PGCONNECT_TIMEOUT=10 psql -X -q -At -v ON_ERROR_STOP=1 -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d postgres "$@"
}

# Drop a scratch database, ending its sessions where the server allows (PostgreSQL 13+).
drop_db() {
  psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 ||
    psql_admin -c "DROP DATABASE IF EXISTS \"$1\"" >/dev/null 2>&1
}

# now_ms: the time in milliseconds (durations of steps and restores).
now_ms() { date +%s%3N; }
