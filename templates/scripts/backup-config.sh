#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: backup-config.sh [--help]
# Summary: Daily backup of the application's configuration files (.env, compose, nginx, ...) as a tar.gz.
#
#   Archives CONFIG_FILES (relative to APP_DIR, globs allowed; missing ones are skipped and named
#   in the log; files or directories on their way that cannot be read fail the job) to
#   $BACKUP_DIR/config/config_YYYY-MM-DD_HH-MM-SS.tar.gz (mode 0600: it holds secrets), tested
#   with tar -tzf, with .sha256 and .manifest.json (the file list). Then deletes config backups
#   older than RETENTION_CONFIG_DAYS among the verified ones, always keeping the newest
#   RETENTION_KEEP_MIN. With ENCRYPT_RECIPIENTS set the archive is always encrypted with age
#   on its way to the disk (config_YYYY-MM-DD_HH-MM-SS.tar.gz.age: it holds every secret of the
#   platform; the checksum covers the encrypted file, the manifest's file list stays readable).
#   With OFFSITE_ENABLED every local archive not yet off-site is copied to config/ in the bucket
#   and verified there (a failed upload is a WARNING alert, never a failed backup). Settings:
#   BACKUP_CONF (default LIB_DEFAULT_CONF in lib/host.sh). Log: $LOG_DIR/backup-config.log.
#
#   Exit: 0 OK, 1 failure (alerted; also when none of the files exist), 75 another run is in
#   progress, 78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

FOUND=()
MISSING=()
ARCHIVE=""
ARCHIVE_SIZE=0
ENTRY_COUNT=0

# glob_nul PATTERN: the paths (relative to the current directory) matching PATTERN, NUL-separated.
glob_nul() {
  local IFS=
  local m matches
  shopt -s nullglob
  # The pattern is meant to glob; IFS is empty so it is never word-split.
  # shellcheck disable=SC2206
  matches=($1)
  shopt -u nullglob
  # A pattern without glob characters comes back as itself: keep only what exists.
  for m in "${matches[@]}"; do
    if [[ -e "$m" || -L "$m" ]]; then printf '%s\0' "$m"; fi
  done
}

# Step 1: pre-flight: tools and the application directory.
preflight() {
  require_cmd tar gzip sha256sum flock
  if crypt_for config; then require_cmd age mkfifo tee; fi
  [[ -d "$APP_DIR" ]] || die "application directory $APP_DIR does not exist"
  [[ -r "$APP_DIR" && -x "$APP_DIR" ]] ||
    die "permission denied: $(id -un) cannot read the application directory $APP_DIR (grant it read access, typically through its group)"
}

