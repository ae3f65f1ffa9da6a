#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: backup-media.sh [--help] [--allow-empty]
# Summary: Incremental snapshot of the application's media files with rsync and hard links.
#
#   Copies $MEDIA_DIR, or the Docker named volume MEDIA_VOLUME (DOCKER_VOLUME in the environment;
#   its mountpoint from docker volume inspect), or SOURCE_DIR from the environment, with
#   rsync -a --delete --link-dest=<previous snapshot> into $BACKUP_DIR/media/.YYYY-MM-DD_HH-MM-SS.partial,
#   so unchanged files are hard links to the previous snapshot and only changes take space. Beside
#   the snapshot it writes YYYY-MM-DD_HH-MM-SS.sha256 (every file's SHA-256, sha256sum -c format,
#   paths relative to the snapshot) and YYYY-MM-DD_HH-MM-SS.manifest.json (files, dirs, bytes),
#   then renames the snapshot into place and switches media/latest atomically. MEDIA_EXCLUDES are
#   skipped. Deletes snapshots older than RETENTION_MEDIA_DAYS among the verified ones, always
#   keeping the newest RETENTION_KEEP_MIN (empty snapshots never count toward it while snapshots
#   with files exist); media/pre-restore has its own retention. With OFFSITE_ENABLED every local
#   snapshot not yet off-site is copied to the bucket as content-addressed objects (only files no
#   earlier snapshot had are uploaded; encrypted with age when media are in ENCRYPT_SCOPE) and
#   verified there; a failed upload is a WARNING alert, never a failed backup. Local snapshots stay
#   plain hard-linked trees (see the README).
#
#   An empty media directory while the previous snapshot has files fails the job (an unmounted
#   volume must not become the newest snapshot, night after night): nothing is written.
#   --allow-empty   the media really are gone: take the empty snapshot this once (from then on
#                   an empty directory is the state, and needs no flag)
#   Settings: BACKUP_CONF (default LIB_DEFAULT_CONF in lib/host.sh). Log: $LOG_DIR/backup-media.log.
#
#   Exit: 0 OK, 1 failure (alerted), 75 another media backup or restore is running, 78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

# Snapshot names: a timestamp, nothing else (retention and `latest` only ever touch these).
SNAPSHOT_GLOB='[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9]-[0-9][0-9]-[0-9][0-9]'

ALLOW_EMPTY=0
parse_args() {
  while (($#)); do
    case "$1" in
      -h | --help) print_usage; exit 0 ;;
      --allow-empty) ALLOW_EMPTY=1 ;;
      *) usage_error "unexpected argument: $1" ;;
    esac
    shift
  done
}

