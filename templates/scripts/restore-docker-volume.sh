#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: restore-docker-volume.sh <tarball> [--force] [--volume NAME]
# Summary: Restore a Docker named volume from a backup-docker-volumes.sh tarball.
#
#   <tarball>      $BACKUP_DIR/docker-volumes/<volume>_YYYY-MM-DD_HH-MM-SS.tar.gz (or its name), or a
#                  pre-restore copy from $BACKUP_DIR/docker-volumes/pre-restore
#   --volume NAME  restore into this volume instead of the one the tarball is named after (it is
#                  created when missing: a new host)
#   --force        do not ask for confirmation (without a terminal a restore needs it)
#   -h, --help     this text
#
#   Steps: verify the tarball's SHA-256 (a missing or wrong one refuses) and read it back; refuse
#   members outside the volume (absolute, ..), devices and FIFOs, and members below a symlink;
#   find the volume (docker volume inspect; docker volume create when missing) and refuse one
#   holding a database's data directory; confirm (naming the containers that use the volume: stop
#   them first); copy the volume's current content into
#   $BACKUP_DIR/docker-volumes/pre-restore/<volume>_<timestamp>.tar.gz (verified, like a backup);
#   extract into a fresh directory beside the volume's data, then make the data exactly that (rsync
#   --delete, numeric owners, modes and hard links kept); compare the result with the tarball (tar
#   --compare); print the report. Runs as root. Log: $LOG_DIR/restore-docker-volume.log.
#
#   Exit: 0 restored, 1 failure, refusal or usage error, 75 a docker volume backup or restore is
#   running, 78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

STAGING=""

parse_args() {
  parse_restore_args tarball "give a <volume>_YYYY-MM-DD_HH-MM-SS.tar.gz file" "--volume:VOLUME:a volume name" -- "$@"
  TARBALL_ARG="$RESTORE_ARG"
}

