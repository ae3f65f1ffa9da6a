#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: restore-config.sh <archive> [--force] [--target DIR]
# Summary: Restore the application's configuration files from a backup-config.sh archive.
#
#   <archive>     $BACKUP_DIR/config/config_YYYY-MM-DD_HH-MM-SS.tar.gz (or its name), or a
#                 pre-restore archive from $BACKUP_DIR/config/pre-restore
#   --force       do not ask for confirmation (without a terminal a restore needs it)
#   --target DIR  extract into DIR instead of $APP_DIR
#   -h, --help    this text
#
#   Steps: verify the archive's SHA-256 (a missing or wrong checksum refuses) and read it with
#   tar -tzf; list the files; confirm; archive the current versions of those files into
#   $BACKUP_DIR/config/pre-restore/pre-restore_config_<timestamp>.tar.gz; extract; compare every
#   file with the archive (tar --compare); chmod 600 the .env files; print the report. Review the
#   .env files and restart the services afterwards. Log: $LOG_DIR/restore-config.log.
#
#   Exit: 0 restored, 1 failure, refusal or usage error, 75 a config backup or restore is running,
#   78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

parse_args() {
  parse_restore_args archive "give a config_YYYY-MM-DD_HH-MM-SS.tar.gz file" "--target:TARGET:a directory" -- "$@"
  ARCHIVE_ARG="$RESTORE_ARG"
}

# archive_path: the archive given, as a path (a bare name is in $BACKUP_DIR/config).
archive_path() {
  local file="$ARCHIVE_ARG"
  [[ "$file" == */* ]] || file="$BACKUP_DIR/config/$file"
  readlink -f -- "$file"
}

# Step 1: checksum first, then the archive must read back; its member names must stay inside the target.
verify_archive() {
  verified_backup_file "$ARCHIVE_ARG" "$BACKUP_DIR/config" archive
  ARCHIVE="$RESTORE_FILE"
  ARCHIVE_NAME="$RESTORE_NAME"
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  ENTRIES_FILE="$(mktemp)"
  on_exit_remove "$ENTRIES_FILE"
  tar -tzf "$ARCHIVE" >"$ENTRIES_FILE" 2>"$err" ||
    die "tar -tzf cannot read $ARCHIVE_NAME: $(head -c 300 "$err" | tr '\n' ' '); refusing to restore"
  mapfile -t ENTRIES <"$ENTRIES_FILE"
  ((${#ENTRIES[@]} > 0)) || die "archive $ARCHIVE_NAME is empty; refusing to restore"
  local e
  for e in "${ENTRIES[@]}"; do
    if [[ "$e" == /* || "/$e/" == */../* ]]; then
      die "archive member '$e' would land outside the target; refusing to restore"
    fi
  done
}

# resolve_target: where the archive goes (--target or $APP_DIR), as an absolute path.
resolve_target() {
  TARGET="${TARGET:-$APP_DIR}"
  [[ -n "$TARGET" ]] || die "no target: APP_DIR is not set and no --target given"
  TARGET="$(realpath -m -- "$TARGET")"
  [[ "$TARGET" != "/" ]] || die "refusing to extract into /"
  [[ ! -e "$TARGET" || -d "$TARGET" ]] || die "target $TARGET exists and is not a directory"
}

# Step 2: what will be restored, and where; which of those files exist now is root's finding (a
# dedicated backup user that cannot search a directory of the target must not make its files look
# absent: they would be overwritten with no copy kept). PRESENT_LIST holds them, NUL-separated.
list_files() {
  resolve_target
  PRESENT_LIST="$(mktemp)"
  on_exit_remove "$PRESENT_LIST"
  FILE_ENTRIES=()
  local e
  for e in "${ENTRIES[@]}"; do
    [[ "$e" == */ ]] || FILE_ENTRIES+=("$e")
  done
  log INFO "$ARCHIVE_NAME holds ${#ENTRIES[@]} entries (${#FILE_ENTRIES[@]} files) to restore into $TARGET:"
  for e in "${ENTRIES[@]}"; do
    if [[ -e "$TARGET/$e" || -L "$TARGET/$e" ]]; then
      log INFO "  $e (replaces the current file)"
      # A directory in place is kept (only what the archive holds is replaced).
      [[ -d "$TARGET/$e" && ! -L "$TARGET/$e" ]] || printf '%s\0' "${e%/}" >>"$PRESENT_LIST"
    else
      log INFO "  $e (new)"
    fi
  done
}

