#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: backup-docker-volumes.sh [--help]
# Summary: Tarballs of the Docker named volumes in DOCKER_VOLUMES, verified, checksummed, with manifests.
#
#   For each volume: finds its data with docker volume inspect (DOCKER_HOST from backup.conf),
#   refuses one that holds a database's data directory (the dump covers the app's database; a
#   tarball of a live data directory is not a backup), and writes
#   $BACKUP_DIR/docker-volumes/<volume>_YYYY-MM-DD_HH-MM-SS.tar.gz (numeric owners, modes and
#   links kept; mode 0600) through a partial name, read back with tar -tzf, with .sha256
#   (sha256sum -c format) and .manifest.json (entries, files, bytes). Then deletes each volume's
#   tarballs older than RETENTION_DOCKER_VOLUMES_DAYS among the verified ones, always keeping the
#   newest RETENTION_KEEP_MIN. Restore one with restore-docker-volume.sh. Runs as root (volume data
#   is root's). Settings: BACKUP_CONF (default LIB_DEFAULT_CONF in lib/host.sh).
#   Log: $LOG_DIR/backup-docker-volumes.log.
#
#   Exit: 0 OK, 1 failure (alerted), 75 another docker volume backup or restore is running,
#   78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

declare -A VOLUME_DIR=()
WRITTEN=()

# Step 1: tools, the volumes' names and data directories; every volume is checked before any is
# written, so a refused one stops the run before it starts.
preflight() {
  require_cmd docker tar gzip sha256sum
  ((${#DOCKER_VOLUMES[@]})) || die "DOCKER_VOLUMES is empty in $BACKUP_CONF: nothing to back up"
  ((EUID == 0)) || die "volume data is readable by root only: run as root (backup_user root)"
  local v
  for v in "${DOCKER_VOLUMES[@]}"; do
    [[ "$v" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] || die "DOCKER_VOLUMES: '$v' is not a Docker volume name"
    docker_volume_path "$v"
    refuse_database_volume "$v" "$VOLUME_PATH"
    VOLUME_DIR[$v]="$VOLUME_PATH"
  done
  DEST="$BACKUP_DIR/docker-volumes"
  mkdir -p -- "$DEST" "$DEST/pre-restore"
}

# Steps 2-5 for one volume: tar to a partial name, read it back, checksum, manifest, rename.
backup_volume() {
  local v="$1" src="${VOLUME_DIR[$1]}" name final partial sum_partial man_partial err rc=0
  name="${v}_$(now_stamp).tar.gz"
  while [[ -e "$DEST/$name" ]]; do sleep 1; name="${v}_$(now_stamp).tar.gz"; done
  final="$DEST/$name"
  partial="$DEST/.$name.partial"
  sum_partial="$DEST/.$name.sha256.partial"
  man_partial="$DEST/.$name.manifest.json.partial"
  on_exit_remove "$partial" "$sum_partial" "$man_partial"
  err="$(mktemp)"
  on_exit_remove "$err"
  log INFO "volume $v: tar $src -> $name"
  tar --numeric-owner -czf "$partial" -C "$src" . 2>"$err" || rc=$?
  case "$rc" in
    0) ;;
    # 1: some files changed while being read (a container writing): the archive is still readable.
    1) log WARNING "volume $v: files changed while they were archived ($(head -c 300 "$err" | tr '\n' ' ')); stop its containers for a consistent copy" ;;
    *) die "tar failed for volume $v (exit $rc): $(head -c 500 "$err" | tr '\n' ' ')" ;;
  esac
  chmod 0600 -- "$partial"
  local listing entries files bytes size sha
  listing="$(tar --numeric-owner -tvzf "$partial")" || die "tar -tzf: the archive $name does not read back"
  entries="$(grep -c . <<<"$listing" || true)"
  files="$(grep -c '^-' <<<"$listing" || true)"
  bytes="$(awk '/^-/ { b += $3 } END { printf "%d", b }' <<<"$listing")"
  size="$(file_size "$partial")"
  write_checksum "$partial" "$name" "$sum_partial"
  read -r sha _ <"$sum_partial"
  {
    printf '{%s,\n' "$(manifest_header)"
    printf '  "kind": "docker_volume", "volume": %s, "file": %s, "source": %s,\n' \
      "$(json_str "$v")" "$(json_str "$name")" "$(json_str "$src")"
    printf '  "size_bytes": %s, "sha256": %s, "entries": %s, "files": %s, "bytes": %s\n}\n' \
      "$size" "$(json_str "$sha")" "$entries" "$files" "$bytes"
  } >"$man_partial"
  chmod 0600 -- "$sum_partial" "$man_partial"
  sync -- "$partial" "$sum_partial" "$man_partial" 2>/dev/null || sync
  mv -f -- "$sum_partial" "$final.sha256"
  mv -f -- "$man_partial" "$(manifest_path "$final")"
  on_exit_remove "$final.sha256" "$(manifest_path "$final")"
  mv -n -- "$partial" "$final"
  [[ ! -e "$partial" ]] || die "could not rename $name into place"
  keep_path "$partial" "$sum_partial" "$man_partial" "$final.sha256" "$(manifest_path "$final")"
  WRITTEN+=("$name ($files files, $(human_size "$bytes") in $(human_size "$size"))")
  log INFO "volume $v: $name written: $entries entries, $files files, $(human_size "$bytes"); archive $(human_size "$size")"
}

# Step 6: retention, per volume, among verified tarballs; pre-restore copies have their own.
apply_retention() {
  local v
  for v in "${DOCKER_VOLUMES[@]}"; do
    retention_prune "$DEST" "$(docker_volume_glob "$v")" "$RETENTION_DOCKER_VOLUMES_DAYS" "$RETENTION_KEEP_MIN"
    prune_pre_restore "$DEST/pre-restore" "$(docker_volume_glob "$v")"
  done
}

# Step 7: the off-site copy (lib/offsite.sh): every local tarball not yet in the bucket, verified.
upload_offsite() {
  offsite_sync_files docker-volumes
}

# Step 8: the report.
report() {
  local w
  log INFO "========================================"
  log INFO "DOCKER VOLUMES BACKUP REPORT"
  for w in "${WRITTEN[@]}"; do log INFO "Written: $w"; done
  log INFO "Location: $DEST; retention ${RETENTION_DOCKER_VOLUMES_DAYS} days, keep_min $RETENTION_KEEP_MIN"
  log INFO "========================================"
}

main() {
  parse_no_args "$@"
  lib_init backup-docker-volumes
  # One lock for volume backups and restores: they must never run at once.
  acquire_lock docker-volumes
  job_start
  remove_stale_partials "$BACKUP_DIR/docker-volumes"
  preflight
  local v
  for v in "${DOCKER_VOLUMES[@]}"; do backup_volume "$v"; done
  apply_retention
  upload_offsite
  report
}

main "$@"
