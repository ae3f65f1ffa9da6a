# shellcheck shell=bash
# Summary: the helpers the provisioner's smoke test, status and drill scripts share. Sent with them
# (src/render/remote.ts puts this run's values first, then this file, then lib/newest.sh of the
# installed scripts, then the script itself); never installed.
# Needs SCRIPTS, BACKUP_DIR, BACKUP_USER, CRON_PATH, DB_HOST, DB_PORT, DB_USER and PGPASSFILE.

# Run a command as root from /, with the environment cron gives the jobs and nothing of this SSH
# session's (how npm run restore and a --live drill run the restore scripts: the live media and
# config need root for their owners and the app folder).
as_root_clean() {
  (cd / && env -i SHELL=/bin/bash PATH="$CRON_PATH" HOME=/root LOGNAME=root USER=root "$@")
}

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

# open_lock FILE: open FILE on fd 9 for flock, as root in a directory the backup user owns. Never
# follows a planted symlink into creating or writing anything: a missing file is created with
# noclobber (O_EXCL), a symlink is refused, and the file is opened read-only (flock needs no more).
# On refusal returns 1 with the reason in LOCK_ERROR.
open_lock() {
  mkdir -p -- "$(dirname -- "$1")"
  if [ -L "$1" ]; then
    # shellcheck disable=SC2034
    LOCK_ERROR="the lock $1 is a symbolic link (planted?): remove it"
    return 1
  fi
  [ -e "$1" ] || (set -C; : >"$1") 2>/dev/null || true
  if [ -L "$1" ] || [ ! -f "$1" ]; then
    # shellcheck disable=SC2034
    LOCK_ERROR="the lock $1 is not a regular file: remove it"
    return 1
  fi
  # shellcheck disable=SC2034 # read by the script that called it
  LOCK_ERROR=""
  exec 9<"$1"
}

# The age identity (AGE_IDENTITY, in this run's values only when a restore needs it) reaches the
# installed scripts and age on a pipe: never a file, never an argument.
# with_identity CMD...: CMD with "--identity /dev/fd/3" on a pipe holding the identity, when one was
# given (else CMD as it is).
with_identity() {
  if [ -n "${AGE_IDENTITY:-}" ]; then
    "$@" --identity /dev/fd/3 3< <(printf '%s\n' "$AGE_IDENTITY")
  else
    "$@"
  fi
}

# archive_cat FILE: a config archive's bytes (decrypted when it is an .age file).
archive_cat() {
  case "$1" in
    *.age) age -d -i <(printf '%s\n' "$AGE_IDENTITY") -- "$1" ;;
    *) cat -- "$1" ;;
  esac
}

# now_ms: the time in milliseconds (durations of steps and restores).
now_ms() { date +%s%3N; }
