#!/bin/bash
# Summary: the facts of the provisioner's `restore` plan on one host, read-only: the component's
# restore points (points.sh, not verified here: the restore script verifies the one chosen before
# it changes anything), with OFFSITE=1 those in the bucket too (fetch-offsite.sh --list), and what
# a restore would replace: the live database (size, row count of
# every table) or the target folder (files and bytes). Prints "POINT|..." and "PLAN|field|value"
# lines, read by src/restore/plan.ts.
#
# Sent over SSH by src/restore/job.ts, never installed, after this run's values (the host's paths
# and database, as in common.sh; COMPONENT; TARGET_DB, the database a database restore replaces;
# TARGET, the folder a media or config restore writes into; OFFSITE), common.sh, lib/newest.sh and points.sh.
set -Euo pipefail
umask 077

plan() { printf 'PLAN|%s|%s\n' "$1" "${2//$'\n'/ }"; }

plan now "$(date +%s)"
case "$COMPONENT" in
  database) script=restore-database.sh kinds="database weekly monthly" ;;
  media) script=restore-media.sh kinds=media ;;
  config) script=restore-config.sh kinds=config ;;
  *) plan error "unknown component $COMPONENT"; exit 0 ;;
esac
if [ ! -x "$SCRIPTS/$script" ]; then
  plan error "$SCRIPTS/$script is not installed (run provision first)"
  exit 0
fi
# shellcheck disable=SC2086 # a list of words
list_points none $kinds
# shellcheck disable=SC2086 # a list of words
if [ "$OFFSITE" = 1 ]; then list_offsite $kinds; fi

# psql on the target database as the app's role (the installed pgpass file), one value per line.
psql_target() {
  as_cron env PGPASSFILE="$PGPASSFILE" PGCONNECT_TIMEOUT=10 PGOPTIONS='-c statement_timeout=60000' \
    psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$TARGET_DB" "$@"
}

live_database() {
  local exists rows
  exists="$(psql_admin -c "SELECT count(*) FROM pg_database WHERE datname = '$TARGET_DB'" 2>&1)" || {
    plan db_error "cannot ask PostgreSQL about $TARGET_DB: $(printf '%s' "$exists" | tail -n 1 | tr '|' '/')"
    return 0
  }
  plan db_exists "$exists"
  [ "$exists" = 1 ] || return 0
  plan db_bytes "$(psql_target -c 'SELECT pg_database_size(current_database())' 2>/dev/null || true)"
  # Exact counts in one query (what the restore will be compared with), within the timeout.
  if ! rows="$(psql_target -c "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name),
      (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text
    FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1" 2>&1)"; then
    plan db_error "row counts: $(printf '%s' "$rows" | tail -n 1 | tr '|' '/')"
    return 0
  fi
  while IFS='|' read -r t n; do
    [ -n "$t" ] && printf 'PLAN|table|%s|%s\n' "$t" "$n"
  done <<<"$rows"
}

live_folder() {
  plan target "$TARGET"
  if [ -d "$TARGET" ]; then
    plan target_exists 1
    local counts
    counts="$(find "$TARGET" -type f -printf '%s\n' 2>/dev/null | awk '{ n++; b += $1 } END { printf "%d %.0f", n, b }')"
    plan target_files "${counts% *}"
    plan target_bytes "${counts#* }"
  else
    plan target_exists 0
  fi
}

if [ "$COMPONENT" = database ]; then live_database; else live_folder; fi
plan complete 1
