#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Usage: fetch-offsite.sh --list [KIND]
#        fetch-offsite.sh KIND [NAME|latest] --to DIR [--identity FILE] [--run [--force] [--target ...]]
#        fetch-offsite.sh --check KIND [NAME|latest] [--identity FILE]
# Summary: Fetch a backup from the off-site copy (S3), verify it, and hand it to the restore script.
#
#   KIND             database (daily), weekly, monthly, config or media
#   NAME|latest      a backup's name as --list shows it (default latest: the newest complete one)
#   --to DIR         where to put it (created, mode 0700). A dump or archive lands as DIR/NAME with
#                    its .sha256 and .manifest.json, checked against the server's MD5 and its
#                    SHA-256; a media snapshot is rebuilt as DIR/NAME (with DIR/NAME.sha256 and
#                    DIR/NAME.manifest.json) from its objects, every file checked against its
#                    checksum. An encrypted dump or archive stays encrypted (the restore script
#                    decrypts it without writing the plaintext anywhere).
#   --identity FILE  the age identity ("-" for stdin, /dev/fd/N): needed for encrypted media; for an
#                    encrypted dump or archive, proves that it decrypts and goes to the restore
#   --run            then run the restore script on what was fetched (restore-database.sh,
#                    restore-config.sh or restore-media.sh), as this user, with the options that
#                    follow (--force, --target-db NAME, --target DIR, --jobs N); without --run
#                    the command to run is printed
#   --list [KIND]    the off-site backups (all kinds, or KIND), newest first, one tab-separated
#                    line each: kind, name, time (UTC, from the name), bytes, encrypted, complete
#   --check          read the backup back and verify it without keeping it (a media snapshot: its
#                    checksum list, manifest, every object present and a sample of them checked;
#                    with an identity, encrypted ones decrypted): what the smoke test and
#                    verify-backup-integrity.sh do. Prints "CHECKED|kind|name|details"
#   -h, --help       this text
#
#   This is how a host whose disk is gone comes back: provision a new host (it gets the same
#   bucket, prefix and credentials), then fetch and restore each kind. Runs as the backup user
#   (started as root, it re-runs itself as that user); nothing here changes the bucket.
#   Log: $LOG_DIR/fetch-offsite.log. Output: "FETCHED|<path>" and "RESTORE|<command>" lines.
#   The off-site copy is read with the credentials in OFFSITE_RCLONE_CONFIG.
#
#   Exit: 0 fetched and verified (and restored with --run), 1 failure or usage error,
#   78 configuration error.
set -Eeuo pipefail

# shellcheck source=backup-lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/backup-lib.sh"

LIST=0
CHECK=0
LIST_KIND=""
KIND=""
NAME=latest
TO=""
IDENTITY_FILE=""
RUN=0
RESTORE_OPTS=()

