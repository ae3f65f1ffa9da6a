# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's off-site copy with rclone (any S3-compatible endpoint): the bucket
# layout, catch-up uploads verified against the server's checksums, off-site retention, the local
# state file check-backups reads, and fetching/reading back a dump or archive. Media (content-
# addressed objects) are in lib/offsite-media.sh. Sourced by backup-lib.sh; uses lib/core.sh,
# lib/newest.sh, lib/checksums.sh, lib/alerts.sh and lib/crypt.sh.
#
# Layout under <bucket>/<prefix>/ (the prefix defaults to the host's inventory name):
#   database/           daily dumps: NAME, NAME.sha256, NAME.manifest.json together
#   database/weekly/    weekly dumps, the same way
#   database/monthly/   monthly dumps (the first daily of each month), the same way
#   config/             config archives, the same way
#   media/              per snapshot STAMP.sha256 (the path -> object map), STAMP.manifest.json
#                       and STAMP.dirs; the files themselves in media/objects/ (offsite-media.sh)
# Nothing here fails, changes or deletes a local backup: a failed upload is a WARNING alert, and
# the next run uploads whatever is missing (every local verified backup, not only the newest).
#
# Credentials are in OFFSITE_RCLONE_CONFIG (0600, the backup user's), never in backup.conf or on a
# command line. rclone runs in an environment of its own (env -i): rclone 1.60 fails with
# LoadCustomCABundleError when AWS_CA_BUNDLE is set, and RCLONE_* variables would override the file.

OFFSITE_READY=""
OFFSITE_ERROR=""
OFFSITE_W=""
# shellcheck disable=SC2034 # read by the scripts
OFFSITE_KINDS=(database weekly monthly config media docker-volumes)

# offsite_enabled: the off-site copy is switched on in backup.conf.
offsite_enabled() {
  [[ "${OFFSITE_ENABLED:-false}" == true ]]
}

# offsite_where: the bucket and endpoint, for messages.
offsite_where() {
  printf 's3://%s/%s at %s' "${OFFSITE_BUCKET:-?}" "${OFFSITE_PREFIX:-}" "${OFFSITE_ENDPOINT:-?}"
}

# _offsite_remote SUB: rclone's name for <bucket>/<prefix>/SUB.
_offsite_remote() {
  printf 'offsite:%s/%s%s' "$OFFSITE_BUCKET" "$OFFSITE_PREFIX" "${1:+/$1}"
}

# _rclone ARG...: rclone with this host's config file, in a clean environment, with timeouts and a
# few retries (the next run catches up anyway), errors only.
_rclone() {
  env -i PATH="$PATH" HOME="${HOME:-/}" TMPDIR="${TMPDIR:-/tmp}" \
    timeout -k 30 "${OFFSITE_TIMEOUT:-21600}" rclone --config "$OFFSITE_RCLONE_CONFIG" -q \
    --contimeout 15s --timeout 5m --retries 2 --retries-sleep 1s --low-level-retries 3 "$@"
}

# _offsite_work: OFFSITE_W, a private scratch directory for this run's listings (removed on exit;
# call it in the script's own shell, not in a $(...)).
_offsite_work() {
  if [[ -z "$OFFSITE_W" ]]; then
    OFFSITE_W="$(mktemp -d)"
    on_exit_remove "$OFFSITE_W"
  fi
}

