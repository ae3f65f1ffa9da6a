#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: check-backups.sh [--help] [--no-alert]
# Summary: Backup health check of the application: freshness, sizes, checksums, disk; writes the status JSON.
#
#   Checks the newest daily database dump, the weekly dump (only once one is due), the newest
#   monthly dump, the latest media snapshot, the newest config archive (age, minimum size or file
#   count, checksum or manifest), with DOCKER_VOLUMES each volume's newest tarball (check
#   docker_volumes), the disk usage of BACKUP_DIR and, with OFFSITE_ENABLED, the age of the newest
#   copy of each kind verified off-site (from the state the uploads record: no bucket access;
#   verify-backup-integrity.sh reads the bucket back weekly). Writes the status JSON to
#   STATUS_FILE atomically:
#     {"timestamp", "overall_status": OK|WARNING|CRITICAL, "critical_issues", "warnings",
#      "checks": {"database", "database_weekly", "database_monthly", "media", "config",
#      "docker_volumes" (with volumes), "disk_space", "offsite" (when enabled)}, "monthly": {...},
#      "offsite": {"enabled", "kinds": {KIND: {"status", "newest", "age_hours", "age_seconds",
#      "verified_at", "last_error"}}}, "issues": [...]}
#   With METRICS_TEXTFILE_DIR set, also writes <app>_backup.prom there (Prometheus node_exporter
#   textfile metrics, lib/metrics.sh). Alerts on warnings (labelled as warnings) and critical
#   issues; pings HEALTHCHECK_URL on OK and on warnings (success, with the warnings as body),
#   /fail on critical issues.
#
#   --no-alert   write the status and exit, without alerts or healthcheck pings
#
#   Exit: 0 OK, 1 warnings, 2 critical issues (also when the check itself fails),
#   75 another check is running, 78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

NO_ALERT=0
declare -A STATUS=()
ISSUES=()
CRITICAL_COUNT=0
WARNING_COUNT=0

parse_args() {
  while (($#)); do
    case "$1" in
      -h | --help) print_usage; exit 0 ;;
      --no-alert) NO_ALERT=1 ;;
      *) usage_error "unexpected argument: $1" ;;
    esac
    shift
  done
}

# issue LEVEL CHECK MESSAGE: record a finding; a check's status is its worst finding.
issue() {
  local level="$1" check="$2" msg="$3"
  ISSUES+=("$level|$check|$msg")
  log "$level" "$check: $msg"
  if [[ "$level" == CRITICAL ]]; then
    CRITICAL_COUNT=$((CRITICAL_COUNT + 1))
    STATUS[$check]=CRITICAL
  else
    WARNING_COUNT=$((WARNING_COUNT + 1))
    [[ "${STATUS[$check]:-OK}" == CRITICAL ]] || STATUS[$check]=WARNING
  fi
}

# newest DIR GLOB: the newest regular file in DIR matching GLOB, or nothing. By the timestamp in
# its name, as status, drills and the smoke test pick it (touching a file does not make it newer).
newest() {
  [[ -d "$1" ]] || return 0
  newest_backup f "$2" "$1"
}

# oldest_age DIR GLOB: age in seconds of the oldest match by the time in its name (0 when none):
# how long backups have run.
oldest_age() {
  [[ -d "$1" ]] || { echo 0; return 0; }
  local p t oldest=""
  while IFS= read -r -d '' p; do
    t="$(backup_name_epoch "$p")"
    if [[ -z "$oldest" ]] || ((t < oldest)); then oldest="$t"; fi
  done < <(find "$1" -mindepth 1 -maxdepth 1 -name "$2" ! -name '.*' ! -name '*.sha256' ! -name '*.manifest.json' -print0)
  if [[ -z "$oldest" ]]; then echo 0; else echo $(($(date +%s) - oldest)); fi
}

# A backup named more than this ahead of the clock is a clock problem (2 hours: the names are in
# local time, and a DST change moves it by one).
CLOCK_SKEW_TOLERANCE_S=7200

# name_age PATH: seconds since the backup was taken, by the time in its name (lib/newest.sh), the
# same rule by which it was picked as the newest: touching or copying a file does not make it fresh.
name_age() {
  echo $(($(date +%s) - $(backup_name_epoch "$1")))
}

