#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: verify-backup-integrity.sh [--help] [--identity FILE] [--no-offsite] [BACKUP_FILE...]
# Summary: Verify every backup of the application: checksums, pg_restore -l of dumps, tar -tzf of archives, the off-site copy read back.
#
#   Without arguments checks every database dump (daily, weekly, monthly, pre-restore), every
#   config archive and Docker volume tarball (and pre-restore ones) under $BACKUP_DIR, and every
#   media snapshot's file count against its manifest; with OFFSITE_ENABLED it then reads back from
#   the bucket the newest daily dump, weekly and monthly dump and config archive (downloaded: the
#   server's MD5, the SHA-256, equal to the local checksum) and the newest media snapshot's checksum
#   list and manifest with a random sample of its objects (MEDIA_READBACK_SAMPLE, default 20). An
#   encrypted backup (.age) is checked against its checksum (which covers the encrypted file) and
#   age's header; with --identity FILE it is also decrypted (into pg_restore -l or tar -tz; nothing
#   is written). With arguments checks only the given dump/archive files. Prints one line per backup
#   and a summary; alerts and pings /fail when anything fails. Runs weekly from cron.
#   Log: $LOG_DIR/verify-backup-integrity.log.
#
#   --identity FILE  the age identity ("-" for stdin, /dev/fd/N), to decrypt what is encrypted
#   --no-offsite     only the local backups
#
#   Exit: 0 all verified, 1 at least one backup failed (or usage error), 75 another verification
#   is running, 78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

TARGETS=()
IDENTITY_FILE=""
NO_OFFSITE=0
CHECKED=0
FAILED=()
PG_RESTORE_BIN=""

parse_args() {
  while (($#)); do
    case "$1" in
      -h | --help) print_usage; exit 0 ;;
      --identity)
        if (($# < 2)) || [[ -z "$2" ]]; then usage_error "--identity needs a file"; fi
        IDENTITY_FILE="$2"
        shift
        ;;
      --no-offsite) NO_OFFSITE=1 ;;
      --) shift; TARGETS+=("$@"); break ;;
      -*) usage_error "unknown option: $1" ;;
      *) TARGETS+=("$1") ;;
    esac
    shift
  done
  local t
  for t in "${TARGETS[@]}"; do
    [[ -f "$t" ]] || usage_error "not a file: $t"
    [[ "$t" == *.dump || "$t" == *.tar.gz || "$t" == *.dump.age || "$t" == *.tar.gz.age ]] ||
      usage_error "not a .dump or .tar.gz backup (or .age): $t"
  done
}

# Step 1: pre-flight: tools. pg_restore: the newest installed (it reads older dump formats).
preflight() {
  require_cmd sha256sum tar gzip flock
  local d
  d="$(for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/pg_restore" ]] || continue; printf '%s\n' "$d"; done | sort -t/ -k5,5 -rn | head -n1)"
  if [[ -n "$d" ]]; then PG_RESTORE_BIN="$d/pg_restore"; else PG_RESTORE_BIN="$(command -v pg_restore || true)"; fi
  [[ -n "$PG_RESTORE_BIN" ]] || die "pg_restore not found: install postgresql-client"
}

# fail NAME REASON: record a failed backup.
fail() {
  FAILED+=("$1: $2")
  log ERROR "FAIL $1: $2"
}

# Step 2: one file: checksum, then the format's own reader.
# A monthly dump is a hard link of a daily one: the same bytes are read once, and the second name
# gets the first one's result.
declare -A SEEN_INODE=()
verify_file() {
  local f="$1" name status inode first failed_before
  name="${f#"$BACKUP_DIR"/}"
  CHECKED=$((CHECKED + 1))
  inode="$(stat -c %d:%i -- "$f")"
  if [[ -n "${SEEN_INODE[$inode]+x}" ]]; then
    IFS='|' read -r first failed_before <<<"${SEEN_INODE[$inode]}"
    if ((failed_before)); then fail "$name" "the same file as $first, which failed"; else log INFO "OK   $name (the same file as $first)"; fi
    return 0
  fi
  SEEN_INODE[$inode]="$name|1"
  _verify_file_once "$f" "$name"
}

