#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: restore-config.sh <archive> [--force] [--target DIR] [--identity FILE]
# Summary: Restore the application's configuration files from a backup-config.sh archive.
#
#   <archive>     $BACKUP_DIR/config/config_YYYY-MM-DD_HH-MM-SS.tar.gz (or its name), or a
#                 pre-restore archive from $BACKUP_DIR/config/pre-restore
#   --force       do not ask for confirmation (without a terminal a restore needs it)
#   --target DIR  extract into DIR instead of $APP_DIR
#   --identity FILE  the age identity that decrypts an encrypted archive (.tar.gz.age): a file,
#                 "-" (stdin: then --force) or /dev/fd/N; read once, kept in memory only
#   -h, --help    this text
#
#   Steps: verify the archive's SHA-256 (a missing or wrong checksum refuses), decrypt an
#   encrypted one into an unlinked temporary file (a wrong or missing identity refuses) and read it
#   with tar -tzf; list the files; confirm; archive the current versions of those files into
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
  parse_restore_args archive "give a config_YYYY-MM-DD_HH-MM-SS.tar.gz file" "--target:TARGET:a directory" \
    "--identity:IDENTITY_FILE:a file holding the age identity" -- "$@"
  ARCHIVE_ARG="$RESTORE_ARG"
}

# Step 1: checksum first, then the archive must read back; its member names must stay inside the target.
verify_archive() {
  verified_backup_file "$ARCHIVE_ARG" "$BACKUP_DIR/config" archive
  ARCHIVE="$RESTORE_FILE"
  ARCHIVE_NAME="$RESTORE_NAME"
  # An encrypted archive: decrypted now (lib/crypt.sh); tar reads ARCHIVE_DATA from here on.
  crypt_open "$ARCHIVE"
  ARCHIVE_DATA="$CRYPT_PLAIN"
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  ENTRIES_FILE="$(mktemp)"
  on_exit_remove "$ENTRIES_FILE"
  tar -tzf "$ARCHIVE_DATA" >"$ENTRIES_FILE" 2>"$err" ||
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

# Step 2: what will be restored, and where.
list_files() {
  TARGET="${TARGET:-$APP_DIR}"
  [[ -n "$TARGET" ]] || die "no target: APP_DIR is not set and no --target given"
  TARGET="$(realpath -m -- "$TARGET")"
  [[ "$TARGET" != "/" ]] || die "refusing to extract into /"
  [[ ! -e "$TARGET" || -d "$TARGET" ]] || die "target $TARGET exists and is not a directory"
  FILE_ENTRIES=()
  local e
  for e in "${ENTRIES[@]}"; do
    [[ "$e" == */ ]] || FILE_ENTRIES+=("$e")
  done
  log INFO "$ARCHIVE_NAME holds ${#ENTRIES[@]} entries (${#FILE_ENTRIES[@]} files) to restore into $TARGET:"
  for e in "${ENTRIES[@]}"; do
    if [[ -e "$TARGET/$e" ]]; then log INFO "  $e (replaces the current file)"; else log INFO "  $e (new)"; fi
  done
}

# Step 3: --force or a "yes" at a terminal.
confirm() {
  confirm_restore "$FORCE" "Restore ${#ENTRIES[@]} configuration entries from $ARCHIVE_NAME into $TARGET? Current versions are archived in $BACKUP_DIR/config/pre-restore first."
}

# Step 4: the current versions of the files the archive would replace, as a verified tar.gz.
pre_restore_backup() {
  PRE_RESTORE=""
  local present=() e
  for e in "${ENTRIES[@]}"; do
    e="${e%/}"
    [[ -e "$TARGET/$e" || -L "$TARGET/$e" ]] || continue
    [[ -d "$TARGET/$e" && ! -L "$TARGET/$e" ]] && continue
    present+=("$e")
  done
  if ((${#present[@]} == 0)); then
    log INFO "none of the archive's files exist in $TARGET: no pre-restore copy needed"
    return 0
  fi
  local dir="$BACKUP_DIR/config/pre-restore" name
  mkdir -p -- "$dir"
  name="pre-restore_config_$(now_stamp).tar.gz$(crypt_suffix config)"
  [[ ! -e "$dir/$name" ]] || { sleep 1; name="pre-restore_config_$(now_stamp).tar.gz$(crypt_suffix config)"; }
  local partial="$dir/.$name.partial" sum_partial="$dir/.$name.sha256.partial" list
  on_exit_remove "$partial" "$sum_partial"
  list="$(mktemp)"
  on_exit_remove "$list"
  printf '%s\0' "${present[@]}" >"$list"
  if crypt_for config; then
    # The current files hold secrets too: encrypted on the way, tested with tar -tz on the way.
    crypt_stream_begin
    tar -czf - -C "$TARGET" --no-recursion --null --files-from="$list" | crypt_stream_to config "$partial" tar -tzf - ||
      die "pre-restore archive failed, nothing was changed"
    crypt_stream_result
    ((CRYPT_VERIFY_RC == 0)) || die "pre-restore archive does not read back, nothing was changed"
  else
    tar -czf "$partial" -C "$TARGET" --no-recursion --null --files-from="$list" ||
      die "pre-restore archive failed, nothing was changed"
    tar -tzf "$partial" >/dev/null || die "pre-restore archive does not read back, nothing was changed"
  fi
  chmod 0600 -- "$partial"
  write_checksum "$partial" "$name" "$sum_partial"
  mv -f -- "$sum_partial" "$dir/$name.sha256"
  on_exit_remove "$dir/$name.sha256"
  mv -n -- "$partial" "$dir/$name"
  keep_path "$partial" "$sum_partial" "$dir/$name.sha256"
  PRE_RESTORE="$dir/$name"
  log INFO "pre-restore copy written: $PRE_RESTORE (${#present[@]} files)"
}

# Steps 4 and 9 together, as the backup user when this runs as root for one (lib_as_backup_user):
# the pre-restore archive and the pruning of old ones happen in that user's tree.
pre_restore_step() {
  pre_restore_backup
  prune_pre_restore "$BACKUP_DIR/config/pre-restore" "pre-restore_config_*.tar.gz*"
  printf 'STEP_RESULT=%s\n' "$PRE_RESTORE"
}

# Step 5: extract (as root tar keeps the archived owners and modes).
extract() {
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  mkdir -p -- "$TARGET"
  # -p: keep the archived modes for a non-root backup user too (root keeps them anyway).
  tar -xpzf "$ARCHIVE_DATA" -C "$TARGET" 2>"$err" || die "extraction failed: $(head -c 500 "$err" | tr '\n' ' ')"
  log INFO "extracted $ARCHIVE_NAME into $TARGET"
}

# Step 6: every member must now equal the archive (content, size, mode, mtime; owner as root).
verify_restore() {
  local out rc=0
  out="$(tar -dzf "$ARCHIVE_DATA" -C "$TARGET" 2>&1)" || rc=$?
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
    "Rollback: $(basename -- "$0") ${PRE_RESTORE:-<pre-restore archive>} --target $TARGET --force$([[ "${PRE_RESTORE:-}" != *.age ]] || echo " --identity FILE")" \
    ==
}

main() {
  parse_args "$@"
  crypt_init_identity "$IDENTITY_FILE"
  if [[ "${CEP_STEP:-}" == pre_restore_step ]]; then
    # Re-run as the backup user by the root restore below: only that step (the parent holds the lock).
    lib_init restore-config
    verify_archive
    list_files >&2
    pre_restore_step
    exit 0
  fi
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
  RESTORE_STARTED=1
  lib_as_backup_user pre_restore_step >/dev/null
  PRE_RESTORE="${STEP_RESULT:-${PRE_RESTORE:-}}"
  extract
  verify_restore
  secure_permissions
  report
}

main "$@"