# check_age CHECK PATH MAX_SECONDS LABEL: stale beyond MAX is a warning, beyond twice MAX critical;
# dated in the future, a warning (the clock is wrong now, or was when the backup was made).
check_age() {
  local check="$1" path="$2" max="$3" label="$4" age
  age="$(name_age "$path")"
  if ((age < -CLOCK_SKEW_TOLERANCE_S)); then
    issue WARNING "$check" "$label is dated $((-age / 3600)) hours in the future: the clock was ahead when it was made, or is behind now (clock skew: check NTP)"
  elif ((age > 2 * max)); then
    issue CRITICAL "$check" "$label is $((age / 3600)) hours old (limit $((max / 3600)) hours)"
  elif ((age > max)); then
    issue WARNING "$check" "$label is $((age / 3600)) hours old (limit $((max / 3600)) hours)"
  fi
}

# check_checksum CHECK FILE: mismatch is critical (the newest backup is corrupt), no checksum a warning.
check_checksum() {
  local check="$1" file="$2"
  case "$(checksum_status "$file")" in
    OK) ;;
    MISMATCH) issue CRITICAL "$check" "checksum MISMATCH: $(basename -- "$file") is corrupt" ;;
    MISSING_SUM) issue WARNING "$check" "$(basename -- "$file") has no valid .sha256 file" ;;
    *) issue CRITICAL "$check" "$(basename -- "$file") disappeared during the check" ;;
  esac
}

# check_newest_file CHECK DIR GLOB MAX_HOURS MIN_BYTES: the newest backup file in DIR matching GLOB
# (named CHECK in messages): present, fresh, big enough, checksum. Sets NEWEST_FILE ("" when none).
check_newest_file() {
  local check="$1" dir="$2" glob="$3" max_hours="$4" min_bytes="$5" f size
  STATUS[$check]=OK
  f="$(newest "$dir" "$glob")"
  NEWEST_FILE="$f"
  if [[ -z "$f" ]]; then
    issue CRITICAL "$check" "no $check backup in $dir"
    return 0
  fi
  check_age "$check" "$f" $((max_hours * 3600)) "newest $check backup $(basename -- "$f")"
  size="$(file_size "$f")"
  ((size >= min_bytes)) ||
    issue CRITICAL "$check" "$(basename -- "$f") is only $size bytes (minimum $min_bytes)"
  check_checksum "$check" "$f"
}

# Step 1: the newest daily database dump: present, fresh, big enough, checksum, manifest.
check_database() {
  check_newest_file database "$BACKUP_DIR/database" "${APP_NAME}_*.dump" "$CHECK_DATABASE_MAX_AGE_HOURS" "$CHECK_DATABASE_MIN_BYTES"
  [[ -z "$NEWEST_FILE" || -f "$(manifest_path "$NEWEST_FILE")" ]] ||
    issue WARNING database "$(basename -- "$NEWEST_FILE") has no manifest"
}

# Step 2: the weekly dump, once one is due: none yet on a host whose backups are younger than
# CHECK_WEEKLY_MAX_AGE_DAYS is fine.
check_weekly() {
  STATUS[database_weekly]=OK
  local f max=$((CHECK_WEEKLY_MAX_AGE_DAYS * 86400)) history
  f="$(newest "$BACKUP_DIR/database/weekly" "${APP_NAME}_weekly_*.dump")"
  if [[ -z "$f" ]]; then
    history="$(oldest_age "$BACKUP_DIR/database" "${APP_NAME}_*.dump")"
    if ((history > max)); then
      issue WARNING database_weekly "no weekly database backup after $((history / 86400)) days of backups"
    else
      log INFO "database_weekly: none yet; not due (backups started $((history / 3600)) hours ago)"
    fi
    return 0
  fi
  local age
  age="$(name_age "$f")"
  if ((age < -CLOCK_SKEW_TOLERANCE_S)); then
    issue WARNING database_weekly "newest weekly backup $(basename -- "$f") is dated $((-age / 3600)) hours in the future: the clock was ahead when it was made, or is behind now (clock skew: check NTP)"
  elif ((age > max)); then
    issue WARNING database_weekly "newest weekly backup $(basename -- "$f") is $((age / 86400)) days old (limit $CHECK_WEEKLY_MAX_AGE_DAYS days)"
  fi
  local size
  size="$(file_size "$f")"
  ((size >= CHECK_DATABASE_MIN_BYTES)) ||
    issue CRITICAL database_weekly "$(basename -- "$f") is only $size bytes (minimum $CHECK_DATABASE_MIN_BYTES)"
  check_checksum database_weekly "$f"
}

# media_manifest SNAPSHOT: the snapshot's manifest (next to it, or inside it), if any.
media_manifest() {
  local m
  for m in "$(manifest_path "$1")" "$1/.manifest.json" "$1/manifest.json"; do
    [[ -f "$m" ]] && { printf '%s' "$m"; return 0; }
  done
  return 0
}

