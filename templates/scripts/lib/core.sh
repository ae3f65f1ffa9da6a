# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's core: run-wide state, usage and arguments, lib_init (config, log
# file, traps, run id), logging and failure handling, locks, and the JSON, file and time helpers
# every other part of the library uses. Sourced by backup-lib.sh.

# Files created by the jobs are private to the backup user.
umask 077

# Run-wide state (set by lib_init / job_start).
JOB="${JOB:-backup}"
LIB_SYSLOG=0
LOG_FILE=""
RUN_ID=""
LIB_JOB_STARTED=0
LIB_EXIT_HANDLED=0
LIB_LAST_ERROR=""
LIB_START_EPOCH="$(date +%s)"
LIB_CLEANUP_PATHS=()
# Exit code used when a started job fails unexpectedly (check-backups sets 2: critical).
LIB_FAIL_EXIT_CODE=""

# --- Usage and arguments ---

# print_usage: print the calling script's header comment from "# Usage:" to the end of that block.
print_usage() {
  sed -n '/^# Usage:/,/^[^#]/{/^#/{s/^# \{0,1\}//;p;};}' "$0"
}

# usage_error MSG: "error: MSG" and the usage on stderr, exit 1 (rbenv style).
usage_error() {
  printf '%s: error: %s\n\n' "$(basename "$0")" "$*" >&2
  print_usage >&2
  exit 1
}

# parse_no_args "$@": for scripts that take no arguments: --help/-h prints usage, anything else is an error.
parse_no_args() {
  while (($#)); do
    case "$1" in
      -h | --help) print_usage; exit 0 ;;
      *) usage_error "unexpected argument: $1" ;;
    esac
  done
}

# --- Initialisation, logging, failure handling ---

# load_config: source BACKUP_CONF (exit 78 when missing or unreadable) and check the variables the
# library needs.
load_config() {
  if [[ -z "$BACKUP_CONF" ]]; then
    printf '%s: no configuration file: BACKUP_CONF is not set and %s (written by provision) is missing\n' "$(basename "$0")" "$LIB_DIR/host.sh" >&2
    exit 78
  fi
  if [[ ! -r "$BACKUP_CONF" ]]; then
    printf '%s: configuration file %s is missing or unreadable\n' "$(basename "$0")" "$BACKUP_CONF" >&2
    exit 78
  fi
  # shellcheck source=/dev/null
  source "$BACKUP_CONF"
  local v
  for v in APP_NAME BACKUP_DIR LOG_DIR LOCK_DIR DB_NAME DB_USER DB_HOST DB_PORT; do
    if [[ -z "${!v:-}" ]]; then
      printf '%s: %s is not set in %s\n' "$(basename "$0")" "$v" "$BACKUP_CONF" >&2
      exit 78
    fi
  done
  # Optional values default to "disabled".
  : "${ALERT_EMAIL:=}" "${SLACK_WEBHOOK:=}" "${DISCORD_WEBHOOK:=}" "${HEALTHCHECK_URL:=}"
  : "${SMTP_URL:=}" "${SMTP_FROM:=}" "${STATE_DIR:=}" "${ESCALATE_AFTER:=}" "${DB_DUMP_JOBS:=1}"
  : "${METRICS_TEXTFILE_DIR:=}" "${MEDIA_VOLUME:=}"
  declare -p DOCKER_VOLUMES >/dev/null 2>&1 || DOCKER_VOLUMES=()
  : "${ENVIRONMENT:=}" "${RETENTION_KEEP_MIN:=3}"
  # The off-site copy and encryption (a backup.conf from before they existed: both off).
  : "${OFFSITE_ENABLED:=false}" "${RETENTION_MONTHLY_MONTHS:=12}" "${RETENTION_MONTHLY_KEEP_MIN:=3}"
  : "${RETENTION_DOCKER_VOLUMES_DAYS:=30}"
  : "${CHECK_OFFSITE_MAX_AGE_HOURS:=26}" "${CHECK_MONTHLY_MAX_AGE_DAYS:=32}"
  [[ -v ENCRYPT_RECIPIENTS ]] || ENCRYPT_RECIPIENTS=()
  [[ -v ENCRYPT_SCOPE ]] || ENCRYPT_SCOPE=()
}