# _offsite_why ERRFILE: rclone's error output in one line (its last "Failed ..." line and what
# follows it, e.g. "caused by: ... connection refused"), with what it means.
_offsite_why() {
  local msg
  msg="$(sed -E 's#^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} ##' -- "$1" 2>/dev/null |
    awk '/^(Failed|ERROR)/ { buf = "" } { buf = buf " " $0 } END { print buf }' || true)"
  msg="$(printf '%s' "$msg" | tr -s ' \t\n' ' ' | sed -e 's/^ //' -e 's/ $//')"
  case "$msg" in
    *"directory not found"* | *NoSuchBucket*) msg="bucket $OFFSITE_BUCKET not found at $OFFSITE_ENDPOINT ($msg)" ;;
    *InvalidAccessKeyId* | *SignatureDoesNotMatch* | *AccessDenied* | *"status code: 403"*)
      msg="access denied by $OFFSITE_ENDPOINT: check offsite.access_key_id and offsite.secret_access_key ($msg)"
      ;;
    *"connection refused"* | *"no such host"* | *"i/o timeout"* | *"deadline exceeded"* | *"network is unreachable"*)
      msg="cannot reach $OFFSITE_ENDPOINT ($msg)"
      ;;
    "") msg="rclone failed without a message" ;;
  esac
  printf '%s' "${msg:0:500}"
}

# offsite_preflight: rclone, the credentials file and one listing of the prefix: the endpoint
# answers, accepts the key and has the bucket. Once per run; 1 with OFFSITE_ERROR when not.
offsite_preflight() {
  if [[ -n "$OFFSITE_READY" ]]; then [[ "$OFFSITE_READY" == ok ]]; return; fi
  OFFSITE_READY=failed
  if ! command -v rclone >/dev/null 2>&1; then
    OFFSITE_ERROR="rclone is not installed (provision installs it when offsite.enabled)"
    return 1
  fi
  if [[ -z "${OFFSITE_BUCKET:-}" || -z "${OFFSITE_RCLONE_CONFIG:-}" ]]; then
    OFFSITE_ERROR="OFFSITE_BUCKET or OFFSITE_RCLONE_CONFIG is not set in $BACKUP_CONF"
    return 1
  fi
  if [[ ! -r "$OFFSITE_RCLONE_CONFIG" ]]; then
    OFFSITE_ERROR="the credentials file $OFFSITE_RCLONE_CONFIG is missing or unreadable for $(id -un)"
    return 1
  fi
  local w
  _offsite_work
  w="$OFFSITE_W"
  if ! _rclone lsf --max-depth 1 "$(_offsite_remote)" >/dev/null 2>"$w/preflight.err"; then
    OFFSITE_ERROR="$(_offsite_why "$w/preflight.err")"
    return 1
  fi
  OFFSITE_READY=ok
}

# _offsite_stamp_epoch NAME: the time in a backup's name (host time), epoch seconds; 0 without one.
_offsite_stamp_epoch() {
  local s hms
  s="$(backup_stamp "$1")"
  [[ -n "$s" ]] || { echo 0; return 0; }
  hms="${s#*_}"
  date -d "${s%_*} ${hms//-/:}" +%s 2>/dev/null || echo 0
}

# offsite_kind KIND: where backups of KIND are, locally and off-site, and how long they are kept:
# sets OK_DIR, OK_GLOB (local names, also with .age), OK_SUB (off-site folder), OK_CUTOFF (epoch:
# older by name is past retention) and OK_KEEP (never fewer).
offsite_kind() {
  local now
  now="$(date +%s)"
  OK_KEEP="$RETENTION_KEEP_MIN"
  case "$1" in
    database)
      OK_DIR="$BACKUP_DIR/database"; OK_GLOB="${APP_NAME}_*.dump"; OK_SUB=database
      OK_CUTOFF=$((now - RETENTION_DAILY_DAYS * 86400))
      ;;
    weekly)
      OK_DIR="$BACKUP_DIR/database/weekly"; OK_GLOB="${APP_NAME}_weekly_*.dump"; OK_SUB=database/weekly
      OK_CUTOFF=$((now - RETENTION_WEEKLY_WEEKS * 7 * 86400))
      ;;
    monthly)
      OK_DIR="$BACKUP_DIR/database/monthly"; OK_GLOB="${APP_NAME}_*.dump"; OK_SUB=database/monthly
      OK_CUTOFF="$(monthly_cutoff)"
      OK_KEEP="$RETENTION_MONTHLY_KEEP_MIN"
      ;;
    config)
      OK_DIR="$BACKUP_DIR/config"; OK_GLOB="config_*.tar.gz"; OK_SUB=config
      OK_CUTOFF=$((now - RETENTION_CONFIG_DAYS * 86400))
      ;;
    media)
      OK_DIR="$BACKUP_DIR/media"; OK_GLOB="$MEDIA_SNAPSHOT_GLOB"; OK_SUB=media
      OK_CUTOFF=$((now - RETENTION_MEDIA_DAYS * 86400))
      ;;
    docker-volumes)
      # Every volume's tarballs in one folder (each named by its volume); off-site keep_min counts
      # them together, local retention counts each volume on its own.
      OK_DIR="$BACKUP_DIR/docker-volumes"; OK_GLOB="$(docker_volume_glob '*')"; OK_SUB=docker-volumes
      OK_CUTOFF=$((now - RETENTION_DOCKER_VOLUMES_DAYS * 86400))
      ;;
    *) die "offsite_kind: unknown kind $1" ;;
  esac
}