# json_number_field FILE KEY: a top-level numeric field of a manifest (first match), or nothing.
json_number_field() {
  sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$1" | head -n1
}

# Step 2b: the newest monthly dump (the first daily dump of each month, a hard link): present once
# daily dumps exist, younger than CHECK_MONTHLY_MAX_AGE_DAYS by the time in its name, with its
# checksum file and the size its manifest records (cheap: verify-backup-integrity.sh hashes it).
check_monthly() {
  STATUS[database_monthly]=OK
  local f age count size want
  f="$(newest "$(monthly_dir)" "${APP_NAME}_*.dump")"
  count="$(find "$(monthly_dir)" -mindepth 1 -maxdepth 1 -type f \( -name "${APP_NAME}_*.dump" -o -name "${APP_NAME}_*.dump.age" \) 2>/dev/null | wc -l)"
  MONTHLY_JSON="{\"newest\": null, \"age_days\": null, \"count\": $count}"
  if [[ -z "$f" ]]; then
    if [[ -n "$(newest "$BACKUP_DIR/database" "${APP_NAME}_*.dump")" ]]; then
      issue WARNING database_monthly "no monthly database backup in $(monthly_dir) (the first daily dump of each month is kept there)"
    fi
    return 0
  fi
  age=$(($(date +%s) - $(_offsite_stamp_epoch "$(basename -- "$f")")))
  MONTHLY_JSON="{\"newest\": $(json_str "$(basename -- "$f")"), \"age_days\": $((age / 86400)), \"count\": $count}"
  ((age <= CHECK_MONTHLY_MAX_AGE_DAYS * 86400)) ||
    issue WARNING database_monthly "newest monthly backup $(basename -- "$f") is $((age / 86400)) days old (limit $CHECK_MONTHLY_MAX_AGE_DAYS days)"
  if [[ ! -f "$f.sha256" ]]; then
    issue WARNING database_monthly "$(basename -- "$f") has no .sha256 file"
  fi
  size="$(file_size "$f")"
  want="$(manifest_num "$f.manifest.json" size_bytes)"
  if [[ -n "$want" && "$want" != "$size" ]]; then
    issue CRITICAL database_monthly "$(basename -- "$f") is $size bytes, its manifest says $want"
  fi
}

# Step 3: the latest media snapshot (media/latest): present, fresh, its file count matches its
# manifest and reaches the minimum.
check_media() {
  STATUS[media]=OK
  local latest="$BACKUP_DIR/media/latest" snap
  if [[ ! -L "$latest" && ! -d "$latest" ]]; then
    issue CRITICAL media "no media backup ($latest does not exist)"
    return 0
  fi
  snap="$(readlink -f -- "$latest" || true)"
  if [[ -z "$snap" || ! -d "$snap" ]]; then
    issue CRITICAL media "$latest points to a missing snapshot"
    return 0
  fi
  local manifest
  manifest="$(media_manifest "$snap")"
  check_age media "$snap" $((CHECK_MEDIA_MAX_AGE_HOURS * 3600)) "latest media snapshot $(basename -- "$snap")"
  local files expected
  files="$(find "$snap" -type f | wc -l)"
  ((files >= CHECK_MEDIA_MIN_FILES)) ||
    issue CRITICAL media "latest snapshot has $files files (minimum $CHECK_MEDIA_MIN_FILES)"
  if [[ -z "$manifest" ]]; then
    issue WARNING media "latest snapshot $(basename -- "$snap") has no manifest"
    return 0
  fi
  expected="$(json_number_field "$manifest" files)"
  [[ -n "$expected" ]] || expected="$(json_number_field "$manifest" file_count)"
  if [[ -z "$expected" ]]; then
    issue WARNING media "manifest $(basename -- "$manifest") has no file count"
  elif ((expected != files)); then
    issue CRITICAL media "latest snapshot has $files files but its manifest says $expected"
  fi
}

# Step 4: the newest config archive: present, fresh, big enough, checksum.
check_config() {
  check_newest_file config "$BACKUP_DIR/config" "config_*.tar.gz" "$CHECK_CONFIG_MAX_AGE_HOURS" "$CHECK_CONFIG_MIN_BYTES"
}