# lib_init JOB [LOG_NAME]: load the config, open $LOG_DIR/LOG_NAME.log (default JOB), install the
# EXIT/ERR/INT/TERM/HUP traps and draw a run id (used by the healthcheck pings).
lib_init() {
  JOB="$1"
  local log_name="${2:-$1}"
  # A job started by another user from a directory it cannot read (sudo/runuser from /root) makes
  # find, psql and tar fail obscurely; relative arguments still work from any readable directory.
  if [[ ! -r . || ! -x . ]]; then cd / || exit 1; fi
  load_config
  # Started as root for a dedicated backup user (by hand, with sudo): run as that user, so every
  # lock, log and backup belongs to it (a root-owned one would break the next cron run) and no root
  # process writes where that user could plant a symlink. Restores of live media and config need
  # root for the target and set LIB_KEEP_ROOT=1; their writes into the backup tree run as that user
  # (lib_as_backup_user).
  if ((EUID == 0)) && [[ "${BACKUP_USER:-root}" != root && "${LIB_KEEP_ROOT:-0}" != 1 ]]; then
    # An identity read from a root-only file goes along on an inherited pipe (lib/crypt.sh).
    crypt_hand_down
    # By full path: cron's PATH or a hand-made one may lack /usr/sbin.
    exec /usr/sbin/runuser -u "$BACKUP_USER" -- "$LIB_SCRIPT_PATH" "${LIB_SCRIPT_ARGS[@]}"
  fi
  mkdir -p -- "$LOG_DIR"
  LOG_FILE="$LOG_DIR/$log_name.log"
  if ((EUID == 0)) && [[ "${BACKUP_USER:-root}" != root ]]; then
    # A root restore does not append to a file in the backup user's log directory (that user
    # could swap it for a symlink between two lines): its log goes to syslog and stderr.
    LOG_FILE=""
    LIB_SYSLOG=1
  elif [[ -L "$LOG_FILE" ]]; then
    # Never append through a symlink.
    printf '%s: %s is a symlink; logging to stderr only\n' "$(basename "$0")" "$LOG_FILE" >&2
    LOG_FILE=""
  else
    touch -- "$LOG_FILE" 2>/dev/null || LOG_FILE=""
  fi
  RUN_ID="$(new_uuid)"
  LIB_START_EPOCH="$(date +%s)"
  trap '_lib_on_err "$?" "$LINENO" "$BASH_COMMAND"' ERR
  trap '_lib_on_exit' EXIT
  trap '_lib_on_signal INT 130' INT
  trap '_lib_on_signal TERM 143' TERM
  trap '_lib_on_signal HUP 129' HUP
}

# lib_as_backup_user STEP [VAR...]: in a root restore for a dedicated backup user, run this script
# again as that user (same arguments, CEP_STEP=STEP) so that what STEP writes into the backup tree is
# written by the tree's own user: a symlink planted there cannot redirect anything of root's.
# Elsewhere, call STEP here. What root decided for the step goes with it: the variables VAR (in the
# child's environment) and stdin. The step reports its result as a last "STEP_RESULT=..." line (in
# STEP_RESULT).
# shellcheck disable=SC2034 # read by the scripts
STEP_RESULT=""
lib_as_backup_user() {
  local step="$1" out v
  shift
  local pass=()
  for v in "$@"; do pass+=("$v=${!v}"); done
  if ((EUID == 0)) && [[ "${BACKUP_USER:-root}" != root ]]; then
    out="$(/usr/sbin/runuser -u "$BACKUP_USER" -- env CEP_STEP="$step" "${pass[@]}" "$LIB_SCRIPT_PATH" "${LIB_SCRIPT_ARGS[@]}")" ||
      die "the $step step (run as $BACKUP_USER) failed, nothing was changed"
    # shellcheck disable=SC2034 # read by the scripts
    STEP_RESULT="$(printf '%s\n' "$out" | sed -n 's/^STEP_RESULT=//p' | tail -n 1)"
  else
    "$step"
  fi
}

# lib_own PATH...: as root, give what this run created in the backup user's tree (a lock file) to
# that user (symlinks themselves, never their targets), so its cron jobs can use it.
lib_own() {
  if ((EUID == 0)) && [[ "${BACKUP_USER:-root}" != root ]]; then
    chown -h -R -- "$BACKUP_USER:" "$@" 2>/dev/null || log WARNING "could not give $* to $BACKUP_USER"
  fi
}

# new_uuid: print a random UUID (kernel source, uuidgen as fallback).
new_uuid() {
  if [[ -r /proc/sys/kernel/random/uuid ]]; then
    cat /proc/sys/kernel/random/uuid
  else
    uuidgen
  fi
}