# _verify_file_once PATH NAME: checksum, then the format's own reader (decrypting on the way).
_verify_file_once() {
  local f="$1" name="$2" status inode
  inode="$(stat -c %d:%i -- "$f")"
  status="$(checksum_status "$f")"
  if [[ "$status" != OK ]]; then
    fail "$name" "checksum $status"
    return 0
  fi
  local reader=(cat --) how=""
  if [[ "$f" == *.age ]]; then
    if ! crypt_is_age "$f"; then
      fail "$name" "not an age file (no age header) although named .age"
      return 0
    fi
    if [[ -z "$CRYPT_IDENTITY" ]]; then
      log INFO "OK   $name ($(human_size "$(file_size "$f")"); encrypted: checksum and age header verified, contents not read: no --identity)"
      SEEN_INODE[$inode]="$name|0"
      return 0
    fi
    reader=(crypt_decrypt)
    how="; decrypted"
  fi
  case "$f" in
    *.dump)
      if [[ "$(db_dump_format "$f")" == directory-tar ]]; then
        _verify_parallel_dump "$f" "$name" || return 0
        how="; parallel dump"
      elif ! "$PG_RESTORE_BIN" -l -- "$f" >/dev/null 2>"$TMP_ERR"; then
        fail "$name" "pg_restore -l cannot read it: $(head -c 200 "$TMP_ERR" | tr '\n' ' ')"
        return 0
      fi
      ;;
    *.dump.age)
      if ! "${reader[@]}" "$f" 2>"$TMP_ERR" | "$PG_RESTORE_BIN" -l >/dev/null 2>>"$TMP_ERR"; then
        fail "$name" "pg_restore -l cannot read it: $(head -c 200 "$TMP_ERR" | tr '\n' ' ')"
        return 0
      fi
      ;;
    *.tar.gz | *.tar.gz.age)
      if ! "${reader[@]}" "$f" 2>"$TMP_ERR" | tar -tzf - >/dev/null 2>>"$TMP_ERR"; then
        fail "$name" "tar -tzf cannot read it: $(head -c 200 "$TMP_ERR" | tr '\n' ' ')"
        return 0
      fi
      ;;
  esac
  log INFO "OK   $name ($(human_size "$(file_size "$f")")$how)"
  SEEN_INODE[$inode]="$name|0"
}

# _verify_parallel_dump PATH NAME: a parallel dump (database.dump_jobs: an archived -Fd directory):
# every member of the tar readable (tar -t reads it all), and its table of contents (toc.dat,
# unpacked alone into a private directory) readable by pg_restore -l. Returns 1 after fail.
_verify_parallel_dump() {
  local f="$1" name="$2" d members
  if ! members="$(tar -tf "$f" 2>"$TMP_ERR")"; then
    fail "$name" "tar -tf cannot read the parallel dump: $(head -c 200 "$TMP_ERR" | tr '\n' ' ')"
    return 1
  fi
  d="$(mktemp -d)"
  on_exit_remove "$d"
  if ! tar -xf "$f" -C "$d" --no-same-owner toc.dat 2>"$TMP_ERR" || ! "$PG_RESTORE_BIN" -l -- "$d" >/dev/null 2>>"$TMP_ERR"; then
    fail "$name" "pg_restore -l cannot read the parallel dump's table of contents: $(head -c 200 "$TMP_ERR" | tr '\n' ' ')"
    rm -rf -- "$d"
    return 1
  fi
  rm -rf -- "$d"
  log INFO "parallel dump $name: $(grep -c . <<<"$members") files, table of contents read"
}

# Step 3: one media snapshot: its file count against its manifest.
verify_snapshot() {
  local snap="$1" name manifest expected files
  name="${snap#"$BACKUP_DIR"/}"
  manifest="$(manifest_path "$snap")"
  [[ -f "$manifest" ]] || manifest="$snap/.manifest.json"
  CHECKED=$((CHECKED + 1))
  if [[ ! -f "$manifest" ]]; then
    fail "$name" "no manifest"
    return 0
  fi
  expected="$(sed -n 's/.*"files"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$manifest" | head -n1)"
  files="$(find "$snap" -type f | wc -l)"
  if [[ -z "$expected" ]]; then
    fail "$name" "manifest has no file count"
  elif ((expected != files)); then
    fail "$name" "$files files but the manifest says $expected"
  else
    log INFO "OK   $name ($files files)"
  fi
}