# Step 4b: retention held after a gap longer than its window (lib/checksums.sh): a clock that jumped,
# or backups that stopped for that long. Old backups pile up until someone looks.
check_retention_holds() {
  local dir check hold
  for dir in database database/weekly media config; do
    hold="$BACKUP_DIR/$dir/.retention-hold"
    [[ -f "$hold" ]] || continue
    case "$dir" in
      database/weekly) check=database_weekly ;;
      *) check="$dir" ;;
    esac
    issue WARNING "$check" "retention is on hold in $BACKUP_DIR/$dir after a gap longer than its window (a clock that jumped, or backups that stopped): old backups are kept; check the clock, then remove $hold"
  done
}

# Step 4c: with DOCKER_VOLUMES, each volume's newest tarball: present, fresh, checksum.
check_docker_volumes() {
  ((${#DOCKER_VOLUMES[@]})) || return 0
  STATUS[docker_volumes]=OK
  local v f max=$((${CHECK_DOCKER_VOLUMES_MAX_AGE_HOURS:-26} * 3600))
  for v in "${DOCKER_VOLUMES[@]}"; do
    f="$(newest "$BACKUP_DIR/docker-volumes" "$(docker_volume_glob "$v")")"
    if [[ -z "$f" ]]; then
      issue CRITICAL docker_volumes "no tarball of docker volume $v in $BACKUP_DIR/docker-volumes"
      continue
    fi
    check_age docker_volumes "$f" "$max" "newest tarball of docker volume $v $(basename -- "$f")"
    check_checksum docker_volumes "$f"
  done
}

# docker_volumes_status_json: the docker_volumes entry of the status JSON's checks (a new line and
# a trailing comma), only when there are volumes to check.
docker_volumes_status_json() {
  [[ -z "${STATUS[docker_volumes]:-}" ]] || printf '\n    "docker_volumes": %s,' "$(json_str "${STATUS[docker_volumes]}")"
}

# Step 4d: the off-site copy, from the state the uploads record (lib/offsite.sh): for each kind
# that has a local backup, the newest copy verified off-site must be younger than its limit
# (CHECK_OFFSITE_MAX_AGE_HOURS; the weekly and monthly ones as old as their own checks allow) and
# the last upload must have worked. Only warnings: the local backups are there.
check_offsite() {
  if ! offsite_enabled; then
    OFFSITE_JSON='{"enabled": false}'
    return 0
  fi
  STATUS[offsite]=OK
  local kind newest epoch err verified max age age_h local_newest parts="" sep="" st
  for kind in "${OFFSITE_KINDS[@]}"; do
    offsite_kind "$kind"
    if [[ "$kind" == media ]]; then
      local_newest="$(newest_backup d "$MEDIA_SNAPSHOT_GLOB" "$OK_DIR")"
    else
      local_newest="$(newest "$OK_DIR" "$OK_GLOB")"
    fi
    [[ -n "$local_newest" ]] || continue
    case "$kind" in
      weekly) max=$((CHECK_WEEKLY_MAX_AGE_DAYS * 86400)) ;;
      monthly) max=$((CHECK_MONTHLY_MAX_AGE_DAYS * 86400)) ;;
      *) max=$((CHECK_OFFSITE_MAX_AGE_HOURS * 3600)) ;;
    esac
    newest="$(offsite_state_get "$kind" newest)"
    epoch="$(offsite_state_get "$kind" newest_epoch)"
    err="$(offsite_state_get "$kind" last_error)"
    verified="$(offsite_state_get "$kind" verified_at)"
    st=OK
    age_h=null
    age=null
    if [[ -z "$newest" || ! "$epoch" =~ ^[0-9]+$ ]]; then
      st=WARNING
      issue WARNING offsite "no $kind backup verified off-site yet${err:+: the last upload failed: $err}"
    else
      age=$(($(date +%s) - epoch))
      age_h=$((age / 3600))
      if ((age > max)); then
        st=WARNING
        issue WARNING offsite "newest off-site $kind copy $newest is $age_h hours old (limit $((max / 3600)) hours)${err:+; the last upload failed: $err}"
      elif [[ -n "$err" ]]; then
        st=WARNING
        issue WARNING offsite "the last off-site upload of $kind failed: $err (the newest off-site copy, $newest, is $age_h hours old)"
      fi
    fi
    parts+="$sep$(json_str "$kind"): {\"status\": $(json_str "$st"), \"newest\": $(json_str "$newest"), \"age_hours\": $age_h, \"age_seconds\": $age, \"verified_at\": $(json_num "$verified"), \"last_error\": $(json_str "$err")}"
    sep=", "
  done
  OFFSITE_JSON="{\"enabled\": true, \"bucket\": $(json_str "$OFFSITE_BUCKET"), \"prefix\": $(json_str "$OFFSITE_PREFIX"), \"kinds\": {$parts}}"
}