# _offsite_local_files DIR GLOB: the local backups (GLOB or GLOB.age, no partials or sidecars) as
# "epoch<TAB>path" lines, newest first (by the time in the name).
_offsite_local_files() {
  local p
  find "$1" -mindepth 1 -maxdepth 1 -type f \( -name "$2" -o -name "$2.age" \) ! -name '.*' -print0 2>/dev/null |
    while IFS= read -r -d '' p; do
      printf '%s\t%s\n' "$(_offsite_stamp_epoch "$(basename -- "$p")")" "$p"
    done | LC_ALL=C sort -rn
}

# --- The state file check-backups reads (no bucket access every 6 hours) --------------------

# offsite_state_file KIND: $BACKUP_DIR/.offsite/KIND.state, "key=value" lines: newest (the newest
# backup of KIND verified off-site), newest_epoch (its time), verified_at, last_attempt,
# last_error (empty after a good run), uploaded, uploaded_bytes (of the last run).
offsite_state_file() {
  printf '%s/.offsite/%s.state' "$BACKUP_DIR" "$1"
}

# offsite_state_get KIND KEY: one value of the state file (empty when unknown).
offsite_state_get() {
  local f
  f="$(offsite_state_file "$1")"
  [[ -f "$f" ]] || return 0
  sed -n "s/^$2=//p" -- "$f" | tail -n 1
}

# _offsite_state_set KIND KEY=VALUE...: update the state file atomically (values on one line).
_offsite_state_set() {
  local kind="$1" f k kv
  shift
  f="$(offsite_state_file "$kind")"
  mkdir -p -- "$(dirname -- "$f")"
  local -A st=()
  local -a order=(newest newest_epoch verified_at last_attempt last_error uploaded uploaded_bytes)
  if [[ -f "$f" ]]; then
    while IFS='=' read -r k kv; do [[ -n "$k" ]] && st[$k]="$kv"; done <"$f"
  fi
  for kv in "$@"; do
    kv="${kv//$'\n'/ }"
    st[${kv%%=*}]="${kv#*=}"
  done
  for k in "${order[@]}"; do printf '%s=%s\n' "$k" "${st[$k]:-}"; done | write_atomic "$f" 0600
}

# offsite_fail KIND MESSAGE: an off-site copy that did not happen: logged, a WARNING alert, kept
# in the state file. The local backup is untouched.
# One alert per run and reason: a daily run that cannot reach the endpoint says so once, not once
# for the daily and once for the monthly dumps.
OFFSITE_ALERTED=""
offsite_fail() {
  local kind="$1" msg="$2"
  log ERROR "off-site ($kind): $msg"
  if [[ "$OFFSITE_ALERTED" != "$msg" ]]; then
    alert WARNING "off-site copy failed ($kind)" "The $kind backups of ${HOSTNAME:-this host} could not be copied to $(offsite_where): $msg. The local backups are intact and verified; the next run uploads whatever is missing."
    OFFSITE_ALERTED="$msg"
  fi
  _offsite_state_set "$kind" "last_attempt=$(date +%s)" "last_error=$msg"
}