# unreadable_dir PATTERN: why PATTERN (relative to APP_DIR) may have matched nothing without being
# absent: the first directory on its way that exists but this user cannot search, or the directory
# its glob lists but this user cannot read. Prints it and returns 0; returns 1 when every directory
# on the way is readable (the files really are absent).
unreadable_dir() {
  local -a parts
  local dir="" part i
  IFS=/ read -r -a parts <<<"$1"
  for ((i = 0; i < ${#parts[@]}; i++)); do
    part="${parts[i]}"
    if [[ "$part" == *[*?[]* ]]; then
      # A glob lists the directory it is in.
      [[ -r "$APP_DIR${dir:+/$dir}" ]] || { printf '%s' "$APP_DIR${dir:+/$dir}"; return 0; }
      return 1
    fi
    ((i < ${#parts[@]} - 1)) || return 1
    dir="${dir:+$dir/}$part"
    [[ -d "$APP_DIR/$dir" ]] || return 1
    [[ -x "$APP_DIR/$dir" ]] || { printf '%s' "$APP_DIR/$dir"; return 0; }
  done
  return 1
}

# Step 2: expand CONFIG_FILES inside APP_DIR; name the missing ones. A pattern that matches nothing
# because a directory on its way cannot be read is an error, never "not present": its files would
# silently go unsaved every night.
collect_files() {
  local pattern m matches d
  local -a blocked=()
  for pattern in "${CONFIG_FILES[@]}"; do
    if [[ "$pattern" == /* || "$pattern" == *..* ]]; then
      log WARNING "skipping config entry '$pattern': it must be a path relative to $APP_DIR"
      MISSING+=("$pattern")
      continue
    fi
    matches=()
    while IFS= read -r -d '' m; do matches+=("$m"); done < <(cd "$APP_DIR" && glob_nul "$pattern")
    if ((${#matches[@]} == 0)); then
      if d="$(unreadable_dir "$pattern")"; then blocked+=("$d ($pattern)"); else MISSING+=("$pattern"); fi
    else
      FOUND+=("${matches[@]}")
    fi
  done
  ((${#blocked[@]} == 0)) ||
    die "permission denied: $(id -un) cannot read ${blocked[*]}: grant the backup user read access to those directories (typically through its group)"
  if ((${#MISSING[@]})); then log INFO "skipped, not present in $APP_DIR: ${MISSING[*]}"; fi
  ((${#FOUND[@]})) || die "none of the configured files exist in $APP_DIR (${CONFIG_FILES[*]})"
  # An unreadable file would make tar fail half-way: name every one, for the operator to grant
  # the backup user read access (typically through its group).
  local unreadable=()
  for m in "${FOUND[@]}"; do
    if [[ ! -r "$APP_DIR/$m" ]] || { [[ -d "$APP_DIR/$m" ]] && [[ ! -x "$APP_DIR/$m" ]]; }; then unreadable+=("$m"); fi
  done
  ((${#unreadable[@]} == 0)) || die "permission denied: $(id -un) cannot read ${unreadable[*]} in $APP_DIR"
  log INFO "collecting ${#FOUND[@]} entries: ${FOUND[*]}"
}

# Steps 3-6: archive to a partial name, test it with tar -tzf, checksum, manifest, rename (0600).
create_archive() {
  local dest="$BACKUP_DIR/config" name sfx
  sfx="$(crypt_suffix config)"
  name="config_$(now_stamp).tar.gz$sfx"
  # Names have one-second resolution: a run right after another waits for a fresh name.
  while [[ -e "$dest/$name" ]]; do sleep 1; name="config_$(now_stamp).tar.gz$sfx"; done
  local final="$dest/$name" partial="$dest/.$name.partial"
  local sum_partial="$dest/.$name.sha256.partial" man_partial="$dest/.$name.manifest.json.partial"
  local list
  mkdir -p -- "$dest"
  [[ ! -e "$final" ]] || die "$final already exists; refusing to overwrite it"
  on_exit_remove "$partial" "$sum_partial" "$man_partial"
  list="$(mktemp)"
  on_exit_remove "$list"

  printf '%s\0' "${FOUND[@]}" >"$list"
  local err
  err="$(mktemp)"
  on_exit_remove "$err"
  local entries
  if [[ -n "$sfx" ]]; then
    # Encrypted: tar's output goes through age to the partial and, on the way, through tar -tz
    # (the same test as below, on the same bytes): no plaintext archive is ever on disk.
    crypt_stream_begin
    if ! tar -czf - -C "$APP_DIR" --null --files-from="$list" 2>"$err" | crypt_stream_to config "$partial" tar -tzf -; then
      crypt_stream_result
      die "tar or age failed writing $partial: $(head -c 500 "$err" | tr '\n' ' ')${CRYPT_WRITE_ERR}"
    fi
    crypt_stream_result
    ((CRYPT_VERIFY_RC == 0)) || die "tar -tz: the archive $name does not read back: $CRYPT_VERIFY_ERR"
    crypt_is_age "$partial" || die "the encrypted archive $name has no age header"
    entries="$(cat -- "$CRYPT_VERIFY_OUT")"
  else
    tar -czf "$partial" -C "$APP_DIR" --null --files-from="$list" 2>"$err" ||
      die "tar failed writing $partial: $(head -c 500 "$err" | tr '\n' ' ')"
    entries="$(tar -tzf "$partial")" || die "tar -tzf: the archive $name does not read back"
  fi
  chmod 0600 -- "$partial"
  ENTRY_COUNT="$(grep -c . <<<"$entries" || true)"
  ((ENTRY_COUNT > 0)) || die "the archive $name is empty"

  ARCHIVE_SIZE="$(file_size "$partial")"
  write_checksum "$partial" "$name" "$sum_partial"
  local sha files_json="" sep="" f missing_json=""
  read -r sha _ <"$sum_partial"
  while IFS= read -r f; do
    files_json+="$sep$(json_str "$f")"
    sep=", "
  done <<<"$entries"
  sep=""
  for f in "${MISSING[@]}"; do
    missing_json+="$sep$(json_str "$f")"
    sep=", "
  done
  {
    printf '{%s,\n' "$(manifest_header)"
    printf '  "kind": "config", "file": %s, "app_dir": %s, "size_bytes": %s, "sha256": %s,\n' \
      "$(json_str "$name")" "$(json_str "$APP_DIR")" "$ARCHIVE_SIZE" "$(json_str "$sha")"
    printf '  %s,\n' "$(crypt_manifest_fields config "$partial")"
    printf '  "file_count": %s, "files": [%s],\n  "missing": [%s]\n}\n' "$ENTRY_COUNT" "$files_json" "$missing_json"
  } >"$man_partial"

  sync -- "$partial" "$sum_partial" "$man_partial" 2>/dev/null || sync
  chmod 0600 -- "$sum_partial" "$man_partial"
  mv -f -- "$sum_partial" "$final.sha256"
  mv -f -- "$man_partial" "$(manifest_path "$final")"
  on_exit_remove "$final.sha256" "$(manifest_path "$final")"
  mv -n -- "$partial" "$final"
  [[ ! -e "$partial" ]] || die "could not rename the archive into place"
  keep_path "$partial" "$sum_partial" "$man_partial" "$final.sha256" "$(manifest_path "$final")"
  ARCHIVE="$final"
  log INFO "backup written: $name ($(human_size "$ARCHIVE_SIZE"), $ENTRY_COUNT entries)"
}

# Step 7: retention among verified config backups (encrypted ones too).
apply_retention() {
  retention_prune "$BACKUP_DIR/config" "config_*.tar.gz*" "$RETENTION_CONFIG_DAYS" "$RETENTION_KEEP_MIN"
}

# Step 8: the off-site copy: every local archive not yet in the bucket.
upload_offsite() {
  offsite_sync_files config
}

# Step 9: the report.
report() {
  log INFO "========================================"
  log INFO "CONFIGURATION BACKUP REPORT"
  log INFO "Source: $APP_DIR"
  log INFO "File: $ARCHIVE"
  log INFO "Size: $(human_size "$ARCHIVE_SIZE"); entries: $ENTRY_COUNT; skipped: ${#MISSING[@]}"
  log INFO "========================================"
}

main() {
  parse_no_args "$@"
  lib_init backup-config
  acquire_lock backup-config
  job_start
  remove_stale_partials "$BACKUP_DIR/config"
  preflight
  collect_files
  create_archive
  apply_retention
  upload_offsite
  report
}

main "$@"