# Step 5: disk usage of the filesystem holding BACKUP_DIR.
check_disk() {
  STATUS[disk_space]=OK
  local used
  used="$(disk_usage_percent "$BACKUP_DIR")"
  if ((used >= CHECK_DISK_CRITICAL_PERCENT)); then
    issue CRITICAL disk_space "backup filesystem is ${used}% full (critical at ${CHECK_DISK_CRITICAL_PERCENT}%)"
  elif ((used >= CHECK_DISK_WARNING_PERCENT)); then
    issue WARNING disk_space "backup filesystem is ${used}% full (warning at ${CHECK_DISK_WARNING_PERCENT}%)"
  else
    log INFO "disk_space: ${used}% used"
  fi
  DISK_USED="$used"
}

overall() {
  if ((CRITICAL_COUNT)); then echo CRITICAL; elif ((WARNING_COUNT)); then echo WARNING; else echo OK; fi
}

# Step 6: the status JSON, written to a temp file and renamed.
write_status() {
  local i level check msg issues_json="" sep=""
  for i in "${ISSUES[@]}"; do
    IFS='|' read -r level check msg <<<"$i"
    issues_json+="$sep{\"level\": $(json_str "$level"), \"check\": $(json_str "$check"), \"message\": $(json_str "$msg")}"
    sep=", "
  done
  local offsite_check=""
  if [[ -n "${STATUS[offsite]:-}" ]]; then
    offsite_check="$(printf ',\n    "offsite": %s' "$(json_str "${STATUS[offsite]}")")"
  fi
  mkdir -p -- "$(dirname -- "$STATUS_FILE")"
  write_atomic "$STATUS_FILE" 0644 <<JSON
{
  "timestamp": $(json_str "$(now_iso)"),
  "overall_status": $(json_str "$(overall)"),
  "critical_issues": $CRITICAL_COUNT,
  "warnings": $WARNING_COUNT,
  "checks": {
    "database": $(json_str "${STATUS[database]}"),
    "database_weekly": $(json_str "${STATUS[database_weekly]}"),
    "database_monthly": $(json_str "${STATUS[database_monthly]}"),
    "media": $(json_str "${STATUS[media]}"),
    "config": $(json_str "${STATUS[config]}"),$(docker_volumes_status_json)
    "disk_space": $(json_str "${STATUS[disk_space]}")$offsite_check
  },
  "monthly": $MONTHLY_JSON,
  "offsite": $OFFSITE_JSON,
  "disk_used_percent": $(json_num "${DISK_USED:-}"),
  "issues": [$issues_json],
  "host": $(json_str "${HOSTNAME:-}"),
  "app": $(json_str "$APP_NAME"),
  "run_id": $(json_str "$RUN_ID")
}
JSON
  log INFO "status $(overall) ($CRITICAL_COUNT critical, $WARNING_COUNT warnings) written to $STATUS_FILE"
}

# Step 7: alerts and the healthcheck ping.
notify() {
  ((NO_ALERT)) && return 0
  local body i level check msg
  body="$(for i in "${ISSUES[@]}"; do IFS='|' read -r level check msg <<<"$i"; printf '%s %s: %s\n' "$level" "$check" "$msg"; done)"
  case "$(overall)" in
    OK) hc_ping success "all backup checks OK" ;;
    WARNING)
      alert WARNING "Warnings ($WARNING_COUNT)" "$body"
      # A warning is not a failure: the run completed (the warning alert carries the details).
      hc_ping success "WARNINGS: $body"
      ;;
    *)
      alert CRITICAL "Critical Issues ($CRITICAL_COUNT critical, $WARNING_COUNT warnings)" "$body"
      hc_ping fail "$body"
      ;;
  esac
}

main() {
  parse_args "$@"
  lib_init check-backups backup-check
  acquire_lock check-backups
  LIB_FAIL_EXIT_CODE=2
  # --no-alert: no alert, no ping, and the failure counts left as they are (lib/alerts.sh).
  if ((NO_ALERT)); then BACKUP_NOTIFY=off; fi
  job_start
  check_database
  check_weekly
  check_monthly
  check_media
  check_config
  check_retention_holds
  check_docker_volumes
  check_offsite
  check_disk
  write_status
  write_metrics "$(overall)"
  notify
  case "$(overall)" in
    OK) job_exit 0 ;;
    WARNING) job_exit 1 ;;
    *) job_exit 2 ;;
  esac
}

main "$@"