# offsite_ok KIND NEWEST UPLOADED BYTES: a good run: the newest backup of KIND now verified
# off-site, and what this run uploaded.
offsite_ok() {
  local kind="$1" newest="$2"
  _offsite_state_set "$kind" "newest=$newest" "newest_epoch=$(_offsite_stamp_epoch "$newest")" \
    "verified_at=$(date +%s)" "last_attempt=$(date +%s)" "last_error=" "uploaded=$3" "uploaded_bytes=$4"
}

# --- Dumps and archives ---------------------------------------------------------------------

# _offsite_listing SUB FILE: "size<TAB>name" of the files directly in SUB (one request per 1000).
_offsite_listing() {
  local w
  _offsite_work
  w="$OFFSITE_W"
  _rclone lsf --files-only --format sp --separator $'\t' "$(_offsite_remote "$1")" >"$2" 2>"$w/list.err" || {
    OFFSITE_ERROR="cannot list $1/ in $(offsite_where): $(_offsite_why "$w/list.err")"
    return 1
  }
}

# _offsite_complete LISTING: the backups of a listing that have their .sha256 (and .manifest.json
# when they were uploaded with one: always, from this system), newest first by the name's time, as
# "epoch<TAB>name" lines.
_offsite_complete() {
  local size name
  local -A have=()
  while IFS=$'\t' read -r size name; do [[ -n "$name" ]] && have[$name]="$size"; done <"$1"
  for name in "${!have[@]}"; do
    [[ "$name" == *.sha256 || "$name" == *.manifest.json || "$name" == *.dirs ]] && continue
    [[ -n "${have[$name.sha256]+x}" && -n "${have[$name.manifest.json]+x}" ]] || continue
    printf '%s\t%s\n' "$(_offsite_stamp_epoch "$name")" "$name"
  done | LC_ALL=C sort -rn
}