# log LEVEL MSG...: "2025-10-31T02:00:00+0000 [LEVEL] [job] MSG" to the job's log file and stderr.
# A log write failure (full disk) never fails the job.
log() {
  local level="$1"
  shift
  local line
  line="$(date +%Y-%m-%dT%H:%M:%S%z) [$level] [$JOB] $*"
  printf '%s\n' "$line" >&2
  if [[ -n "$LOG_FILE" ]]; then printf '%s\n' "$line" >>"$LOG_FILE" 2>/dev/null || true; fi
  if ((LIB_SYSLOG)); then logger -t "${APP_NAME:-backup}-$JOB" -- "[$level] $*" 2>/dev/null || true; fi
}

# die MSG [RC]: log MSG as ERROR, remember it for the failure alert, exit RC (default 1).
die() {
  LIB_LAST_ERROR="$1"
  log ERROR "$1"
  exit "${2:-1}"
}

# require_cmd CMD...: die with a clear message when a command is not installed.
require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "required command not found: $c (install it on this host)"
  done
}

# remove_stale_partials DIR: what a run of this job killed outright (kill -9, the OOM killer, a
# power cut) left in DIR: its .<name>.partial files and snapshot directories, which no exit trap
# removed. Called holding the job's lock, so no other run is writing them. They never counted as
# backups, but they took space run after run until the disk was full.
remove_stale_partials() {
  local dir="$1" p
  [[ -d "$dir" ]] || return 0
  while IFS= read -r -d '' p; do
    rm -rf -- "$p" && log INFO "removed $(basename -- "$p"), left by a run that was killed"
  done < <(find "$dir" -mindepth 1 -maxdepth 1 -name '.*.partial' -print0)
}

# on_exit_remove PATH...: remove PATH (file or directory) when the script exits, whatever the reason
# (error, signal, normal exit). Used for partial files; call keep_path once a file is final.
on_exit_remove() {
  LIB_CLEANUP_PATHS+=("$@")
}

# keep_path PATH...: take PATH off the removal list (it has been renamed into place or is wanted).
keep_path() {
  local p q kept=()
  for q in "${LIB_CLEANUP_PATHS[@]}"; do
    for p in "$@"; do [[ "$q" == "$p" ]] && continue 2; done
    kept+=("$q")
  done
  LIB_CLEANUP_PATHS=("${kept[@]}")
}

# job_start: log the start and ping healthcheck /start. From here a non-zero exit is a job failure:
# it is logged, alerted (CRITICAL) and pinged as /fail; a zero exit pings success.
job_start() {
  LIB_JOB_STARTED=1
  log INFO "started (run id $RUN_ID, pid $$)"
  hc_ping start
}

# job_exit RC: exit with RC when the script has already reported its own outcome (alerts and pings);
# the EXIT trap then only cleans up (check-backups uses it for its 0/1/2). The job did complete, so
# a failure count it had is reset (with its one "recovered" message).
job_exit() {
  LIB_EXIT_HANDLED=1
  job_recovered
  exit "$1"
}

# _lib_on_err RC LINE COMMAND: ERR trap: remember what failed, for the log and the failure alert.
_lib_on_err() {
  LIB_LAST_ERROR="command failed (exit $1) at line $2: $3"
  log ERROR "$LIB_LAST_ERROR"
}

# _lib_on_signal NAME RC: INT/TERM/HUP: record and exit (the EXIT trap cleans up and reports).
_lib_on_signal() {
  LIB_LAST_ERROR="interrupted by SIG$1"
  log ERROR "$LIB_LAST_ERROR"
  exit "$2"
}

# _lib_cleanup: remove the registered partial paths.
_lib_cleanup() {
  local p
  for p in "${LIB_CLEANUP_PATHS[@]}"; do
    [[ -n "$p" && "$p" != "/" ]] || continue
    if [[ -e "$p" || -L "$p" ]]; then
      rm -rf -- "$p" 2>/dev/null || continue
      [[ "$p" == *partial* ]] && log INFO "removed partial $(basename -- "$p")"
    fi
  done
  LIB_CLEANUP_PATHS=()
}