# Step 3: --force or a "yes" at a terminal.
confirm() {
  confirm_restore "$FORCE" "Restore ${#ENTRIES[@]} configuration entries from $ARCHIVE_NAME into $TARGET? Current versions are archived in $BACKUP_DIR/config/pre-restore first."
}

# Step 4: the current versions of the files the archive would replace (root's list, NUL-separated
# on stdin), as a verified tar.gz. Written by the backup user, who must be able to read them: if it
# cannot, nothing is changed.
pre_restore_backup() {
  PRE_RESTORE=""
  local present=()
  mapfile -d '' -t present
  if ((${#present[@]} == 0)); then
    log INFO "none of the archive's files exist in $TARGET: no pre-restore copy needed"
    return 0
  fi
  local dir="$BACKUP_DIR/config/pre-restore" name
  mkdir -p -- "$dir"
  # Names have one-second resolution: wait for a second whose archive, checksum and partial names
  # are all free, so another restore's copy is never overwritten nor taken for this one.
  name="pre-restore_config_$(now_stamp).tar.gz"
  while [[ -e "$dir/$name" || -e "$dir/$name.sha256" || -e "$dir/.$name.partial" || -e "$dir/.$name.sha256.partial" ]]; do
    sleep 1
    name="pre-restore_config_$(now_stamp).tar.gz"
  done
  local partial="$dir/.$name.partial" sum_partial="$dir/.$name.sha256.partial" list
  on_exit_remove "$partial" "$sum_partial"
  list="$(mktemp)"
  on_exit_remove "$list"
  printf '%s\0' "${present[@]}" >"$list"
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  tar -czf "$partial" -C "$TARGET" --no-recursion --null --files-from="$list" 2>"$err" ||
    die "pre-restore archive of ${#present[@]} files in $TARGET as $(id -un) failed, nothing was changed: $(head -c 500 "$err" | tr '\n' ' ')"
  tar -tzf "$partial" >/dev/null || die "pre-restore archive does not read back, nothing was changed"
  chmod 0600 -- "$partial"
  write_checksum "$partial" "$name" "$sum_partial"
  # -n and a check: a name taken meanwhile fails the restore (nothing changed yet), never silently.
  mv -n -- "$sum_partial" "$dir/$name.sha256"
  [[ ! -e "$sum_partial" ]] || die "pre-restore checksum $dir/$name.sha256 appeared meanwhile, nothing was changed"
  on_exit_remove "$dir/$name.sha256"
  mv -n -- "$partial" "$dir/$name"
  [[ ! -e "$partial" ]] || die "pre-restore archive $dir/$name appeared meanwhile, nothing was changed"
  keep_path "$partial" "$sum_partial" "$dir/$name.sha256"
  PRE_RESTORE="$dir/$name"
  log INFO "pre-restore copy written: $PRE_RESTORE (${#present[@]} files)"
}

# Step 4, as the backup user when this runs as root for one (lib_as_backup_user): the pre-restore
# archive is written in that user's tree.
pre_restore_step() {
  pre_restore_backup
  printf 'STEP_RESULT=%s\n' "$PRE_RESTORE"
}

# Step 9, after a verified restore and as the backup user too: old pre-restore archives go, never
# the one just restored from.
prune_step() {
  restore_prune_after "$BACKUP_DIR/config/pre-restore" "pre-restore_config_*.tar.gz" is_verified_backup "$(archive_path)"
}

# Step 5: extract (as root tar keeps the archived owners and modes).
extract() {
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  mkdir -p -- "$TARGET"
  # -p: keep the archived modes for a non-root backup user too (root keeps them anyway).
  tar -xpzf "$ARCHIVE" -C "$TARGET" 2>"$err" || die "extraction failed: $(head -c 500 "$err" | tr '\n' ' ')"
  log INFO "extracted $ARCHIVE_NAME into $TARGET"
}

# Step 6: every member must now equal the archive (content, size, mode, mtime; owner as root).
verify_restore() {
  local out rc=0
  out="$(tar -dzf "$ARCHIVE" -C "$TARGET" 2>&1)" || rc=$?
  # Only root can give files their archived owners: a dedicated backup user compares the rest.
  if ((rc != 0 && EUID != 0)); then
    out="$(printf '%s\n' "$out" | grep -Ev ': (Uid|Gid) differs$|^tar: Exiting with failure status' || true)"
    [[ -n "$out" ]] || rc=0
  fi
  if ((rc != 0)); then
    die "restored files differ from the archive: $(printf '%s' "$out" | head -n 20 | tr '\n' ';')"
  fi
  log INFO "verified: all ${#ENTRIES[@]} entries match the archive (tar --compare)"
}

# Step 7: secrets are owner-only, whatever mode they were archived with.
secure_permissions() {
  SECURED=0
  local e
  for e in "${FILE_ENTRIES[@]}"; do
    case "$(basename -- "$e")" in
      .env*)
        if [[ -f "$TARGET/$e" && ! -L "$TARGET/$e" ]]; then
          chmod 600 -- "$TARGET/$e"
          SECURED=$((SECURED + 1))
        fi
        ;;
    esac
  done
  log INFO "chmod 600 on $SECURED .env file(s)"
}

# Step 8: the report.
report() {
  restore_report "CONFIGURATION RESTORE REPORT" "Target Directory: $TARGET" SUCCESS \
    "Restored From: $ARCHIVE_NAME" \
    "Backup Size: $(human_size "$(file_size "$ARCHIVE")")" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none (no current files were replaced)}" \
    -- \
    "Files Restored: ${#FILE_ENTRIES[@]}" \
    "Verified: ${#ENTRIES[@]} entries match the archive" \
    "Secured: $SECURED .env file(s) set to mode 600" \
    == \
    "IMPORTANT: review the .env files, then restart the services (docker-compose up -d, or systemctl restart $APP_NAME)."
}

restore_failed_report() {
  restore_report "CONFIGURATION RESTORE REPORT" "Target Directory: $TARGET" "FAILED (exit $1): ${LIB_LAST_ERROR:-see $LOG_FILE}" \
    "Restored From: $ARCHIVE_NAME" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none}" \
    "Rollback: $(basename -- "$0") ${PRE_RESTORE:-<pre-restore archive>} --target $TARGET --force" \
    ==
}

main() {
  parse_args "$@"
  case "${CEP_STEP:-}" in
    pre_restore_step)
      # Re-run as the backup user by the root restore below: only that step (the parent holds the
      # lock), with root's list of the files to copy on stdin.
      lib_init restore-config
      resolve_target
      pre_restore_step
      exit 0
      ;;
    prune_step)
      lib_init restore-config
      prune_step
      exit 0
      ;;
  esac
  # The live target needs root (owner, app dir); writes into the backup tree run as its user.
  LIB_KEEP_ROOT=1
  lib_init restore-config
  # The same lock as backup-config: a restore and a backup of the configuration never run at once.
  acquire_lock backup-config
  restore_exit_trap
  log INFO "restore requested by $(id -un): archive $ARCHIVE_ARG, target ${TARGET:-\$APP_DIR}, force=$FORCE"
  require_cmd tar gzip sha256sum
  verify_archive
  list_files
  confirm
  # The copy writes only into the backup tree: a failure there has changed nothing yet.
  lib_as_backup_user pre_restore_step <"$PRESENT_LIST" >/dev/null
  PRE_RESTORE="${STEP_RESULT:-${PRE_RESTORE:-}}"
  RESTORE_STARTED=1
  extract
  verify_restore
  secure_permissions
  lib_as_backup_user prune_step >/dev/null
  report
}

main "$@"