# The media source: SOURCE_DIR in the environment, else a Docker named volume (DOCKER_VOLUME in
# the environment, as the spec runs it, or MEDIA_VOLUME from backup.conf) at the mountpoint docker
# volume inspect gives, else MEDIA_DIR. A volume holding a database's data directory is refused.
resolve_source() {
  local volume="${DOCKER_VOLUME:-$MEDIA_VOLUME}"
  if [[ -n "${SOURCE_DIR:-}" || -z "$volume" ]]; then
    SOURCE="${SOURCE_DIR:-$MEDIA_DIR}"
    return 0
  fi
  [[ "$volume" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] || die "DOCKER_VOLUME/MEDIA_VOLUME '$volume' is not a Docker volume name"
  docker_volume_path "$volume"
  SOURCE="$VOLUME_PATH"
  refuse_database_volume "$volume" "$SOURCE"
  log INFO "media source: docker volume $volume at $SOURCE"
}

# Step 1: tools and the source directory. A missing source is an error, never an empty snapshot
# (an unmounted volume must not look like "all media deleted").
preflight() {
  require_cmd rsync sha256sum openssl find sort xargs awk shuf cmp
  resolve_source
  SOURCE="${SOURCE%/}"
  [[ -n "$SOURCE" ]] || die "MEDIA_DIR is not set in $BACKUP_CONF"
  [[ -d "$SOURCE" ]] || die "media directory $SOURCE does not exist or is not a directory"
  [[ -r "$SOURCE" && -x "$SOURCE" ]] || die "media directory $SOURCE is not readable"
  SOURCE_EMPTY=0
  [[ -n "$(find "$SOURCE" -mindepth 1 -print -quit)" ]] || SOURCE_EMPTY=1
  DEST="$BACKUP_DIR/media"
  mkdir -p -- "$DEST" "$DEST/pre-restore"
}

# Step 2: the previous snapshot to hard-link against: what `latest` points to when it is a
# verified snapshot, else the newest verified one; none means a full copy.
find_previous() {
  PREVIOUS=""
  local target cand
  if [[ -L "$DEST/latest" ]]; then
    target="$(readlink -- "$DEST/latest")"
    target="$DEST/${target##*/}"
    if media_snapshot_ok "$target"; then PREVIOUS="$target"; fi
  fi
  if [[ -z "$PREVIOUS" ]]; then
    while IFS= read -r cand; do
      if media_snapshot_ok "$cand"; then PREVIOUS="$cand"; break; fi
    done < <(find "$DEST" -mindepth 1 -maxdepth 1 -type d -name "$SNAPSHOT_GLOB" | LC_ALL=C sort -r)
  fi
  if [[ -n "$PREVIOUS" ]]; then
    log INFO "previous snapshot: $(basename -- "$PREVIOUS") (unchanged files become hard links to it)"
  else
    log INFO "no previous snapshot: this is a full copy"
  fi
}

# Step 2b: an empty source after a snapshot with files is an unmounted volume until said otherwise.
check_empty_source() {
  ((SOURCE_EMPTY)) || return 0
  local had=0
  [[ -z "$PREVIOUS" ]] || had="$(manifest_num "$(manifest_path "$PREVIOUS")" files)"
  if ((${had:-0} == 0)); then
    log WARNING "media directory $SOURCE is empty (so was the previous snapshot, or there is none)"
  elif ((ALLOW_EMPTY)); then
    log WARNING "media directory $SOURCE is empty and the previous snapshot $(basename -- "$PREVIOUS") has $had files: taking the empty snapshot as asked (--allow-empty)"
  else
    die "media directory $SOURCE is empty but the previous snapshot $(basename -- "$PREVIOUS") has $had files: is the media volume unmounted? Nothing was backed up. If the media really are gone, run backup-media.sh --allow-empty once"
  fi
}

# Step 3: rsync into the partial snapshot; the transfer statistics go to the log.
sync_snapshot() {
  STAMP="$(now_stamp)"
  # Two runs in the same second (by hand) would collide: wait for a fresh name.
  local tries=0
  while [[ -e "$DEST/$STAMP" || -e "$DEST/.$STAMP.partial" ]] && ((tries < 3)); do
    sleep 1
    STAMP="$(now_stamp)"
    tries=$((tries + 1))
  done
  FINAL="$DEST/$STAMP"
  PARTIAL="$DEST/.$STAMP.partial"
  [[ ! -e "$FINAL" && ! -e "$PARTIAL" ]] || die "snapshot $STAMP already exists"
  on_exit_remove "$PARTIAL"

  local args=(-a --delete --numeric-ids --stats)
  [[ -z "$PREVIOUS" ]] || args+=("--link-dest=$PREVIOUS")
  local pattern
  for pattern in "${MEDIA_EXCLUDES[@]}"; do
    args+=("--exclude=$pattern")
  done
  local out rc=0
  out="$(mktemp)"
  on_exit_remove "$out"
  log INFO "rsync $SOURCE/ -> $(basename -- "$PARTIAL")/ (excluding: ${MEDIA_EXCLUDES[*]:-nothing})"
  RSYNC_T0="$(date +%s)"
  rsync "${args[@]}" -- "$SOURCE/" "$PARTIAL/" >"$out" 2>&1 || rc=$?
  local line
  while IFS= read -r line; do
    [[ -n "$line" ]] && log INFO "rsync: $line"
  done <"$out"
  case "$rc" in
    0) ;;
    # 24: files vanished while copying (an upload deleted meanwhile): the snapshot is still consistent.
    24) log WARNING "rsync: some source files vanished during the copy (exit 24); the snapshot is kept" ;;
    *) die "rsync failed with exit code $rc (see the rsync lines above in $LOG_FILE)" ;;
  esac
  RSYNC_TRANSFERRED="$(sed -n 's/^Number of regular files transferred: *\([0-9,]*\).*/\1/p' "$out" | tr -d ,)"
  RSYNC_BYTES="$(sed -n 's/^Total transferred file size: *\([0-9,]*\).*/\1/p' "$out" | tr -d ,)"
}