# offsite_sync_files KIND: the catch-up upload of a file kind (database, weekly, monthly, config):
# every local backup that is not complete off-site (same size, both sidecars), within retention,
# whose checksum verifies, goes up (the dumps first, then their sidecars, so a visible checksum
# always has its file), then `rclone check --one-way` compares each uploaded file's size and MD5
# with what the server reports (rclone copy already checked each transfer against the ETag). Then
# off-site retention, and the state file. Failures alert and return 0.
offsite_sync_files() {
  local kind="$1" w remote
  offsite_enabled || return 0
  if ! offsite_preflight; then
    offsite_fail "$kind" "$OFFSITE_ERROR"
    return 0
  fi
  offsite_kind "$kind"
  remote="$(_offsite_remote "$OK_SUB")"
  _offsite_work
  w="$OFFSITE_W/$kind"
  mkdir -p -- "$w"
  _offsite_listing "$OK_SUB" "$w/remote" || { offsite_fail "$kind" "$OFFSITE_ERROR"; return 0; }
  local -A have=()
  local size name epoch path i=0 bytes=0
  while IFS=$'\t' read -r size name; do [[ -n "$name" ]] && have[$name]="$size"; done <"$w/remote"
  local -a pending=()
  while IFS=$'\t' read -r epoch path; do
    i=$((i + 1))
    name="$(basename -- "$path")"
    if [[ "${have[$name]:-}" == "$(file_size "$path")" && -n "${have[$name.sha256]+x}" ]] &&
      [[ ! -f "$path.manifest.json" || -n "${have[$name.manifest.json]+x}" ]]; then
      continue
    fi
    # Past retention (and not among the newest OK_KEEP): off-site retention would delete it again.
    ((i > OK_KEEP && epoch < OK_CUTOFF)) && continue
    if ! verify_checksum_recorded "$path"; then
      log WARNING "off-site ($kind): not uploading $name: it does not match its checksum (see check-backups)"
      continue
    fi
    pending+=("$name")
  done < <(_offsite_local_files "$OK_DIR" "$OK_GLOB")

  if ((${#pending[@]})); then
    : >"$w/data"
    : >"$w/side"
    for name in "${pending[@]}"; do
      printf '%s\n' "$name" >>"$w/data"
      printf '%s\n' "$name.sha256" >>"$w/side"
      [[ ! -f "$OK_DIR/$name.manifest.json" ]] || printf '%s\n' "$name.manifest.json" >>"$w/side"
      bytes=$((bytes + $(file_size "$OK_DIR/$name")))
    done
    cat -- "$w/data" "$w/side" >"$w/all"
    log INFO "off-site ($kind): uploading ${#pending[@]} backup(s) ($(human_size "$bytes")) to $(offsite_where): ${pending[*]}"
    if ! _rclone copy --files-from-raw "$w/data" "$OK_DIR" "$remote" 2>"$w/err" ||
      ! _rclone copy --files-from-raw "$w/side" "$OK_DIR" "$remote" 2>"$w/err"; then
      offsite_fail "$kind" "upload to $OK_SUB/ failed: $(_offsite_why "$w/err")"
      return 0
    fi
    if ! _rclone check --one-way --files-from-raw "$w/all" "$OK_DIR" "$remote" 2>"$w/err"; then
      offsite_fail "$kind" "the uploaded copy in $OK_SUB/ does not match the local files (size or MD5): $(_offsite_why "$w/err")"
      return 0
    fi
    while IFS= read -r name; do have[$name]=1; done <"$w/all"
    log INFO "off-site ($kind): verified ${#pending[@]} upload(s) against the server's checksums"
  fi
  for name in "${!have[@]}"; do printf '%s\t%s\n' "${have[$name]}" "$name"; done >"$w/remote"
  local newest
  newest="$(_offsite_complete "$w/remote" | head -n 1 | cut -f2)"
  if [[ -z "$newest" ]]; then
    offsite_fail "$kind" "no complete $kind backup off-site after the upload"
    return 0
  fi
  offsite_ok "$kind" "$newest" "${#pending[@]}" "$bytes"
  _offsite_prune_files "$kind" "$w/remote"
}

# _offsite_prune_files KIND LISTING: off-site retention of a file kind, the local rules: by the
# time in the name, only complete backups count, the newest OK_KEEP are never deleted (so neither
# is the newest verified one); older than the kind's retention goes with its sidecars, and so do
# incomplete leftovers past it.
_offsite_prune_files() {
  local kind="$1" listing="$2" w epoch name kept=0 size
  _offsite_work
  w="$OFFSITE_W/$kind"
  : >"$w/delete"
  local -A complete=()
  while IFS=$'\t' read -r epoch name; do
    complete[$name]=1
    if ((kept < OK_KEEP)); then kept=$((kept + 1)); continue; fi
    ((epoch < OK_CUTOFF)) || continue
    printf '%s\n%s\n%s\n' "$name" "$name.sha256" "$name.manifest.json" >>"$w/delete"
  done < <(_offsite_complete "$listing")
  while IFS=$'\t' read -r size name; do
    local base="${name%.sha256}"
    base="${base%.manifest.json}"
    [[ -n "$name" && -z "${complete[$base]+x}" && -n "$(backup_stamp "$base")" ]] || continue
    if (($(_offsite_stamp_epoch "$base") < OK_CUTOFF)); then printf '%s\n' "$name" >>"$w/delete"; fi
  done <"$listing"
  [[ -s "$w/delete" ]] || return 0
  local n
  n="$(grep -c -v -e '\.sha256$' -e '\.manifest\.json$' -- "$w/delete" || true)"
  if _rclone delete --files-from-raw "$w/delete" "$(_offsite_remote "$OK_SUB")" 2>"$w/err"; then
    log INFO "off-site retention ($kind): deleted $n backup(s) older than the retention, kept the newest $kept (keep_min $OK_KEEP)"
  else
    log WARNING "off-site retention ($kind) failed: $(_offsite_why "$w/err")"
  fi
}

# offsite_newest KIND: the newest complete backup of KIND off-site (its name), or 1.
offsite_newest() {
  local w
  offsite_kind "$1"
  _offsite_work
  w="$OFFSITE_W"
  _offsite_listing "$OK_SUB" "$w/newest.list" || return 1
  NEWEST_NAME="$(_offsite_complete "$w/newest.list" | head -n 1 | cut -f2)"
  [[ -n "$NEWEST_NAME" ]] || { OFFSITE_ERROR="no complete $1 backup in $(offsite_where)"; return 1; }
}

# offsite_fetch_file KIND NAME DIR: download NAME (a dump or archive of KIND; "latest" = the newest
# complete one) with its .sha256 and .manifest.json into DIR and verify it: rclone checks each
# transfer against the server's MD5, then the file must match its .sha256 and the manifest must
# record that checksum. Everything lands in a staging folder in DIR first (same filesystem) and is
# renamed into place once verified, the .sha256 last: a fetch that fails (a full disk, a damaged
# copy) leaves nothing under a backup's name, and no sidecar without its file. Sets FETCHED (the
# path). 1 with OFFSITE_ERROR when anything fails.
offsite_fetch_file() {
  local kind="$1" name="$2" dir="$3" stage
  offsite_preflight || return 1
  offsite_kind "$kind"
  if [[ "$name" == latest ]]; then
    offsite_newest "$kind" || return 1
    name="$NEWEST_NAME"
  fi
  if [[ "$name" == */* || "$name" == .* || -z "$(backup_stamp "$name")" ]]; then
    OFFSITE_ERROR="$name is not a backup name (see fetch-offsite.sh --list)"
    return 1
  fi
  mkdir -p -- "$dir"
  stage="$(mktemp -d -p "$dir" .fetch.XXXXXX)" || { OFFSITE_ERROR="cannot create a folder in $dir"; return 1; }
  on_exit_remove "$stage"
  if ! _offsite_fetch_file_into "$name" "$stage"; then
    rm -rf -- "$stage"
    return 1
  fi
  local f
  for f in "$name" "$name.manifest.json" "$name.sha256"; do
    [[ ! -e "$stage/$f" ]] || mv -f -- "$stage/$f" "$dir/$f"
  done
  rm -rf -- "$stage"
  keep_path "$stage"
  FETCHED="$dir/$name"
  log INFO "fetched $OK_SUB/$name from $(offsite_where): checksum OK"
}

# _offsite_fetch_file_into NAME STAGE: offsite_fetch_file's download and checks, in STAGE (set by
# offsite_kind). 1 with OFFSITE_ERROR.
_offsite_fetch_file_into() {
  local name="$1" stage="$2" w
  _offsite_work
  w="$OFFSITE_W"
  printf '%s\n' "$name" "$name.sha256" "$name.manifest.json" >"$w/fetch.list"
  if ! _rclone copy --files-from-raw "$w/fetch.list" "$(_offsite_remote "$OK_SUB")" "$stage" 2>"$w/fetch.err"; then
    OFFSITE_ERROR="download of $OK_SUB/$name failed: $(_offsite_why "$w/fetch.err")"
    return 1
  fi
  if [[ ! -f "$stage/$name" ]]; then
    OFFSITE_ERROR="$OK_SUB/$name is not in $(offsite_where)"
    return 1
  fi
  case "$(checksum_status "$stage/$name")" in
    OK) ;;
    MISMATCH) OFFSITE_ERROR="$OK_SUB/$name does not match its checksum: the off-site copy is damaged"; return 1 ;;
    *) OFFSITE_ERROR="$OK_SUB/$name has no valid .sha256 off-site: it cannot be verified"; return 1 ;;
  esac
  local recorded actual
  if [[ -f "$stage/$name.manifest.json" ]]; then
    recorded="$(grep -o -m1 '"sha256": *"[0-9a-f]*"' -- "$stage/$name.manifest.json" | grep -o '[0-9a-f]\{64\}' || true)"
    read -r actual _ <"$stage/$name.sha256"
    if [[ -n "$recorded" && "$recorded" != "$actual" ]]; then
      OFFSITE_ERROR="the manifest of $OK_SUB/$name records another checksum than its .sha256"
      return 1
    fi
  fi
}

# shellcheck disable=SC2034 # READBACK_* are read by the scripts
# offsite_readback_file KIND NAME: read the off-site copy of NAME back into a private temporary
# folder: it must verify (offsite_fetch_file), equal the local checksum when the local backup is
# still there, and decrypt when it is encrypted and an identity was given. Removed afterwards.
offsite_readback_file() {
  local kind="$1" name="$2" tmp
  tmp="$(mktemp -d)"
  on_exit_remove "$tmp"
  offsite_fetch_file "$kind" "$name" "$tmp" || { rm -rf -- "$tmp"; return 1; }
  name="$(basename -- "$FETCHED")"
  offsite_kind "$kind"
  if [[ -f "$OK_DIR/$name.sha256" ]] && ! cmp -s -- "$OK_DIR/$name.sha256" "$tmp/$name.sha256"; then
    OFFSITE_ERROR="the off-site $name differs from the local one (checksums differ)"
    rm -rf -- "$tmp"
    return 1
  fi
  READBACK_DECRYPTED=0
  if [[ "$name" == *.age && -n "$CRYPT_IDENTITY" ]]; then
    local err
    err="$(mktemp)"
    on_exit_remove "$err"
    if ! crypt_decrypt "$FETCHED" 2>"$err" >/dev/null; then
      OFFSITE_ERROR="$(_crypt_why "$FETCHED" "$err")"
      rm -rf -- "$tmp"
      return 1
    fi
    READBACK_DECRYPTED=1
  fi
  READBACK_NAME="$name"
  rm -rf -- "$tmp"
}

# offsite_list KIND: the backups of KIND off-site, newest first, one tab-separated line each:
# kind, name, time (ISO, from the name), bytes, encrypted (yes/no/-), complete (yes/no).
offsite_list() {
  local kind="$1" w size name epoch
  offsite_kind "$kind"
  _offsite_work
  w="$OFFSITE_W"
  _offsite_listing "$OK_SUB" "$w/list.$kind" || return 1
  local -A have=() done_=()
  while IFS=$'\t' read -r size name; do [[ -n "$name" ]] && have[$name]="$size"; done <"$w/list.$kind"
  for name in "${!have[@]}"; do
    local base="${name%.sha256}" enc complete bytes
    base="${base%.manifest.json}"
    base="${base%.dirs}"
    [[ -z "${done_[$base]+x}" ]] || continue
    done_[$base]=1
    epoch="$(_offsite_stamp_epoch "$base")"
    if [[ "$kind" == media ]]; then
      is_snapshot_name "$base" || continue
      enc=-; bytes=-
      complete=no; [[ -n "${have[$base.sha256]+x}" && -n "${have[$base.manifest.json]+x}" ]] && complete=yes
    else
      [[ -n "$(backup_stamp "$base")" ]] || continue
      enc=no; [[ "$base" == *.age ]] && enc=yes
      bytes="${have[$base]:--}"
      complete=no; [[ -n "${have[$base]+x}" && -n "${have[$base.sha256]+x}" && -n "${have[$base.manifest.json]+x}" ]] && complete=yes
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$epoch" "$kind" "$base" "$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)" "$bytes" "$enc" "$complete"
  done | LC_ALL=C sort -rn | cut -f2-
}