# Step 2-3 over everything (or the given files).
verify_all() {
  local f
  if ((${#TARGETS[@]})); then
    for f in "${TARGETS[@]}"; do verify_file "$f"; done
    return 0
  fi
  while IFS= read -r -d '' f; do
    verify_file "$f"
  done < <(find "$BACKUP_DIR/database" "$BACKUP_DIR/config" "$BACKUP_DIR/docker-volumes" -type f \( -name '*.dump' -o -name '*.tar.gz' -o -name '*.dump.age' -o -name '*.tar.gz.age' \) ! -name '.*' -print0 2>/dev/null | sort -z)
  while IFS= read -r -d '' f; do
    verify_snapshot "$f"
  done < <(find "$BACKUP_DIR/media" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name pre-restore ! -name latest -print0 2>/dev/null | sort -z)
}

# Step 4: the off-site copy read back: the newest backup of each kind (lib/offsite.sh).
verify_offsite() {
  ((${#TARGETS[@]} == 0 && !NO_OFFSITE)) || return 0
  offsite_enabled || return 0
  if ! offsite_preflight; then
    CHECKED=$((CHECKED + 1))
    fail "off-site" "$OFFSITE_ERROR"
    return 0
  fi
  local kind
  for kind in database weekly monthly config; do
    if ! offsite_newest "$kind"; then
      # None off-site is only a failure when there is one locally to copy.
      offsite_kind "$kind"
      [[ -z "$(newest_backup f "$OK_GLOB" "$OK_DIR")" ]] && continue
      CHECKED=$((CHECKED + 1))
      fail "off-site $kind" "$OFFSITE_ERROR"
      continue
    fi
    CHECKED=$((CHECKED + 1))
    if offsite_readback_file "$kind" "$NEWEST_NAME"; then
      log INFO "OK   off-site $OK_SUB/$READBACK_NAME (read back: checksum$( ((READBACK_DECRYPTED)) && echo ", decrypted"))"
    else
      fail "off-site $kind" "$OFFSITE_ERROR"
    fi
  done
  offsite_kind media
  local w name
  _offsite_work
  w="$OFFSITE_W"
  CHECKED=$((CHECKED + 1))
  if ! _offsite_listing media "$w/verify.media"; then
    fail "off-site media" "$OFFSITE_ERROR"
    return 0
  fi
  name="$(_offsite_media_snapshots "$w/verify.media" | head -n 1 | cut -f2)"
  if [[ -z "$name" ]]; then
    if [[ -n "$(newest_backup d "$MEDIA_SNAPSHOT_GLOB" "$OK_DIR")" ]]; then fail "off-site media" "no complete media snapshot off-site"; fi
    return 0
  fi
  if offsite_readback_media "$name"; then
    log INFO "OK   off-site media/$name (read back: checksum list, manifest, every object present, $READBACK_OBJECTS sampled objects verified$( ((READBACK_DECRYPTED)) && echo ", $READBACK_DECRYPTED decrypted"))"
  else
    fail "off-site media" "$OFFSITE_ERROR"
  fi
}

# Step 5: the report; a failure exits 1 (the library alerts and pings /fail).
report() {
  log INFO "========================================"
  log INFO "BACKUP INTEGRITY REPORT: $CHECKED checked, ${#FAILED[@]} failed"
  local l
  for l in "${FAILED[@]}"; do log ERROR "  $l"; done
  log INFO "========================================"
  if ((${#FAILED[@]})); then
    die "integrity check failed for ${#FAILED[@]} of $CHECKED backups: $(printf '%s; ' "${FAILED[@]}")"
  fi
  ((CHECKED > 0)) || log WARNING "no backups found under $BACKUP_DIR"
}

main() {
  parse_args "$@"
  crypt_init_identity "$IDENTITY_FILE"
  lib_init verify-backup-integrity
  acquire_lock verify-backup-integrity
  job_start
  TMP_ERR="$(mktemp)"
  on_exit_remove "$TMP_ERR"
  preflight
  verify_all
  verify_offsite
  report
}

main "$@"