# need_value OPTION ARGS...: OPTION must be followed by a non-empty value.
need_value() {
  if (($# < 3)) || [[ -z "$3" ]]; then usage_error "$1 needs ${2}"; fi
}

parse_args() {
  local positional=()
  while (($#)); do
    case "$1" in
      -h | --help) print_usage; exit 0 ;;
      --list) LIST=1 ;;
      --check) CHECK=1 ;;
      --to) need_value --to "a directory" "${@:2}"; TO="$2"; shift ;;
      --to=*) TO="${1#*=}" ;;
      --identity) need_value --identity "a file" "${@:2}"; IDENTITY_FILE="$2"; shift ;;
      --identity=*) IDENTITY_FILE="${1#*=}" ;;
      --run) RUN=1 ;;
      --force | -f) RESTORE_OPTS+=(--force) ;;
      --target | --target-db | --jobs)
        need_value "$1" "a value" "${@:2}"
        RESTORE_OPTS+=("$1" "$2")
        shift
        ;;
      -*) usage_error "unknown option: $1" ;;
      *) positional+=("$1") ;;
    esac
    shift
  done
  if ((LIST)); then
    ((${#positional[@]} <= 1)) || usage_error "--list takes at most one kind"
    LIST_KIND="${positional[0]:-}"
    [[ -z "$LIST_KIND" ]] || valid_kind "$LIST_KIND"
    return 0
  fi
  ((${#positional[@]} >= 1)) || usage_error "which kind? database, weekly, monthly, config or media (or --list)"
  ((${#positional[@]} <= 2)) || usage_error "unexpected argument: ${positional[2]}"
  KIND="${positional[0]}"
  valid_kind "$KIND"
  NAME="${positional[1]:-latest}"
  if ((CHECK)); then
    if [[ -n "$TO" ]] || ((RUN)); then usage_error "--check keeps nothing: no --to or --run"; fi
    return 0
  fi
  [[ -n "$TO" ]] || usage_error "--to DIR is required: where to put the backup"
  ((RUN)) || ((${#RESTORE_OPTS[@]} == 0)) || usage_error "${RESTORE_OPTS[0]} is an option of the restore: give --run too"
}

valid_kind() {
  case "$1" in
    database | weekly | monthly | config | media) ;;
    *) usage_error "unknown kind: $1 (database, weekly, monthly, config or media)" ;;
  esac
}

# --list: every kind's listing, newest first.
list() {
  local k kinds=("${OFFSITE_KINDS[@]}")
  [[ -z "$LIST_KIND" ]] || kinds=("$LIST_KIND")
  offsite_preflight || die "off-site copy unreachable: $OFFSITE_ERROR"
  printf '# kind\tname\ttime\tbytes\tencrypted\tcomplete\n'
  for k in "${kinds[@]}"; do
    offsite_list "$k" || die "$OFFSITE_ERROR"
  done
}

# --check: read back and verify, keep nothing.
check() {
  local details
  if [[ "$KIND" == media ]]; then
    if [[ "$NAME" == latest ]]; then
      local w
      _offsite_work
      w="$OFFSITE_W"
      offsite_preflight || die "$OFFSITE_ERROR"
      _offsite_listing media "$w/check.media" || die "$OFFSITE_ERROR"
      NAME="$(_offsite_media_snapshots "$w/check.media" | head -n 1 | cut -f2)"
      [[ -n "$NAME" ]] || die "no complete media snapshot in $(offsite_where)"
    fi
    offsite_readback_media "$NAME" || die "$OFFSITE_ERROR"
    details="$READBACK_FILES files, every object present, $READBACK_OBJECTS sampled objects verified"
    ((READBACK_DECRYPTED == 0)) || details+=", $READBACK_DECRYPTED decrypted with the identity"
  else
    if [[ "$NAME" == latest ]]; then
      offsite_newest "$KIND" || die "$OFFSITE_ERROR"
      NAME="$NEWEST_NAME"
    fi
    offsite_readback_file "$KIND" "$NAME" || die "$OFFSITE_ERROR"
    details="checksum verified (server MD5 and SHA-256), equal to the local copy"
    ((READBACK_DECRYPTED == 0)) || details+=", decrypted with the identity"
  fi
  printf 'CHECKED|%s|%s|%s\n' "$KIND" "$READBACK_NAME" "$details"
}

# Step 1: download and verify (offsite_fetch_file / offsite_fetch_media).
fetch() {
  local dir
  mkdir -p -- "$TO"
  chmod 0700 -- "$TO"
  dir="$(readlink -f -- "$TO")"
  if [[ "$KIND" == media ]]; then
    offsite_fetch_media "$NAME" "$dir" || die "$OFFSITE_ERROR"
  else
    offsite_fetch_file "$KIND" "$NAME" "$dir" || die "$OFFSITE_ERROR"
    # An encrypted dump or archive stays encrypted here; with an identity, prove it decrypts
    # (age authenticates every chunk) unless the restore is about to do that itself.
    if [[ "$FETCHED" == *.age && -n "$CRYPT_IDENTITY" ]] && ((!RUN)); then
      crypt_check_decrypts "$FETCHED"
      log INFO "$(basename -- "$FETCHED") decrypts with the identity given"
    fi
  fi
  printf 'FETCHED|%s\n' "$FETCHED"
}

# Step 2: the restore script's command, printed or run (the identity goes along on a pipe).
restore() {
  local script cmd
  case "$KIND" in
    media) script=restore-media.sh ;;
    config) script=restore-config.sh ;;
    *) script=restore-database.sh ;;
  esac
  cmd=("$SCRIPTS_DIR/$script" "$FETCHED" "${RESTORE_OPTS[@]}")
  local id_hint=""
  [[ "$FETCHED" != *.age ]] || id_hint=" --identity FILE"
  printf 'RESTORE|%s%s\n' "${cmd[*]}" "$id_hint"
  ((RUN)) || return 0
  if [[ "$FETCHED" == *.age ]]; then
    local fd
    exec {fd}< <(printf '%s\n' "$CRYPT_IDENTITY")
    cmd+=(--identity "/dev/fd/$fd")
  fi
  log INFO "running $script on $(basename -- "$FETCHED")"
  "${cmd[@]}"
}

main() {
  parse_args "$@"
  crypt_init_identity "$IDENTITY_FILE"
  lib_init fetch-offsite
  offsite_enabled || die "the off-site copy is not enabled in $BACKUP_CONF (OFFSITE_ENABLED=$OFFSITE_ENABLED)"
  if ((LIST)); then
    list
    exit 0
  fi
  if ((CHECK)); then
    check
    exit 0
  fi
  fetch
  restore
}

main "$@"
