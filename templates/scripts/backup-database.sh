#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: backup-database.sh [--help]
# Summary: Daily PostgreSQL backup of the application: pg_dump -Fc, verified, checksummed, with a manifest.
#
#   Writes $BACKUP_DIR/database/${APP_NAME}_YYYY-MM-DD_HH-MM-SS.dump with .sha256 (sha256sum -c format)
#   and .manifest.json (tables and row counts, versions, size, duration), then deletes daily
#   backups older than RETENTION_DAILY_DAYS among the verified ones, always keeping the newest
#   RETENTION_KEEP_MIN. With the database in ENCRYPT_SCOPE the dump is encrypted with age on its way
#   to the disk (.dump.age; the checksum covers the encrypted file, the manifest stays readable).
#   The first verified dump of each month is also kept in database/monthly (a hard link) for
#   RETENTION_MONTHLY_MONTHS months. With OFFSITE_ENABLED, every local dump not yet off-site (daily
#   and monthly) is copied to the bucket and verified there; a failed upload is a WARNING alert and
#   never fails the backup. Settings: BACKUP_CONF (default LIB_DEFAULT_CONF in lib/host.sh). Log:
#   $LOG_DIR/backup-database.log. backup-database-weekly.sh is this script under another name: it
#   writes the weekly kind (see its --help).
#
#   Exit: 0 OK, 1 failure (alerted), 75 another run is in progress, 78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

# The kind of backup: backup-database-weekly.sh sources this file, so $0 names the weekly script.
case "$(basename -- "$0")" in
  backup-database-weekly.sh) KIND=weekly ;;
  *) KIND=daily ;;
esac

# set_kind: where a backup of this kind goes, how it is named and how long it is kept (needs the
# configuration: call after lib_init).
set_kind() {
  if [[ "$KIND" == weekly ]]; then
    DEST="$BACKUP_DIR/database/weekly"
    NAME_PREFIX="${APP_NAME}_weekly_"
    KEEP_DAYS=$((RETENTION_WEEKLY_WEEKS * 7))
    OFFSITE_KINDS_OF_JOB=(weekly)
    REPORT_TITLE="WEEKLY DATABASE BACKUP REPORT"
    REPORT_RETENTION="; retention ${RETENTION_WEEKLY_WEEKS} weeks"
  else
    DEST="$BACKUP_DIR/database"
    NAME_PREFIX="${APP_NAME}_"
    KEEP_DAYS="$RETENTION_DAILY_DAYS"
    OFFSITE_KINDS_OF_JOB=(database monthly)
    REPORT_TITLE="DATABASE BACKUP REPORT"
    REPORT_RETENTION=""
  fi
}

# new_name: a fresh file name for this kind (the weekly one carries the ISO week, date +%G-W%V;
# .age when the dump is encrypted).
new_name() {
  if [[ "$KIND" == weekly ]]; then
    printf '%s%s_%s.dump%s' "$NAME_PREFIX" "$(date +%G-W%V)" "$(now_stamp)" "$(crypt_suffix database)"
  else
    printf '%s%s.dump%s' "$NAME_PREFIX" "$(now_stamp)" "$(crypt_suffix database)"
  fi
}

# Step 1: pre-flight: tools, connectivity, pg_dump major version against the server's.
preflight() {
  require_cmd flock tee mkfifo
  if crypt_for database; then require_cmd age; fi
  pg_preflight "$DB_NAME"
}

# Step 2-5: dump to a partial name, verify with pg_restore -l, checksum, manifest, rename.
create_backup() {
  local name
  name="$(new_name)"
  # Names have one-second resolution: a run right after another waits for a fresh name.
  while [[ -e "$DEST/$name" ]]; do sleep 1; name="$(new_name)"; done
  db_dump_verified "$DEST" "$name" "$KIND"
}

# Step 6: the daily job keeps the first verified dump of each month as the monthly one (before
# retention may delete it from database/).
keep_monthly() {
  [[ "$KIND" == daily ]] || return 0
  monthly_keep
}

# Step 7: retention among verified backups of this kind (weekly: weeks → days; encrypted ones
# too), and of the monthly tier.
apply_retention() {
  retention_prune "$DEST" "${NAME_PREFIX}*.dump*" "$KEEP_DAYS" "$RETENTION_KEEP_MIN"
  [[ "$KIND" != daily ]] || monthly_prune
}

# Step 8: the off-site copy: every local dump of this job's kinds not yet in the bucket.
upload_offsite() {
  local kind
  for kind in "${OFFSITE_KINDS_OF_JOB[@]}"; do offsite_sync_files "$kind"; done
}

# Step 9: the report.
report() {
  log INFO "========================================"
  log INFO "$REPORT_TITLE"
  log INFO "Database: $DB_NAME at $DB_HOST:$DB_PORT (PostgreSQL $SERVER_VERSION)"
  log INFO "File: $DUMP_FILE"
  log INFO "Size: $(human_size "$DUMP_SIZE") ($DUMP_SIZE bytes); tables: $DUMP_TABLES; rows: $DUMP_ROWS"
  log INFO "Duration: ${DUMP_MS} ms; pg_dump $PG_DUMP_VERSION$REPORT_RETENTION"
  log INFO "========================================"
}

main() {
  parse_no_args "$@"
  local job=backup-database
  [[ "$KIND" == daily ]] || job=backup-database-weekly
  lib_init "$job"
  acquire_lock "$job"
  set_kind
  job_start
  remove_stale_partials "$DEST"
  preflight
  create_backup
  keep_monthly
  apply_retention
  upload_offsite
  report
}

main "$@"
