# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's restore helpers, shared by restore-database, restore-media and
# restore-config: their command line, the confirmation, the report, and the EXIT trap that prints
# a FAILED report. Sourced by backup-lib.sh; uses lib/core.sh and lib/checksums.sh.

# parse_restore_args WHAT HINT [--OPTION:VAR:VALUE]... -- ARG...: the restore scripts' command line.
# One backup to restore, in RESTORE_ARG (WHAT names it in messages, HINT says what to give when it
# is missing); --force/-f sets FORCE=1; each --OPTION listed takes a non-empty value, as
# "--OPTION VALUE" or "--OPTION=VALUE", stored in the variable VAR (VALUE says what it is in the
# error message). --help prints the usage; anything else is a usage error (exit 1).
# shellcheck disable=SC2034 # FORCE is read by the restore scripts
parse_restore_args() {
  local what="$1" hint="$2" spec opt var value matched
  shift 2
  local -a specs=()
  while (($#)) && [[ "$1" != -- ]]; do
    specs+=("$1")
    shift
  done
  if (($#)); then shift; fi
  FORCE=0
  RESTORE_ARG=""
  for spec in "${specs[@]}"; do
    IFS=: read -r opt var value <<<"$spec"
    printf -v "$var" '%s' ""
  done
  while (($#)); do
    case "$1" in
      -h | --help) print_usage; exit 0 ;;
      -f | --force) FORCE=1 ;;
      -*)
        matched=0
        for spec in "${specs[@]}"; do
          IFS=: read -r opt var value <<<"$spec"
          if [[ "$1" == "$opt" ]]; then
            if (($# < 2)) || [[ -z "$2" ]]; then usage_error "$opt needs $value"; fi
            printf -v "$var" '%s' "$2"
            shift
          elif [[ "$1" == "$opt="* ]]; then
            [[ -n "${1#*=}" ]] || usage_error "$opt needs $value"
            printf -v "$var" '%s' "${1#*=}"
          else
            continue
          fi
          matched=1
          break
        done
        ((matched)) || usage_error "unknown option: $1"
        ;;
      *)
        [[ -z "$RESTORE_ARG" ]] || usage_error "only one $what can be restored at a time (got $RESTORE_ARG and $1)"
        RESTORE_ARG="$1"
        ;;
    esac
    shift
  done
  [[ -n "$RESTORE_ARG" ]] || usage_error "which $what? $hint"
}

# verified_backup_file ARG DIR WHAT: the backup file a restore reads, checked before anything else:
# ARG is a path, or a name in DIR; it must be a file whose .sha256 matches, or the restore refuses.
# Sets RESTORE_FILE (the resolved path) and RESTORE_NAME (its base name).
verified_backup_file() {
  local arg="$1" dir="$2" what="$3" file
  file="$arg"
  [[ "$file" == */* ]] || file="$dir/$file"
  [[ -f "$file" ]] || die "$what $arg not found ($file is not a file)"
  RESTORE_FILE="$(readlink -f -- "$file")"
  RESTORE_NAME="$(basename -- "$RESTORE_FILE")"
  case "$(checksum_status "$RESTORE_FILE")" in
    OK) log INFO "checksum OK: $RESTORE_NAME" ;;
    MISMATCH) die "checksum MISMATCH: $RESTORE_NAME does not match $RESTORE_NAME.sha256 (corrupted or altered); refusing to restore" ;;
    MISSING_SUM) die "no valid checksum file $RESTORE_FILE.sha256: the $what cannot be verified; refusing to restore" ;;
    *) die "$what $RESTORE_FILE is missing" ;;
  esac
}

# private_backup_copy ARG DIR WHAT: for a root restore of a backup in a tree another user may own:
# copy the backup file (ARG: a path, or a name in DIR) ONCE into a new root-only directory and check
# THAT copy against the .sha256 (read once too); everything after reads the copy, so the file
# cannot be swapped between its check and its use (while the restore waits for "yes", say). Sets
# RESTORE_FILE (the original's resolved path), RESTORE_NAME, RESTORE_WORK (the 0700 directory,
# removed at exit) and RESTORE_COPY.
private_backup_copy() {
  local arg="$1" dir="$2" what="$3" file expected name actual
  file="$arg"
  [[ "$file" == */* ]] || file="$dir/$file"
  [[ -f "$file" ]] || die "$what $arg not found ($file is not a file)"
  RESTORE_FILE="$(readlink -f -- "$file")"
  RESTORE_NAME="$(basename -- "$RESTORE_FILE")"
  RESTORE_WORK="$(mktemp -d)"
  on_exit_remove "$RESTORE_WORK"
  chmod 0700 -- "$RESTORE_WORK"
  RESTORE_COPY="$RESTORE_WORK/$RESTORE_NAME"
  cat -- "$RESTORE_FILE" >"$RESTORE_COPY" || die "cannot read $what $RESTORE_FILE"
  expected=""
  name=""
  if [[ -f "$RESTORE_FILE.sha256" ]]; then read -r expected name <"$RESTORE_FILE.sha256" || true; fi
  name="${name#\*}"
  [[ "$expected" =~ ^[0-9a-f]{64}$ && "$name" == "$RESTORE_NAME" ]] ||
    die "no valid checksum file $RESTORE_FILE.sha256: the $what cannot be verified; refusing to restore"
  actual="$(sha256sum <"$RESTORE_COPY" | awk '{ print $1 }')"
  [[ "$actual" == "$expected" ]] ||
    die "checksum MISMATCH: $RESTORE_NAME does not match $RESTORE_NAME.sha256 (corrupted or altered); refusing to restore"
  log INFO "checksum OK: $RESTORE_NAME (the copy that will be restored)"
}

# confirm_restore FORCE WHAT: a restore goes ahead only with --force (FORCE=1, logged) or when a
# person at a terminal types "yes"; with neither (cron, a pipe, ssh without -t) it refuses, so a
# restore never overwrites live data unattended by accident.
confirm_restore() {
  local force="$1" what="$2" answer=""
  if [[ "$force" == 1 ]]; then
    log WARNING "--force given: not asking for confirmation ($what)"
    return 0
  fi
  [[ -t 0 ]] || die "refusing to restore: no terminal to confirm on and no --force ($what)"
  printf '\n%s\nType "yes" to continue: ' "$what" >&2
  read -r answer || answer=""
  [[ "$answer" == "yes" ]] || die "restore cancelled: the answer was not \"yes\""
  log INFO "confirmed at the terminal"
}

# restore_report TITLE SUBJECT STATUS [LINE...]: print a restore's report to stdout and append it to
# the log file: TITLE between two banners, SUBJECT (where it restored to), the time, "Status:
# STATUS" and a rule, then the LINEs, where "--" is a rule and "==" a banner.
restore_report() {
  local title="$1" subject="$2" status="$3" line
  shift 3
  local banner="========================================" rule="----------------------------------------"
  for line in == "$title" == "$subject" "Timestamp: $(date '+%Y-%m-%d %H:%M:%S')" "Status: $status" -- "$@"; do
    case "$line" in
      ==) line="$banner" ;;
      --) line="$rule" ;;
    esac
    printf '%s\n' "$line"
    if [[ -n "$LOG_FILE" ]]; then printf '%s\n' "$line" >>"$LOG_FILE" 2>/dev/null || true; fi
  done
}

# restore_prune_after DIR GLOB VERIFIER RESTORED: the restores' pruning of old pre-restore copies, run
# only once the restore has succeeded and been verified (before it, pruning could delete the very
# copy being restored), sparing RESTORED. In a background subshell, so errexit holds inside it while
# its failure is only a warning: the restore is done by then, and old copies merely stay.
restore_prune_after() {
  local rc=0
  (prune_pre_restore "$@") &
  wait "$!" || rc=$?
  ((rc == 0)) || log WARNING "pruning old pre-restore copies in $1 failed (exit $rc); the restore itself succeeded"
}

# is_identifier NAME: a lowercase SQL identifier (the inventory schema's rule), safe unquoted in SQL and paths.
is_identifier() {
  [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]
}

# restore_exit_trap: take over the EXIT trap so that a restore that fails after it started changing
# things (RESTORE_STARTED=1) prints a FAILED report (the script's restore_failed_report RC: what
# failed, where the pre-restore backup is) before the library's cleanup and exit.
RESTORE_STARTED=0
restore_exit_trap() {
  trap '_restore_on_exit' EXIT
}
_restore_on_exit() {
  local rc=$?
  set +e
  trap - ERR
  if ((rc != 0 && RESTORE_STARTED)) && declare -F restore_failed_report >/dev/null; then
    restore_failed_report "$rc"
  fi
  (exit "$rc")
  _lib_on_exit
}