# _lib_on_exit: EXIT trap: clean up; report success or failure of a started job.
_lib_on_exit() {
  local rc=$?
  set +e
  trap - ERR
  _lib_cleanup
  if ((LIB_JOB_STARTED)) && ((!LIB_EXIT_HANDLED)); then
    local took=$(($(date +%s) - LIB_START_EPOCH))
    if ((rc == 0)); then
      log INFO "finished OK in ${took}s"
      notify_job_success "$took"
    else
      [[ -n "$LIB_LAST_ERROR" ]] || LIB_LAST_ERROR="exited with status $rc"
      log ERROR "FAILED after ${took}s: $LIB_LAST_ERROR"
      # Counted, alerted (WARNING or CRITICAL, see lib/alerts.sh) and pinged as /fail.
      notify_job_failure "$took" "$rc"
      [[ -n "$LIB_FAIL_EXIT_CODE" ]] && rc="$LIB_FAIL_EXIT_CODE"
    fi
  fi
  exit "$rc"
}

# acquire_lock NAME: take an exclusive flock on $LOCK_DIR/NAME.lock for the life of the process;
# when another run holds it, say so and exit 75 at once (no waiting, no alert: the other run reports).
acquire_lock() {
  local name="$1"
  mkdir -p -- "$LOCK_DIR"
  local lock="$LOCK_DIR/$name.lock"
  # A lock file this user cannot open is a broken installation, not a concurrent run: fail loudly
  # (alert + /fail ping) rather than exit quietly as for contention.
  # Opened read-only (flock needs no more): a lock file swapped for a symlink by its directory's
  # owner cannot make a root process create or write anything. A missing one is created without
  # following a symlink (noclobber: O_EXCL).
  [[ -e "$lock" ]] || (set -C; : >"$lock") 2>/dev/null || true
  if ! { exec {LIB_LOCK_FD}<"$lock"; } 2>/dev/null; then
    job_start
    die "cannot open the lock file $lock as $(id -un): check the owner of $LOCK_DIR"
  fi
  lib_own "$lock"
  if ! flock -n "$LIB_LOCK_FD"; then
    log ERROR "another $name run is in progress (lock $lock is held); exiting"
    exit 75
  fi
}

# --- JSON, files, time ---

# json_str STRING: print STRING as a JSON string literal (quotes and escapes included).
json_str() {
  local s="$1" i c
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\r'/\\r}"
  s="${s//$'\t'/\\t}"
  if [[ "$s" == *[[:cntrl:]]* ]]; then
    for ((i = 1; i < 32; i++)); do
      printf -v c '%b' "\\x$(printf '%02x' "$i")"
      [[ "$s" == *"$c"* ]] && s="${s//"$c"/$(printf '\\u%04x' "$i")}"
    done
  fi
  printf '"%s"' "$s"
}

# json_num VALUE: print VALUE when it is a number, else null.
json_num() {
  if [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then printf '%s' "$1"; else printf 'null'; fi
}

# now_stamp: the timestamp used in backup names, YYYY-MM-DD_HH-MM-SS (host time).
now_stamp() {
  date +%Y-%m-%d_%H-%M-%S
}

# now_iso: ISO-8601 UTC timestamp with milliseconds (the status JSON's format).
now_iso() {
  date -u +%Y-%m-%dT%H:%M:%S.%3NZ
}

# file_size PATH: size in bytes.
file_size() {
  stat -c %s -- "$1"
}

# file_mtime PATH: modification time, epoch seconds (of the link itself for symlinks).
file_mtime() {
  stat -c %Y -- "$1"
}

# age_seconds PATH: seconds since PATH was last modified.
age_seconds() {
  echo $(($(date +%s) - $(file_mtime "$1")))
}

# human_size BYTES: e.g. 18M.
human_size() {
  numfmt --to=iec --suffix=B -- "$1" 2>/dev/null || printf '%sB' "$1"
}

# write_atomic PATH [MODE]: write stdin to PATH through a temp file in the same directory and a
# rename, so readers never see a half-written file. MODE defaults to 0600.
write_atomic() {
  local path="$1" mode="${2:-0600}" tmp
  tmp="$(dirname -- "$path")/.$(basename -- "$path").tmp.$$"
  on_exit_remove "$tmp"
  cat >"$tmp"
  chmod "$mode" -- "$tmp"
  mv -f -- "$tmp" "$path"
  keep_path "$tmp"
}

# disk_usage_percent DIR: used percentage of the filesystem holding DIR (integer).
disk_usage_percent() {
  df -P -- "$1" | awk 'NR == 2 { gsub("%", "", $5); print $5 }'
}
