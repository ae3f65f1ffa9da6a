#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: backup-database-weekly.sh [--help]
# Summary: Weekly long-term PostgreSQL backup of the application, with the ISO week in the name.
#
#   Writes $BACKUP_DIR/database/weekly/${APP_NAME}_weekly_YYYY-Www_YYYY-MM-DD_HH-MM-SS.dump (ISO week,
#   date +%G-W%V) with .sha256 and .manifest.json, exactly like the daily backup (it is
#   backup-database.sh under this name), then deletes weekly backups older than
#   RETENTION_WEEKLY_WEEKS weeks among the verified ones, always keeping the newest
#   RETENTION_KEEP_MIN (encrypted like the daily dump when the database is in ENCRYPT_SCOPE).
#   With OFFSITE_ENABLED every weekly dump not yet off-site is copied to database/weekly/ in the
#   bucket and verified there. Settings: BACKUP_CONF (default LIB_DEFAULT_CONF in lib/host.sh).
#   Log: $LOG_DIR/backup-database-weekly.log.
#
#   Exit: 0 OK, 1 failure (alerted), 75 another run is in progress, 78 configuration error.
set -Eeuo pipefail

# backup-database.sh does the work: started under this name (in $0), it makes the weekly kind.
# shellcheck source=backup-database.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-database.sh"
