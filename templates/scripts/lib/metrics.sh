# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's Prometheus metrics: check-backups writes them, after the status
# JSON, to $METRICS_TEXTFILE_DIR/<app>_backup.prom for node_exporter's textfile collector, in the
# text exposition format (HELP/TYPE lines, one group per metric), atomically (a temp file in the
# same directory, then a rename: node_exporter never reads half a file). Sourced by backup-lib.sh;
# uses lib/core.sh, lib/newest.sh, lib/checksums.sh, lib/alerts.sh and lib/docker.sh.
#
# What it reads, besides the backups themselves:
#   - check-backups' STATUS (check → OK/WARNING/CRITICAL), DISK_USED and the overall status;
#   - OFFSITE_NEWEST_EPOCH, an associative array kind → epoch seconds of the newest off-site copy
#     of that kind, when the off-site check has set it (kinds as below: database, database_weekly,
#     media, config, ...);
#   - $STATE_DIR/<job>.failures (lib/alerts.sh): consecutive failures per job;
#   - $STATE_DIR/last-drill.json, when a drill has written it on this host:
#       {"finished_at": "2026-03-01T10:00:00Z", "verdict": "PASSED" | "FAILED",
#        "rto_ms_total": 312000 | null, "rpo_seconds_max": 7200 | null}
#
# Metrics (labels: app; kind = database | database_weekly | media | config | docker_volume (with
# volume); check = a check of the status JSON; job = a backup job):
#   cep_backup_check_timestamp_seconds, cep_backup_overall_status, cep_backup_check_status
#   (0 OK, 1 WARNING, 2 CRITICAL), cep_backup_last_success_timestamp_seconds, cep_backup_age_seconds,
#   cep_backup_size_bytes, cep_backup_files, cep_backup_database_tables, cep_backup_kept,
#   cep_backup_job_consecutive_failures, cep_backup_offsite_last_success_timestamp_seconds,
#   cep_backup_offsite_age_seconds, cep_backup_drill_last_timestamp_seconds, cep_backup_drill_passed,
#   cep_backup_drill_rto_seconds, cep_backup_drill_rpo_seconds, cep_backup_disk_used_percent,
#   cep_backup_disk_size_bytes, cep_backup_disk_avail_bytes.

# The metric families, in the order they are written: name|type|help.
METRIC_FAMILIES=(
  "cep_backup_check_timestamp_seconds|gauge|When check-backups last ran (these metrics' freshness)."
  "cep_backup_overall_status|gauge|Overall backup health: 0 OK, 1 WARNING, 2 CRITICAL."
  "cep_backup_check_status|gauge|Status of each check of check-backups: 0 OK, 1 WARNING, 2 CRITICAL."
  "cep_backup_last_success_timestamp_seconds|gauge|When the newest backup of a kind was taken."
  "cep_backup_age_seconds|gauge|Age of the newest backup of a kind."
  "cep_backup_size_bytes|gauge|Size of the newest backup of a kind (a media snapshot: its files' bytes)."
  "cep_backup_files|gauge|Files in the newest backup of a kind (media snapshot files, archive entries)."
  "cep_backup_database_tables|gauge|Tables in the newest database dump (from its manifest)."
  "cep_backup_kept|gauge|Backups of a kind kept on disk."
  "cep_backup_job_consecutive_failures|gauge|Consecutive failures of a backup job (0 after a success)."
  "cep_backup_offsite_last_success_timestamp_seconds|gauge|When the newest off-site copy of a kind was taken."
  "cep_backup_offsite_age_seconds|gauge|Age of the newest off-site copy of a kind."
  "cep_backup_drill_last_timestamp_seconds|gauge|When the last restore drill of this host finished."
  "cep_backup_drill_passed|gauge|Verdict of the last restore drill: 1 PASSED, 0 FAILED."
  "cep_backup_drill_rto_seconds|gauge|Restore time measured by the last drill."
  "cep_backup_drill_rpo_seconds|gauge|Age of the data the last drill restored."
  "cep_backup_disk_used_percent|gauge|Used space of the filesystem holding the backups, percent."
  "cep_backup_disk_size_bytes|gauge|Size of the filesystem holding the backups."
  "cep_backup_disk_avail_bytes|gauge|Free space of the filesystem holding the backups."
)
declare -A METRIC_SAMPLES=()

