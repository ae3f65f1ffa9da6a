#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: verify-backup-integrity.sh [--help] [BACKUP_FILE...]
# Summary: Verify every backup of the application: checksums, pg_restore -l of dumps, tar -tzf of archives.
#
#   Without arguments checks every database dump (daily, weekly, pre-restore), every config archive
#   and Docker volume tarball (and pre-restore ones) under $BACKUP_DIR, and every media snapshot's
#   file count against its manifest. With arguments checks only the given dump/archive files. Prints one line per backup
#   and a summary; alerts and pings /fail when anything fails. Log:
#   $LOG_DIR/verify-backup-integrity.log.
#
#   Exit: 0 all verified, 1 at least one backup failed (or usage error), 75 another verification
#   is running, 78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

TARGETS=()
CHECKED=0
FAILED=()
PG_RESTORE_BIN=""

parse_args() {
  while (($#)); do
    case "$1" in
      -h | --help) print_usage; exit 0 ;;
      --) shift; TARGETS+=("$@"); break ;;
      -*) usage_error "unknown option: $1" ;;
      *) TARGETS+=("$1") ;;
    esac
    shift
  done
  local t
  for t in "${TARGETS[@]}"; do
    [[ -f "$t" ]] || usage_error "not a file: $t"
    [[ "$t" == *.dump || "$t" == *.tar.gz ]] || usage_error "not a .dump or .tar.gz backup: $t"
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
verify_file() {
  local f="$1" name status
  name="${f#"$BACKUP_DIR"/}"
  CHECKED=$((CHECKED + 1))
  status="$(checksum_status "$f")"
  if [[ "$status" != OK ]]; then
    fail "$name" "checksum $status"
    return 0
  fi
  case "$f" in
    *.dump)
      if ! "$PG_RESTORE_BIN" -l "$f" >/dev/null 2>"$TMP_ERR"; then
        fail "$name" "pg_restore -l cannot read it: $(head -c 200 "$TMP_ERR" | tr '\n' ' ')"
        return 0
      fi
      ;;
    *.tar.gz)
      if ! tar -tzf "$f" >/dev/null 2>"$TMP_ERR"; then
        fail "$name" "tar -tzf cannot read it: $(head -c 200 "$TMP_ERR" | tr '\n' ' ')"
        return 0
      fi
      ;;
  esac
  log INFO "OK   $name ($(human_size "$(file_size "$f")"))"
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
  done < <(find "$BACKUP_DIR/database" "$BACKUP_DIR/config" "$BACKUP_DIR/docker-volumes" -type f \( -name '*.dump' -o -name '*.tar.gz' \) ! -name '.*' -print0 2>/dev/null | sort -z)
  while IFS= read -r -d '' f; do
    verify_snapshot "$f"
  done < <(find "$BACKUP_DIR/media" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name pre-restore ! -name latest -print0 2>/dev/null | sort -z)
}

# Step 4: the report; a failure exits 1 (the library alerts and pings /fail).
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
  lib_init verify-backup-integrity
  acquire_lock verify-backup-integrity
  job_start
  TMP_ERR="$(mktemp)"
  on_exit_remove "$TMP_ERR"
  preflight
  verify_all
  report
}

main "$@"
