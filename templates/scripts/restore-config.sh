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
#   Steps: copy the archive ONCE into a root-only temp directory and check that copy's SHA-256 (a
#   missing or wrong checksum refuses); everything after reads the copy (an encrypted one, .age,
#   decrypted into an unlinked temporary file: a wrong or missing identity refuses). Inspect its members: only
#   files, directories and links, no setuid/setgid/sticky bit, nothing outside the target (absolute
#   or .. names, hard links to files not in the archive), or it is refused whole. Extract it into the
#   temp directory (without the archived owners); symbolic links are not restored (named in the
#   report), a hard link's content is restored as a plain file. List the files; confirm; archive the
#   current versions of those files into
#   $BACKUP_DIR/config/pre-restore/pre-restore_config_<timestamp>.tar.gz; put each file in place
#   (a temp file beside it, then a rename: never written through a link); a replaced file keeps its
#   owner, a new one gets its directory's; compare every file with the archive's; chmod 600 the .env
#   files; print the report. A failure after the first file was put in place puts every replaced
#   file back (from root's private copy) and removes what was created. Review the .env files and restart the services afterwards.
#   Log: $LOG_DIR/restore-config.log.
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

# archive_path: the archive given, as a path (a bare name is in $BACKUP_DIR/config).
archive_path() {
  local file="$ARCHIVE_ARG"
  [[ "$file" == */* ]] || file="$BACKUP_DIR/config/$file"
  readlink -f -- "$file"
}

# Step 1: a private copy of the archive, checked (lib/restore.sh: private_backup_copy), then its
# members, then the copy extracted into a staging folder beside it.
open_archive() {
  private_backup_copy "$ARCHIVE_ARG" "$BACKUP_DIR/config" archive
  ARCHIVE="$RESTORE_FILE"
  ARCHIVE_NAME="$RESTORE_NAME"
  # An encrypted archive: the checked copy decrypted now (lib/crypt.sh); tar reads its plaintext.
  crypt_open "$RESTORE_COPY"
  ARCHIVE_COPY="$CRYPT_PLAIN"
  inspect_members
  stage_archive
}

# The archive's members, refused whole unless each is a file, directory or link, without setuid,
# setgid or sticky bit, with a name inside the target, and each hard link to an earlier member.
inspect_members() {
  local err names verbose
  err="$(mktemp)"
  names="$(mktemp)"
  verbose="$(mktemp)"
  on_exit_remove "$err" "$names" "$verbose"
  { tar -tzf "$ARCHIVE_COPY" >"$names" 2>"$err" && tar --numeric-owner -tvzf "$ARCHIVE_COPY" >"$verbose" 2>>"$err"; } ||
    die "tar cannot read $ARCHIVE_NAME: $(head -c 300 "$err" | tr '\n' ' '); refusing to restore"
  local -a n v
  mapfile -t n <"$names"
  mapfile -t v <"$verbose"
  ((${#n[@]} > 0)) || die "archive $ARCHIVE_NAME is empty; refusing to restore"
  ((${#n[@]} == ${#v[@]})) || die "archive $ARCHIVE_NAME lists ${#n[@]} names but ${#v[@]} members; refusing to restore"
  local i e perms rest target
  local -A seen=()
  for ((i = 0; i < ${#n[@]}; i++)); do
    e="${n[i]}"
    perms="${v[i]%% *}"
    if [[ "$e" == /* || "/$e/" == */../* ]]; then
      die "archive member '$e' would land outside the target; refusing to restore"
    fi
    case "${perms:0:1}" in
      - | d | l) ;;
      h)
        # "perms uid/gid size date time NAME link to TARGET": the target must be in the archive.
        rest="$(sed -E 's/^[^ ]+ +[0-9]+\/[0-9]+ +[0-9]+ +[0-9-]+ +[0-9:]+ //' <<<"${v[i]}")"
        target="${rest#"$e link to "}"
        [[ "$target" != "$rest" && -n "${seen[$target]+x}" ]] ||
          die "archive member '$e' is a hard link to a file outside the archive (${rest#"$e "}); refusing to restore"
        ;;
      c | b) die "archive member '$e' is a device node ($perms); refusing to restore" ;;
      p) die "archive member '$e' is a FIFO ($perms); refusing to restore" ;;
      *) die "archive member '$e' is neither a file, a directory nor a link (type ${perms:0:1}); refusing to restore" ;;
    esac
    [[ "${perms:3:1}" != [sS] ]] || die "archive member '$e' is setuid ($perms); refusing to restore"
    [[ "${perms:6:1}" != [sS] ]] || die "archive member '$e' is setgid ($perms); refusing to restore"
    [[ "${perms:9:1}" != [tT] ]] || die "archive member '$e' has the sticky bit ($perms); refusing to restore"
    seen["${e%/}"]=1
  done
}

# The checked copy extracted into STAGE (root-only), without the archived owners; then the staged
# tree checked again as it landed, its symbolic links dropped (SKIPPED), and its entries listed by
# their real names: STAGED (directories and files, parents first) and FILE_ENTRIES (the files).
stage_archive() {
  STAGE="$RESTORE_WORK/stage"
  mkdir -- "$STAGE"
  local err bad
  err="$(mktemp)"
  on_exit_remove "$err"
  tar -xzf "$ARCHIVE_COPY" -C "$STAGE" --no-same-owner --same-permissions 2>"$err" ||
    die "$ARCHIVE_NAME cannot be extracted: $(head -c 500 "$err" | tr '\n' ' '); refusing to restore"
  bad="$(find "$STAGE" -mindepth 1 \( ! -type f ! -type d ! -type l -o -perm /7000 \) -printf '%P ' | head -c 500)"
  [[ -z "$bad" ]] || die "$ARCHIVE_NAME holds special files or modes ($bad); refusing to restore"
  mapfile -d '' -t SKIPPED < <(find "$STAGE" -mindepth 1 -type l -printf '%P\0' -delete)
  # Sorted (a parent sorts before what it holds): the same order in every run, log and report.
  mapfile -d '' -t STAGED < <(find "$STAGE" -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z)
  mapfile -d '' -t FILE_ENTRIES < <(find "$STAGE" -mindepth 1 -type f -printf '%P\0' | LC_ALL=C sort -z)
  ((${#FILE_ENTRIES[@]} > 0)) || die "archive $ARCHIVE_NAME holds no file to restore; refusing to restore"
  ((${#SKIPPED[@]} == 0)) ||
    log WARNING "not restored: ${#SKIPPED[@]} symbolic link(s) in the archive (${SKIPPED[*]}): recreate them by hand if they are wanted"
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
  log INFO "$ARCHIVE_NAME holds ${#STAGED[@]} entries (${#FILE_ENTRIES[@]} files) to restore into $TARGET:"
  local e
  for e in "${STAGED[@]}"; do
    if [[ -e "$TARGET/$e" || -L "$TARGET/$e" ]]; then
      log INFO "  $e (replaces the current file)"
      # A directory in place is kept (only what the archive holds is replaced).
      [[ -d "$TARGET/$e" && ! -L "$TARGET/$e" ]] || printf '%s\0' "$e" >>"$PRESENT_LIST"
    else
      log INFO "  $e (new)"
    fi
  done
}

# Step 3: --force or a "yes" at a terminal.
confirm() {
  confirm_restore "$FORCE" "Restore ${#STAGED[@]} configuration entries from $ARCHIVE_NAME into $TARGET? Current versions are archived in $BACKUP_DIR/config/pre-restore first."
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
  name="pre-restore_config_$(now_stamp).tar.gz$(crypt_suffix config)"
  while [[ -e "$dir/$name" || -e "$dir/$name.sha256" || -e "$dir/.$name.partial" || -e "$dir/.$name.sha256.partial" ]]; do
    sleep 1
    name="pre-restore_config_$(now_stamp).tar.gz$(crypt_suffix config)"
  done
  local partial="$dir/.$name.partial" sum_partial="$dir/.$name.sha256.partial" list
  on_exit_remove "$partial" "$sum_partial"
  list="$(mktemp)"
  on_exit_remove "$list"
  printf '%s\0' "${present[@]}" >"$list"
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  if crypt_for config; then
    # The current files hold secrets too: encrypted on the way, tested with tar -tz on the way.
    crypt_stream_begin
    if ! tar -czf - -C "$TARGET" --no-recursion --null --files-from="$list" 2>"$err" | crypt_stream_to config "$partial" tar -tzf -; then
      crypt_stream_result
      die "pre-restore archive of ${#present[@]} files in $TARGET as $(id -un) failed, nothing was changed: $(head -c 500 "$err" | tr '\n' ' ')${CRYPT_WRITE_ERR}"
    fi
    crypt_stream_result
    ((CRYPT_VERIFY_RC == 0)) || die "pre-restore archive does not read back, nothing was changed"
  else
    tar -czf "$partial" -C "$TARGET" --no-recursion --null --files-from="$list" 2>"$err" ||
      die "pre-restore archive of ${#present[@]} files in $TARGET as $(id -un) failed, nothing was changed: $(head -c 500 "$err" | tr '\n' ' ')"
    tar -tzf "$partial" >/dev/null || die "pre-restore archive does not read back, nothing was changed"
  fi
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
  restore_prune_after "$BACKUP_DIR/config/pre-restore" "pre-restore_config_*.tar.gz*" is_verified_backup "$(archive_path)"
}

# Step 4b, as root: a private copy of the files about to be replaced (root's list), in the root-only
# work directory, for put_back. Root's own copy, not the backup user's pre-restore archive: a
# rollback never writes into the app what another user could have put in that archive.
stash_current() {
  ROLLBACK_DIR="$RESTORE_WORK/rollback"
  mkdir -m 0700 -- "$ROLLBACK_DIR"
  [[ -s "$PRESENT_LIST" ]] || return 0
  (cd -- "$TARGET" && xargs -0 -r cp -a --parents -t "$ROLLBACK_DIR" --) <"$PRESENT_LIST" ||
    die "cannot keep a private copy of the files to replace in $TARGET, nothing was changed"
}

# owner_for PATH: who a restored PATH belongs to: the owner of the file it replaces (the link
# itself, never what it points to), else that of the directory it lands in. Never the archive's.
owner_for() {
  if [[ -e "$1" || -L "$1" ]]; then stat -c %u:%g -- "$1"; else stat -L -c %u:%g -- "$(dirname -- "$1")"; fi
}

# Step 5: put the staged entries in place, parents first: a missing directory is created with the
# archived mode; a file goes to a temp file beside its target (mode set, owner set, content
# copied) and is renamed over it, so it is never half-written and never written through a link.
CREATED=()
REPLACED=()
extract() {
  mkdir -p -- "$TARGET"
  local e dst tmp mode owner existed
  for e in "${STAGED[@]}"; do
    dst="$TARGET/$e"
    mode="$(stat -c %a -- "$STAGE/$e")"
    if [[ -d "$STAGE/$e" ]]; then
      [[ ! -d "$dst" ]] || continue
      [[ ! -e "$dst" && ! -L "$dst" ]] || die "cannot restore the directory $e: something else is in its place"
      owner="$(owner_for "$dst")"
      mkdir -m "$mode" -- "$dst" || die "cannot create the directory $dst"
      CREATED+=("$e")
      ((EUID != 0)) || chown -- "$owner" "$dst"
      continue
    fi
    [[ ! -d "$dst" || -L "$dst" ]] || die "cannot restore $e: a directory is in its place"
    owner="$(owner_for "$dst")"
    existed=0
    if [[ -e "$dst" || -L "$dst" ]]; then existed=1; fi
    tmp="$(mktemp -- "$(dirname -- "$dst")/.$(basename -- "$e").cep-restore.XXXXXX")" || die "cannot write in $(dirname -- "$dst")"
    on_exit_remove "$tmp"
    cat -- "$STAGE/$e" >"$tmp" || die "cannot write $tmp"
    chmod "$mode" -- "$tmp"
    ((EUID != 0)) || chown -- "$owner" "$tmp"
    touch -r "$STAGE/$e" -- "$tmp"
    mv -f -T -- "$tmp" "$dst" || die "cannot put $e in place"
    keep_path "$tmp"
    if ((existed)); then REPLACED+=("$e"); else CREATED+=("$e"); fi
  done
  log INFO "restored ${#FILE_ENTRIES[@]} files from $ARCHIVE_NAME into $TARGET"
}

# Step 6: every file must now equal the archive's (content, and a plain file in its place).
verify_restore() {
  local e
  for e in "${FILE_ENTRIES[@]}"; do
    [[ -f "$TARGET/$e" && ! -L "$TARGET/$e" ]] || die "restored file $e is missing or not a plain file"
    cmp -s -- "$STAGE/$e" "$TARGET/$e" || die "restored file $e differs from the archive"
  done
  log INFO "verified: all ${#FILE_ENTRIES[@]} files are identical to the archive's"
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
    "Verified: ${#FILE_ENTRIES[@]} files identical to the archive" \
    "Skipped: ${#SKIPPED[@]} symbolic link(s) not restored${SKIPPED:+: ${SKIPPED[*]}}" \
    "Secured: $SECURED .env file(s) set to mode 600" \
    == \
    "IMPORTANT: review the .env files, then restart the services (docker-compose up -d, or systemctl restart $APP_NAME)."
}

# put_back_one ENTRY: a replaced entry back from root's private copy: a temp file (or link) beside
# it with the owner and mode it had, then a rename over what the restore put there.
put_back_one() {
  local src="$ROLLBACK_DIR/$1" dst="$TARGET/$1" tmp
  tmp="$(mktemp -u -- "$(dirname -- "$dst")/.$(basename -- "$1").cep-rollback.XXXXXX")"
  if [[ -L "$src" ]]; then
    ln -s -- "$(readlink -- "$src")" "$tmp" || return 1
    chown -h -- "$(stat -c %u:%g -- "$src")" "$tmp" || { rm -f -- "$tmp"; return 1; }
  elif [[ -f "$src" ]]; then
    (set -C && cat -- "$src" >"$tmp") || { rm -f -- "$tmp"; return 1; }
    { chmod -- "$(stat -c %a -- "$src")" "$tmp" && chown -- "$(stat -c %u:%g -- "$src")" "$tmp" && touch -r "$src" -- "$tmp"; } ||
      { rm -f -- "$tmp"; return 1; }
  else
    return 1
  fi
  mv -f -T -- "$tmp" "$dst" || { rm -f -- "$tmp"; return 1; }
}

# A failure after extract started: every file it replaced goes back (put_back_one), and what it
# created goes, children before their parents. Sets ROLLBACK, the report's line.
put_back() {
  if [[ -z "${ROLLBACK_DIR:-}" ]]; then
    ROLLBACK="none needed: nothing in $TARGET was changed"
    return 0
  fi
  local e i dst failed=()
  for ((i = ${#CREATED[@]} - 1; i >= 0; i--)); do
    dst="$TARGET/${CREATED[i]}"
    if [[ -d "$dst" && ! -L "$dst" ]]; then
      rmdir -- "$dst" || failed+=("${CREATED[i]}")
    elif [[ -e "$dst" || -L "$dst" ]]; then
      rm -f -- "$dst" || failed+=("${CREATED[i]}")
    fi
  done
  for e in "${REPLACED[@]}"; do
    put_back_one "$e" || failed+=("$e")
  done
  if ((${#failed[@]} == 0)); then
    ROLLBACK="done: $TARGET is as it was before the restore (${#REPLACED[@]} replaced file(s) put back, ${#CREATED[@]} created entries removed)"
  else
    ROLLBACK="FAILED for ${failed[*]}: put them back by hand from ${PRE_RESTORE:-the pre-restore archive}${PRE_RESTORE:+ ($(basename -- "$0") $PRE_RESTORE --target $TARGET --force$([[ "$PRE_RESTORE" != *.age ]] || echo " --identity FILE"))}"
  fi
  log WARNING "rollback: $ROLLBACK"
}

restore_failed_report() {
  put_back
  restore_report "CONFIGURATION RESTORE REPORT" "Target Directory: $TARGET" "FAILED (exit $1): ${LIB_LAST_ERROR:-see $LOG_FILE}" \
    "Restored From: $ARCHIVE_NAME" \
    "Pre-Restore Backup: ${PRE_RESTORE:-none}" \
    "Rollback: $ROLLBACK" \
    ==
}

main() {
  parse_args "$@"
  crypt_init_identity "$IDENTITY_FILE"
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
  require_cmd tar gzip sha256sum cmp
  open_archive
  list_files
  confirm
  # The copy writes only into the backup tree: a failure there has changed nothing yet.
  lib_as_backup_user pre_restore_step <"$PRESENT_LIST" >/dev/null
  PRE_RESTORE="${STEP_RESULT:-${PRE_RESTORE:-}}"
  stash_current
  RESTORE_STARTED=1
  extract
  verify_restore
  secure_permissions
  lib_as_backup_user prune_step >/dev/null
  report
}

main "$@"