# _metric_label_value VALUE: VALUE escaped for a label ("\\", "\"", "\n").
_metric_label_value() {
  local s="${1//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '%s' "${s//$'\n'/\\n}"
}

# metric NAME VALUE [LABEL=VALUE...]: add a sample (app is always a label). Non-numeric values are
# dropped: an unknown is an absent series, not a 0.
metric() {
  local name="$1" value="$2" labels kv
  shift 2
  [[ "$value" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || return 0
  labels="app=\"$(_metric_label_value "$APP_NAME")\""
  for kv in "$@"; do labels+=",${kv%%=*}=\"$(_metric_label_value "${kv#*=}")\""; done
  METRIC_SAMPLES[$name]+="$name{$labels} $value"$'\n'
}

# _status_value OK|WARNING|CRITICAL: 0, 1 or 2.
_status_value() {
  case "$1" in
    OK) echo 0 ;;
    WARNING) echo 1 ;;
    *) echo 2 ;;
  esac
}

# _metrics_backup KIND PATH COUNT [LABEL=VALUE...]: the series of one kind's newest backup PATH
# ("" when there is none) and how many are kept.
_metrics_backup() {
  local kind="$1" path="$2" count="$3" epoch size man
  shift 3
  metric cep_backup_kept "$count" "kind=$kind" "$@"
  [[ -n "$path" && -e "$path" ]] || return 0
  epoch="$(backup_epoch "$path")"
  man="$(manifest_path "$path")"
  metric cep_backup_last_success_timestamp_seconds "$epoch" "kind=$kind" "$@"
  metric cep_backup_age_seconds "$(($(date +%s) - epoch))" "kind=$kind" "$@"
  if [[ -d "$path" ]]; then
    size="$(manifest_num "$man" bytes)"
    metric cep_backup_files "$(manifest_num "$man" files)" "kind=$kind" "$@"
  else
    size="$(file_size "$path")"
    [[ ! -f "$man" ]] || metric cep_backup_files "$(manifest_num "$man" file_count)" "kind=$kind" "$@"
    [[ ! -f "$man" ]] || metric cep_backup_database_tables "$(manifest_num "$man" table_count)" "kind=$kind" "$@"
  fi
  metric cep_backup_size_bytes "$size" "kind=$kind" "$@"
}

# _count DIR TYPE GLOB: backups of a kind kept in DIR (not partials, not sidecars).
_count() {
  [[ -d "$1" ]] || { echo 0; return 0; }
  find "$1" -mindepth 1 -maxdepth 1 -type "$2" -name "$3" ! -name '.*' ! -name '*.sha256' ! -name '*.manifest.json' | wc -l
}

# _metrics_backups: every kind's newest backup, as check-backups picks it.
_metrics_backups() {
  local db="$BACKUP_DIR/database" snap="" snap_glob='[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
  _metrics_backup database "$(newest_backup f "${APP_NAME}_*.dump" "$db")" "$(_count "$db" f "${APP_NAME}_*.dump")"
  _metrics_backup database_weekly "$(newest_backup f "${APP_NAME}_weekly_*.dump" "$db/weekly")" "$(_count "$db/weekly" f "${APP_NAME}_weekly_*.dump")"
  [[ ! -e "$BACKUP_DIR/media/latest" ]] || snap="$(readlink -f -- "$BACKUP_DIR/media/latest" || true)"
  _metrics_backup media "$snap" "$(_count "$BACKUP_DIR/media" d "$snap_glob")"
  _metrics_backup config "$(newest_backup f 'config_*.tar.gz' "$BACKUP_DIR/config")" "$(_count "$BACKUP_DIR/config" f 'config_*.tar.gz')"
  local v dir="$BACKUP_DIR/docker-volumes"
  for v in "${DOCKER_VOLUMES[@]}"; do
    _metrics_backup docker_volume "$(newest_backup f "$(docker_volume_glob "$v")" "$dir")" "$(_count "$dir" f "$(docker_volume_glob "$v")")" "volume=$v"
  done
}

# _metrics_jobs: consecutive failures of the scheduled jobs (lib/alerts.sh's count).
_metrics_jobs() {
  local j
  for j in backup-database backup-database-weekly backup-media backup-config ${DOCKER_VOLUMES[0]:+backup-docker-volumes}; do
    metric cep_backup_job_consecutive_failures "$(JOB="$j" failure_count)" "job=$j"
  done
}

# _metrics_offsite: the off-site copies, from OFFSITE_NEWEST_EPOCH when the off-site check set it.
_metrics_offsite() {
  declare -p OFFSITE_NEWEST_EPOCH >/dev/null 2>&1 || return 0
  local -n newest_offsite=OFFSITE_NEWEST_EPOCH
  local kind now t
  now="$(date +%s)"
  for kind in "${!newest_offsite[@]}"; do
    t="${newest_offsite[$kind]}"
    [[ "$t" =~ ^[0-9]+$ ]] || continue
    metric cep_backup_offsite_last_success_timestamp_seconds "$t" "kind=$kind"
    metric cep_backup_offsite_age_seconds "$((now - t))" "kind=$kind"
  done
}

# _json_field FILE KEY: a top-level string or number field of a small JSON file this system wrote.
_json_field() {
  sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" -- "$1" | head -n 1
}

# _metrics_drill: the last drill's result, from $STATE_DIR/last-drill.json when a drill wrote it.
_metrics_drill() {
  local f="${STATE_DIR:-}/last-drill.json" at epoch verdict rto rpo
  [[ -n "${STATE_DIR:-}" && -f "$f" && ! -L "$f" ]] || return 0
  at="$(_json_field "$f" finished_at)"
  epoch="$(date -d "$at" +%s 2>/dev/null)" || epoch=""
  verdict="$(_json_field "$f" verdict)"
  rto="$(_json_field "$f" rto_ms_total)"
  rpo="$(_json_field "$f" rpo_seconds_max)"
  metric cep_backup_drill_last_timestamp_seconds "$epoch"
  case "$verdict" in
    PASSED) metric cep_backup_drill_passed 1 ;;
    FAILED) metric cep_backup_drill_passed 0 ;;
  esac
  [[ ! "$rto" =~ ^[0-9]+$ ]] || metric cep_backup_drill_rto_seconds "$((rto / 1000))"
  metric cep_backup_drill_rpo_seconds "$rpo"
}

