#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: restore-media.sh <snapshot|latest> [--force] [--target DIR]
# Summary: Restore the application's media files from a snapshot made by backup-media.sh.
#
#   <snapshot>    a snapshot directory ($BACKUP_DIR/media/YYYY-MM-DD_HH-MM-SS), its name, or
#                 latest; pre-restore copies (media/pre-restore/<name>) can be restored too.
#   --force       do not ask for confirmation (without a terminal a restore needs it)
#   --target DIR  restore into DIR instead of $MEDIA_DIR, or the Docker volume MEDIA_VOLUME when set
#                 (TARGET_DIR in the environment too)
#   -h, --help    this text
#
#   Steps: resolve latest; verify the snapshot against its manifest (file count, bytes and the
#   SHA-256 of a sample of RESTORE_VERIFY_SAMPLE files, default 200, 0 = all); confirm; copy the
#   current target into $BACKUP_DIR/media/pre-restore/<timestamp>; rsync --delete the snapshot into
#   the target (the target becomes exactly the snapshot); set the owner (MEDIA_OWNER, default the
#   owner of $APP_DIR) and permissions (directories 755, files 644); verify; print the report.
#   A failure after the target started changing puts it back as it was: from the pre-restore copy
#   (rsync --delete again), or emptied/removed when it was empty/missing. Log: $LOG_DIR/restore-media.log.
#
#   Exit: 0 restored, 1 failure, refusal or usage error, 75 a media backup or restore is running,
#   78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

SNAPSHOT_GLOB='[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9]-[0-9][0-9]-[0-9][0-9]'

parse_args() {
  parse_restore_args snapshot "give a snapshot directory, its name, or latest" "--target:TARGET:a directory" -- "$@"
  SNAPSHOT_ARG="$RESTORE_ARG"
  TARGET="${TARGET:-${TARGET_DIR:-}}"
  VERIFY_SAMPLE="${RESTORE_VERIFY_SAMPLE:-200}"
  [[ "$VERIFY_SAMPLE" =~ ^[0-9]+$ ]] || usage_error "RESTORE_VERIFY_SAMPLE must be a number (0 = every file)"
}

# The live media: MEDIA_DIR, or with MEDIA_VOLUME the Docker volume's mountpoint (the volume is
# created when missing: a new host restoring its media). Sets MEDIA_LIVE.
media_live_dir() {
  MEDIA_LIVE="$MEDIA_DIR"
  [[ -n "${MEDIA_VOLUME:-}" ]] || return 0
  if docker volume inspect -- "$MEDIA_VOLUME" >/dev/null 2>&1; then
    docker_volume_path "$MEDIA_VOLUME"
  else
    log INFO "docker volume $MEDIA_VOLUME does not exist: creating it"
    docker_volume_create "$MEDIA_VOLUME"
  fi
  refuse_database_volume "$MEDIA_VOLUME" "$VOLUME_PATH"
  MEDIA_LIVE="$VOLUME_PATH"
}