# Step 4: manifest and checksum list, then rename into place and switch `latest`.
commit_snapshot() {
  local prev_name="" took
  [[ -z "$PREVIOUS" ]] || prev_name="$(basename -- "$PREVIOUS")"
  took=$(($(date +%s) - RSYNC_T0))
  local extra
  extra="\"full_copy\": $([[ -z "$PREVIOUS" ]] && echo true || echo false), \"files_transferred\": $(json_num "${RSYNC_TRANSFERRED:-}"), \"bytes_transferred\": $(json_num "${RSYNC_BYTES:-}"), \"rsync_seconds\": $took"
  media_write_sidecars "$PARTIAL" "$STAMP" "$SOURCE" "$prev_name" "$extra"
  SNAP_FILES="$COUNT_FILES"
  SNAP_DIRS="$COUNT_DIRS"
  SNAP_BYTES="$COUNT_BYTES"
  # rsync -a gave the snapshot root the source directory's mtime; retention ages snapshots by
  # mtime, so stamp it with the time the snapshot was taken.
  touch -- "$PARTIAL"
  media_commit "$PARTIAL" "$FINAL"

  local tmp="$DEST/.latest.tmp.$$"
  on_exit_remove "$tmp"
  ln -sfn -- "$STAMP" "$tmp"
  mv -T -f -- "$tmp" "$DEST/latest"
  keep_path "$tmp"
  log INFO "snapshot $STAMP: $SNAP_FILES files, $SNAP_DIRS directories, $(human_size "$SNAP_BYTES") ($SNAP_BYTES bytes); ${RSYNC_TRANSFERRED:-?} files copied, the rest hard-linked${prev_name:+ to $prev_name}; latest -> $STAMP"
}

# Step 5: retention among verified snapshots (pre-restore copies live in media/pre-restore, which
# never matches the snapshot name pattern, and have their own retention).
apply_retention() {
  retention_prune "$DEST" "$SNAPSHOT_GLOB" "$RETENTION_MEDIA_DAYS" "$RETENTION_KEEP_MIN" media_retention_verdict
  prune_pre_restore "$DEST/pre-restore" "$SNAPSHOT_GLOB" media_snapshot_ok
}

# Step 6: the off-site copy: the snapshots not yet in the bucket, their new files only.
upload_offsite() {
  offsite_sync_media
}

# Step 7: the report.
report() {
  log INFO "========================================"
  log INFO "MEDIA BACKUP REPORT"
  log INFO "Source: $SOURCE"
  log INFO "Snapshot: $FINAL ($([[ -z "$PREVIOUS" ]] && echo "full copy" || echo "incremental from $(basename -- "$PREVIOUS")"))"
  log INFO "Files: $SNAP_FILES; directories: $SNAP_DIRS; size: $(human_size "$SNAP_BYTES")"
  log INFO "Transferred: ${RSYNC_TRANSFERRED:-?} files, $(human_size "${RSYNC_BYTES:-0}")"
  log INFO "========================================"
}

main() {
  parse_args "$@"
  lib_init backup-media
  # One lock for media backups and restores: they must never run at once.
  acquire_lock media
  job_start
  remove_stale_partials "$BACKUP_DIR/media"
  preflight
  find_previous
  check_empty_source
  sync_snapshot
  commit_snapshot
  apply_retention
  upload_offsite
  report
}

main "$@"