# Step 1: checksum first, then the tarball must read back, and every member must stay inside the
# volume as a plain file, directory or link.
verify_tarball() {
  verified_backup_file "$TARBALL_ARG" "$BACKUP_DIR/docker-volumes" tarball
  TARBALL="$RESTORE_FILE"
  TARBALL_NAME="$RESTORE_NAME"
  local err names types
  err="$(mktemp)"
  on_exit_remove "$err"
  names="$(tar -tzf "$TARBALL" 2>"$err")" || die "tar -tzf cannot read $TARBALL_NAME: $(head -c 300 "$err" | tr '\n' ' '); refusing to restore"
  types="$(tar --numeric-owner -tvzf "$TARBALL" | cut -c1)"
  mapfile -t NAMES <<<"$names"
  mapfile -t TYPES <<<"$types"
  ((${#NAMES[@]} == ${#TYPES[@]})) || die "cannot pair the members of $TARBALL_NAME with their types (a member name with a newline?); refusing to restore"
  local i n links=()
  for i in "${!NAMES[@]}"; do
    n="${NAMES[$i]}"
    [[ "$n" != /* && "/$n/" != */../* ]] || die "member '$n' of $TARBALL_NAME would land outside the volume; refusing to restore"
    case "${TYPES[$i]}" in
      - | d | h) ;;
      l) links+=("${n%/}") ;;
      *) die "member '$n' of $TARBALL_NAME is a device, FIFO or socket (type ${TYPES[$i]}); refusing to restore" ;;
    esac
  done
  local l
  for l in "${links[@]}"; do
    for n in "${NAMES[@]}"; do
      [[ "$n" != "$l/"* ]] || die "member '$n' of $TARBALL_NAME lies below the symlink '$l': it could be written outside the volume; refusing to restore"
    done
  done
  ENTRY_COUNT="${#NAMES[@]}"
}

# Step 2: the volume: named by --volume or by the tarball, found or created, not a database's.
resolve_volume() {
  if [[ -z "$VOLUME" ]]; then
    # shellcheck disable=SC2053 # the stamp is a glob on purpose
    [[ "$TARBALL_NAME" == *_$DOCKER_STAMP_GLOB.tar.gz ]] || die "cannot tell the volume from $TARBALL_NAME: give --volume NAME"
    # <volume>_YYYY-MM-DD_HH-MM-SS.tar.gz: the stamp and its _ are 20 characters.
    VOLUME="${TARBALL_NAME%.tar.gz}"
    VOLUME="${VOLUME:0:${#VOLUME}-20}"
  fi
  [[ "$VOLUME" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] || die "cannot tell the volume from $TARBALL_NAME: give --volume NAME"
  if docker volume inspect -- "$VOLUME" >/dev/null 2>&1; then
    docker_volume_path "$VOLUME"
  else
    log INFO "docker volume $VOLUME does not exist: creating it"
    docker_volume_create "$VOLUME"
  fi
  TARGET="$VOLUME_PATH"
  refuse_database_volume "$VOLUME" "$TARGET"
  USERS="$(docker_volume_users "$VOLUME")"
}

# Step 3: --force or a "yes" at a terminal.
confirm() {
  local users=""
  [[ -z "$USERS" ]] || users=" Containers using it (stop them first): $USERS."
  [[ -z "$USERS" ]] || log WARNING "containers using volume $VOLUME: $USERS (their writes during the restore would be lost or mixed in)"
  confirm_restore "$FORCE" "Restore docker volume $VOLUME ($TARGET) from $TARBALL_NAME ($ENTRY_COUNT entries)? Its current content is replaced (a pre-restore copy is kept in $BACKUP_DIR/docker-volumes/pre-restore).$users"
}

# Step 4: the volume's current content as a verified tarball, restorable with this script.
pre_restore_backup() {
  PRE_RESTORE=""
  if [[ -z "$(find "$TARGET" -mindepth 1 -print -quit)" ]]; then
    log INFO "volume $VOLUME is empty: no pre-restore copy needed"
    return 0
  fi
  local dir="$BACKUP_DIR/docker-volumes/pre-restore" name
  mkdir -p -- "$dir"
  name="${VOLUME}_$(now_stamp).tar.gz"
  while [[ -e "$dir/$name" ]]; do sleep 1; name="${VOLUME}_$(now_stamp).tar.gz"; done
  local partial="$dir/.$name.partial" sum_partial="$dir/.$name.sha256.partial"
  on_exit_remove "$partial" "$sum_partial"
  tar --numeric-owner -czf "$partial" -C "$TARGET" . || die "pre-restore copy of volume $VOLUME failed, nothing was changed"
  tar -tzf "$partial" >/dev/null || die "pre-restore copy does not read back, nothing was changed"
  chmod 0600 -- "$partial"
  write_checksum "$partial" "$name" "$sum_partial"
  mv -f -- "$sum_partial" "$dir/$name.sha256"
  on_exit_remove "$dir/$name.sha256"
  mv -n -- "$partial" "$dir/$name"
  keep_path "$partial" "$sum_partial" "$dir/$name.sha256"
  PRE_RESTORE="$dir/$name"
  log INFO "pre-restore copy written: $PRE_RESTORE"
}

# Step 5: extract into a fresh directory beside the data (same filesystem), then make the data
# exactly that: the volume's own directory keeps its inode, so a container's mount still sees it.
extract() {
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  STAGING="$(mktemp -d -- "$(dirname -- "$TARGET")/.cep-restore.XXXXXX")"
  on_exit_remove "$STAGING"
  tar --numeric-owner -xpzf "$TARBALL" -C "$STAGING" 2>"$err" || die "extraction failed: $(head -c 500 "$err" | tr '\n' ' ')"
  rsync -aH --delete --numeric-ids -- "$STAGING/" "$TARGET/" 2>"$err" || die "rsync into $TARGET failed: $(head -c 500 "$err" | tr '\n' ' ')"
  log INFO "extracted $TARBALL_NAME into volume $VOLUME ($TARGET)"
}

# Step 6: every member must now equal the tarball (content, size, mode, owner, mtime).
verify_restore() {
  local out rc=0
  out="$(tar --numeric-owner -dzf "$TARBALL" -C "$TARGET" 2>&1)" || rc=$?
  ((rc == 0)) || die "restored volume differs from the tarball: $(printf '%s' "$out" | head -n 20 | tr '\n' ';')"
  log INFO "verified: all $ENTRY_COUNT entries match the tarball (tar --compare)"
}

# Step 7: the report.
report() {
  restore_report "DOCKER VOLUME RESTORE REPORT" "Volume: $VOLUME ($TARGET)" SUCCESS \
    "Restored From: $TARBALL_NAME" \
    "Backup Size: $(human_size "$(file_size "$TARBALL")")" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none (the volume was empty)}" \
    -- \
    "Entries Restored: $ENTRY_COUNT" \
    "Verified: every entry matches the tarball (tar --compare)" \
    "Containers using it: ${USERS:-none}" \
    ==
}

restore_failed_report() {
  restore_report "DOCKER VOLUME RESTORE REPORT" "Volume: ${VOLUME:-?} (${TARGET:-?})" "FAILED (exit $1): ${LIB_LAST_ERROR:-see $LOG_FILE}" \
    "Restored From: ${TARBALL_NAME:-?}" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none}" \
    "Rollback: $(basename -- "$0") ${PRE_RESTORE:-<pre-restore copy>} --volume ${VOLUME:-<volume>} --force" \
    ==
}

main() {
  parse_args "$@"
  lib_init restore-docker-volume
  ((EUID == 0)) || die "volume data is root's: run as root"
  # The same lock as backup-docker-volumes: a restore and a backup never run at once.
  acquire_lock docker-volumes
  restore_exit_trap
  log INFO "restore requested by $(id -un): tarball $TARBALL_ARG, volume ${VOLUME:-<from the name>}, force=$FORCE"
  require_cmd docker tar gzip rsync sha256sum
  verify_tarball
  resolve_volume
  confirm
  RESTORE_STARTED=1
  pre_restore_backup
  extract
  verify_restore
  # Old pre-restore copies are pruned only now: the one being restored may be among them.
  prune_pre_restore "$BACKUP_DIR/docker-volumes/pre-restore" "$(docker_volume_glob "$VOLUME")"
  report
}

main "$@"