# _metrics_disk: the filesystem holding BACKUP_DIR.
_metrics_disk() {
  local size avail
  read -r size avail < <(df -P -B1 -- "$BACKUP_DIR" | awk 'NR == 2 { print $2, $4 }')
  metric cep_backup_disk_used_percent "${DISK_USED:-}"
  metric cep_backup_disk_size_bytes "$size"
  metric cep_backup_disk_avail_bytes "$avail"
}

# metrics_text OVERALL: the whole file: HELP, TYPE and the samples of each family that has any.
metrics_text() {
  local overall="$1" check fam name type help
  metric cep_backup_check_timestamp_seconds "$(date +%s)"
  metric cep_backup_overall_status "$(_status_value "$overall")"
  for check in "${!STATUS[@]}"; do
    metric cep_backup_check_status "$(_status_value "${STATUS[$check]}")" "check=$check"
  done
  _metrics_backups
  _metrics_jobs
  _metrics_offsite
  _metrics_drill
  _metrics_disk
  for fam in "${METRIC_FAMILIES[@]}"; do
    IFS='|' read -r name type help <<<"$fam"
    [[ -n "${METRIC_SAMPLES[$name]:-}" ]] || continue
    printf '# HELP %s %s\n# TYPE %s %s\n%s' "$name" "$help" "$name" "$type" "$(LC_ALL=C sort <<<"${METRIC_SAMPLES[$name]%$'\n'}")"$'\n'
  done
}

# write_metrics OVERALL: with METRICS_TEXTFILE_DIR set, write $METRICS_TEXTFILE_DIR/<app>_backup.prom
# atomically. A directory it cannot write is a WARNING in the log, never a failed check.
write_metrics() {
  [[ -n "${METRICS_TEXTFILE_DIR:-}" ]] || return 0
  local dir="$METRICS_TEXTFILE_DIR" file text
  file="$dir/${APP_NAME}_backup.prom"
  if [[ ! -d "$dir" || ! -w "$dir" ]]; then
    log WARNING "metrics: cannot write to $dir (missing or not writable by $(id -un)); no metrics written"
    return 0
  fi
  text="$(metrics_text "$1")"
  if printf '%s\n' "$text" | write_atomic "$file" 0644; then
    log INFO "metrics: $(grep -vc '^#' <<<"$text") samples written to $file"
  else
    log WARNING "metrics: could not write $file"
  fi
}