# Step 1-2: resolve latest (or a bare name) to the snapshot directory and check the target is a
# place rsync --delete may write to.
resolve_paths() {
  local path="$SNAPSHOT_ARG"
  [[ "$path" == */* ]] || path="$BACKUP_DIR/media/$path"
  [[ -e "$path" ]] || die "snapshot $SNAPSHOT_ARG not found ($path does not exist)"
  SNAPSHOT="$(readlink -f -- "$path")"
  [[ -d "$SNAPSHOT" ]] || die "$path is not a snapshot directory"
  SNAPSHOT_NAME="$(basename -- "$SNAPSHOT")"
  MANIFEST="$(manifest_path "$SNAPSHOT")"
  SUMS="$SNAPSHOT.sha256"
  [[ -f "$MANIFEST" && -f "$SUMS" ]] ||
    die "snapshot $SNAPSHOT_NAME has no manifest/checksum list ($MANIFEST, $SUMS): it is incomplete or not made by backup-media.sh; refusing to restore it"

  media_live_dir
  TARGET="${TARGET:-$MEDIA_LIVE}"
  [[ -n "$TARGET" ]] || die "no target: MEDIA_DIR is not set and no --target given"
  TARGET="$(realpath -m -- "$TARGET")"
  [[ ! -e "$TARGET" || -d "$TARGET" ]] || die "target $TARGET exists and is not a directory"
  # rsync --delete makes the target exactly the snapshot: into /, into the backups, or into a
  # directory holding the backups or the application, it would destroy them.
  local backups app
  backups="$(realpath -m -- "$BACKUP_DIR")"
  app="$(realpath -m -- "${APP_DIR:-/nonexistent}")"
  if [[ "$TARGET" == "/" ]]; then
    die "refusing to restore into /"
  fi
  if [[ "$TARGET" == "$backups" || "$TARGET" == "$backups"/* ]]; then
    die "refusing to restore into $TARGET: it is inside the backup directory $backups"
  fi
  if [[ "$backups" == "$TARGET"/* ]]; then
    die "refusing to restore into $TARGET: it contains the backup directory $backups"
  fi
  if [[ "$app" == "$TARGET" || "$app" == "$TARGET"/* ]]; then
    die "refusing to restore into $TARGET: it is or contains the application directory $app (the media go to $MEDIA_DIR)"
  fi
  # rsync --delete makes the target exactly the snapshot: only the media directory itself, or a
  # folder that is empty or new, may receive it.
  local media
  media="$(realpath -m -- "$MEDIA_LIVE")"
  if [[ "$TARGET" != "$media" && -d "$TARGET" ]] && [[ -n "$(find "$TARGET" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null)" ]]; then
    die "refusing to restore into $TARGET: it is not the media directory $media and not empty (everything in it would be replaced)"
  fi
}

# Step 2: the snapshot must match its manifest before anything is touched.
verify_snapshot() {
  local want_files want_bytes
  want_files="$(manifest_num "$MANIFEST" files)"
  want_bytes="$(manifest_num "$MANIFEST" bytes)"
  [[ -n "$want_files" && -n "$want_bytes" ]] || die "manifest $MANIFEST is unreadable (no files/bytes); refusing to restore"
  WANT_FILES="$want_files"
  WANT_BYTES="$want_bytes"
  media_count "$SNAPSHOT"
  if [[ "$COUNT_FILES" != "$want_files" || "$COUNT_BYTES" != "$want_bytes" ]]; then
    die "snapshot $SNAPSHOT_NAME does not match its manifest: $COUNT_FILES files / $COUNT_BYTES bytes on disk, manifest says $want_files / $want_bytes; refusing to restore"
  fi
  SAMPLE="$(mktemp)"
  on_exit_remove "$SAMPLE"
  if ((VERIFY_SAMPLE == 0)); then
    cat -- "$SUMS" >"$SAMPLE"
  else
    shuf -n "$VERIFY_SAMPLE" -- "$SUMS" >"$SAMPLE"
  fi
  SAMPLE_N="$(wc -l <"$SAMPLE")"
  media_verify_sample "$SNAPSHOT" "$SAMPLE" ||
    die "snapshot $SNAPSHOT_NAME: files do not match their recorded SHA-256 (see above); refusing to restore"
  log INFO "snapshot $SNAPSHOT_NAME verified: $COUNT_FILES files, $COUNT_BYTES bytes, $SAMPLE_N of $want_files checksums checked"
}

# Step 3: --force or a "yes" at a terminal.
confirm() {
  confirm_restore "$FORCE" "Restore media snapshot $SNAPSHOT_NAME ($WANT_FILES files, $(human_size "$WANT_BYTES")) into $TARGET? Files in $TARGET that are not in the snapshot will be deleted (a pre-restore copy is kept in $BACKUP_DIR/media/pre-restore)."
}

# Step 4, as root: what the target holds now (entries and regular files), decided by root. A dedicated
# backup user that cannot list the target must never make it look empty: its copy would be skipped
# and rsync --delete would remove the live media with nothing kept.
survey_target() {
  CEP_TARGET_ENTRIES=0
  CEP_TARGET_FILES=0
  TARGET_STAT=""
  [[ -d "$TARGET" ]] || return 0
  # The folder's own owner and mode, for a rollback of a restore into an empty folder.
  TARGET_STAT="$(stat -c '%u:%g %a' -- "$TARGET")"
  CEP_TARGET_ENTRIES="$(find "$TARGET" -mindepth 1 -printf x | wc -c)" || die "cannot list the target $TARGET"
  media_count "$TARGET"
  CEP_TARGET_FILES="$COUNT_FILES"
  log INFO "target $TARGET holds $CEP_TARGET_ENTRIES entries ($CEP_TARGET_FILES files) now"
}

# Step 4: copy what is in the target now, verified and with a manifest, so it can be restored
# with this same script. Unchanged files are hard links to the snapshot being restored. Whether
# there is anything to copy is root's finding (survey_target), and the copy must hold every file
# root saw, or nothing is changed.
pre_restore_backup() {
  PRE_RESTORE=""
  [[ "${CEP_TARGET_ENTRIES:-}" =~ ^[0-9]+$ && "${CEP_TARGET_FILES:-}" =~ ^[0-9]+$ ]] ||
    die "pre-restore copy: the target has not been surveyed, nothing was changed"
  if ((CEP_TARGET_ENTRIES == 0)); then
    log INFO "target $TARGET is empty or missing: no pre-restore copy needed"
    return 0
  fi
  local dir="$BACKUP_DIR/media/pre-restore" stamp
  mkdir -p -- "$dir"
  stamp="$(now_stamp)"
  while [[ -e "$dir/$stamp" ]]; do
    sleep 1
    stamp="$(now_stamp)"
  done
  local partial="$dir/.$stamp.partial"
  on_exit_remove "$partial"
  log INFO "pre-restore copy of $TARGET -> $dir/$stamp"
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  rsync -a --numeric-ids "--link-dest=$SNAPSHOT" -- "$TARGET/" "$partial/" 2>"$err" ||
    die "pre-restore copy of $TARGET as $(id -un) failed, nothing was changed: $(head -c 500 "$err" | tr '\n' ' ')"
  media_write_sidecars "$partial" "$stamp" "$TARGET" "" '"pre_restore": true'
  ((COUNT_FILES >= CEP_TARGET_FILES)) ||
    die "pre-restore copy of $TARGET as $(id -un) failed: it holds $COUNT_FILES files, root sees $CEP_TARGET_FILES; nothing was changed"
  touch -- "$partial"
  media_commit "$partial" "$dir/$stamp"
  PRE_RESTORE="$dir/$stamp"
  log INFO "pre-restore copy written: $PRE_RESTORE ($COUNT_FILES files, $(human_size "$COUNT_BYTES"))"
}

# Step 4, as the backup user when this runs as root for one (lib_as_backup_user): the pre-restore
# copy is written in that user's tree.
pre_restore_step() {
  pre_restore_backup
  printf 'STEP_RESULT=%s\n' "$PRE_RESTORE"
}

# Step 9, after a verified restore and as the backup user too: old pre-restore copies go, never the
# one just restored from.
prune_step() {
  restore_prune_after "$BACKUP_DIR/media/pre-restore" "$SNAPSHOT_GLOB" media_snapshot_ok "$SNAPSHOT"
}

# Step 5: the target becomes exactly the snapshot.
sync_files() {
  local out rc=0 line
  mkdir -p -- "$TARGET"
  out="$(mktemp)"
  on_exit_remove "$out"
  log INFO "rsync --delete $SNAPSHOT/ -> $TARGET/"
  rsync -a --delete --numeric-ids --stats -- "$SNAPSHOT/" "$TARGET/" >"$out" 2>&1 || rc=$?
  while IFS= read -r line; do
    [[ -n "$line" ]] && log INFO "rsync: $line"
  done <"$out"
  ((rc == 0)) || die "rsync failed with exit code $rc"
}

# Step 6: the owner the web server needs and the spec's permissions.
set_permissions() {
  OWNER="${MEDIA_OWNER:-}"
  if [[ -n "${MEDIA_VOLUME:-}" && -z "$OWNER" && "$TARGET" == "$(realpath -m -- "$MEDIA_LIVE")" ]]; then
    # A Docker volume's files belong to the containers' users: owners and modes as recorded.
    log INFO "docker volume $MEDIA_VOLUME: owners and modes kept as recorded in the snapshot"
    PERMISSIONS="owners and modes as recorded in the snapshot (a Docker volume)"
    return 0
  fi
  PERMISSIONS="directories 755, files 644"
  if [[ -z "$OWNER" ]]; then
    if [[ -d "$APP_DIR" ]]; then
      OWNER="$(stat -c %u:%g -- "$APP_DIR")"
      log INFO "MEDIA_OWNER is not set: using the owner of $APP_DIR ($(stat -c %U:%G -- "$APP_DIR"))"
    else
      log WARNING "MEDIA_OWNER is not set and $APP_DIR does not exist: keeping the owners recorded in the snapshot"
    fi
  fi
  if [[ -n "$OWNER" ]] && ((EUID != 0)) && [[ "$OWNER" != "$(id -u):$(id -g)" && "$OWNER" != "$(id -un):$(id -gn)" ]]; then
    # A dedicated backup user cannot give files away; the modes below keep them readable.
    log WARNING "not root: cannot set owner $OWNER on $TARGET; files stay owned by $(id -un)"
    OWNER=""
  fi
  if [[ -n "$OWNER" ]]; then
    chown -R -h -- "$OWNER" "$TARGET"
  fi
  find "$TARGET" -type d -exec chmod 755 -- {} +
  find "$TARGET" -type f -exec chmod 644 -- {} +
  log INFO "owner ${OWNER:-unchanged}; directories 755, files 644"
}

# Step 7: the target must now match the manifest (count, bytes, the same checksum sample).
verify_restore() {
  media_count "$TARGET"
  if [[ "$COUNT_FILES" != "$WANT_FILES" || "$COUNT_BYTES" != "$WANT_BYTES" ]]; then
    die "restored tree does not match the manifest: $COUNT_FILES files / $COUNT_BYTES bytes, expected $WANT_FILES / $WANT_BYTES"
  fi
  media_verify_sample "$TARGET" "$SAMPLE" || die "restored files do not match their recorded SHA-256 (see above)"
  RESTORED_FILES="$COUNT_FILES"
  RESTORED_DIRS="$COUNT_DIRS"
  RESTORED_BYTES="$COUNT_BYTES"
  log INFO "restore verified: $COUNT_FILES files, $COUNT_BYTES bytes, $SAMPLE_N checksums"
}

# Step 8: the report.
report() {
  restore_report "MEDIA RESTORE REPORT" "Target Directory: $TARGET" SUCCESS \
    "Restored From: $SNAPSHOT_NAME" \
    "Backup Size: $(human_size "$WANT_BYTES")" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none (the target was empty)}" \
    -- \
    "Files Restored: $RESTORED_FILES" \
    "Directories: $RESTORED_DIRS" \
    "Total Size: $(human_size "$RESTORED_BYTES")" \
    "Owner: ${OWNER:-unchanged}; permissions: ${PERMISSIONS:-directories 755, files 644}" \
    "Verified: file count and size match the manifest; $SAMPLE_N checksums match" \
    ==
}

# A failure after the target started changing: put it back as it was. With a pre-restore copy,
# rsync --delete from it into the target (as the restore itself went: the target becomes exactly
# the copy, owners and modes included); without one the target was empty or missing (root's
# survey), so what the restore put there goes. Sets ROLLBACK, the report's line.
put_back() {
  local err
  err="$(mktemp 2>/dev/null)" || err=/dev/null
  if [[ -n "${PRE_RESTORE:-}" ]]; then
    log WARNING "restore failed: putting $TARGET back from the pre-restore copy $PRE_RESTORE"
    if rsync -a --delete --numeric-ids -- "$PRE_RESTORE/" "$TARGET/" 2>"$err"; then
      ROLLBACK="done: $TARGET is as it was before the restore, from $PRE_RESTORE"
    else
      ROLLBACK="FAILED ($(head -c 300 -- "$err" | tr '\n' ' ')): $TARGET may be partly restored; once it is writable: $(basename -- "$0") $PRE_RESTORE --target $TARGET --force"
    fi
  elif [[ -n "${TARGET_STAT:-}" ]]; then
    log WARNING "restore failed: emptying $TARGET again (it was empty before the restore)"
    if find "$TARGET" -mindepth 1 -delete 2>"$err" && chown -- "${TARGET_STAT% *}" "$TARGET" && chmod -- "${TARGET_STAT#* }" "$TARGET"; then
      ROLLBACK="done: $TARGET is empty again, as it was before the restore"
    else
      ROLLBACK="FAILED ($(head -c 300 -- "$err" | tr '\n' ' ')): $TARGET was empty before the restore and now holds part of $SNAPSHOT_NAME"
    fi
  elif [[ -e "$TARGET" ]]; then
    log WARNING "restore failed: removing $TARGET again (it did not exist before the restore)"
    if rm -rf -- "$TARGET" 2>"$err"; then
      ROLLBACK="done: $TARGET is gone again, as before the restore"
    else
      ROLLBACK="FAILED ($(head -c 300 -- "$err" | tr '\n' ' ')): $TARGET did not exist before the restore and now holds part of $SNAPSHOT_NAME"
    fi
  else
    ROLLBACK="none needed: $TARGET was not created"
  fi
  [[ "$err" == /dev/null ]] || rm -f -- "$err"
  log WARNING "rollback: $ROLLBACK"
}

# A restore that failed half-way puts the target back, says so, and where the pre-restore copy is.
restore_failed_report() {
  put_back
  restore_report "MEDIA RESTORE REPORT" "Target Directory: $TARGET" "FAILED (exit $1): ${LIB_LAST_ERROR:-see $LOG_FILE}" \
    "Restored From: $SNAPSHOT_NAME" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none}" \
    "Rollback: $ROLLBACK" \
    ==
}

main() {
  parse_args "$@"
  case "${CEP_STEP:-}" in
    pre_restore_step | prune_step)
      # Re-run as the backup user by the root restore below: only that step (the parent holds the lock).
      lib_init restore-media
      resolve_paths
      "$CEP_STEP"
      exit 0
      ;;
  esac
  # The live target needs root (owner, app dir); writes into the backup tree run as its user.
  LIB_KEEP_ROOT=1
  lib_init restore-media
  # The same lock as backup-media: a restore and a backup of the media never run at once.
  acquire_lock media
  restore_exit_trap
  log INFO "restore requested by $(id -un): snapshot $SNAPSHOT_ARG, target ${TARGET:-\$MEDIA_DIR}, force=$FORCE"
  require_cmd rsync sha256sum openssl shuf find awk
  resolve_paths
  verify_snapshot
  confirm
  survey_target
  # The copy writes only into the backup tree: a failure there has changed nothing yet.
  lib_as_backup_user pre_restore_step CEP_TARGET_ENTRIES CEP_TARGET_FILES >/dev/null
  PRE_RESTORE="${STEP_RESULT:-${PRE_RESTORE:-}}"
  RESTORE_STARTED=1
  sync_files
  set_permissions
  verify_restore
  lib_as_backup_user prune_step >/dev/null
  report
}

main "$@"
