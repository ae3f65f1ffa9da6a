# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's checksums (sha256sum format beside each backup), manifests
# (BACKUP.manifest.json) and retention (by age, only among verified backups, never the newest
# keep_min). Sourced by backup-lib.sh; uses lib/core.sh.

# sha256_stdin: print the SHA-256 of stdin in hex. openssl dgst takes several times less CPU than
# coreutils' sha256sum where the CPU has SHA instructions; sha256sum where openssl is missing.
SHA256_TOOL=""
sha256_stdin() {
  local out
  if [[ -z "$SHA256_TOOL" ]]; then
    SHA256_TOOL=sha256sum
    if command -v openssl >/dev/null 2>&1; then SHA256_TOOL=openssl; fi
  fi
  if [[ "$SHA256_TOOL" == openssl ]]; then
    out="$(openssl dgst -sha256 -r)" || return 1
  else
    out="$(sha256sum)" || return 1
  fi
  printf '%s\n' "${out%% *}"
}

# write_checksum FILE [NAME] [SUMFILE]: write "<sha256>  NAME" (sha256sum format, bare name so
# `sha256sum -c` works from the directory) to SUMFILE. NAME defaults to FILE's base name, SUMFILE to
# <dir>/NAME.sha256. Lets a partial file be summed under its final name before the rename.
write_checksum() {
  local file="$1" name="${2:-$(basename -- "$1")}"
  local sumfile="${3:-$(dirname -- "$1")/$name.sha256}" hash
  hash="$(sha256_stdin <"$file")"
  write_checksum_of "$hash" "$name" "$sumfile" || die "could not checksum $file"
}

# write_checksum_of HASH NAME SUMFILE: write_checksum for a hash taken while the file was written
# (the file is not read again). Returns 1 when HASH is not a SHA-256.
write_checksum_of() {
  [[ "$1" =~ ^[0-9a-f]{64}$ ]] || return 1
  printf '%s  %s\n' "$1" "$2" >"$3"
}

# verify_checksum FILE: 0 when FILE.sha256 names FILE's base name and matches its content;
# 1 on mismatch, 2 when the checksum file is missing or malformed, 3 when FILE is missing.
# A match is recorded (mark_verified), so retention can trust it while the file is unchanged.
verify_checksum() {
  local file="$1" sumfile="$1.sha256" expected name actual
  [[ -f "$file" ]] || return 3
  [[ -f "$sumfile" ]] || return 2
  read -r expected name <"$sumfile" || return 2
  name="${name#\*}"
  [[ "$expected" =~ ^[0-9a-f]{64}$ && "$name" == "$(basename -- "$file")" ]] || return 2
  actual="$(sha256_stdin <"$file")"
  if [[ "$actual" != "$expected" ]]; then
    unmark_verified "$file"
    return 1
  fi
  mark_verified "$file"
  return 0
}

# --- Verified marks: a real hash recorded, so retention need not read every kept backup ---
#
# When a backup's content has matched its .sha256 (hashed by the backup itself on the bytes' way to
# the disk, or by a verify_checksum that matched), the .sha256 gets the backup's modification time
# (nanoseconds). verify_checksum_recorded trusts that mark while the backup keeps that mtime and,
# when it has a manifest, the size recorded there; anything else re-hashes the file.
# verify-backup-integrity.sh (weekly) and the restores always re-hash (verify_checksum), so a
# change that restored the mtime is still caught within a week, and never restored from.

# mark_verified FILE: record that FILE, as it is now, matched its .sha256. Only on a .sha256 this
# user owns (root never touches the backup user's files); best effort: a missing mark only means a
# re-hash next time.
mark_verified() {
  [[ -O "$1.sha256" && ! -L "$1.sha256" ]] || return 0
  touch -c -r "$1" -- "$1.sha256" 2>/dev/null || true
}

# unmark_verified FILE: FILE no longer matches: its .sha256 gets the current time (no longer FILE's
# mtime), so the mark is not trusted again.
unmark_verified() {
  [[ -O "$1.sha256" && ! -L "$1.sha256" ]] || return 0
  touch -c -- "$1.sha256" 2>/dev/null || true
}

# verify_checksum_recorded FILE: verify_checksum, without reading FILE when it carries the mark of
# a match at its current mtime (and size, from its manifest) and the .sha256 names it. Same results.
verify_checksum_recorded() {
  local file="$1" expected name times size recorded man
  if [[ -f "$file" && -f "$file.sha256" ]] && read -r expected name <"$file.sha256" 2>/dev/null &&
    [[ "$expected" =~ ^[0-9a-f]{64}$ && "${name#\*}" == "$(basename -- "$file")" ]] &&
    times="$(stat -c '%.9Y %s' -- "$file" "$file.sha256" 2>/dev/null)"; then
    local -a t=()
    mapfile -t t <<<"$times"
    size="${t[0]#* }"
    man="$(manifest_path "$file")"
    recorded=""
    [[ ! -f "$man" ]] || recorded="$(manifest_num "$man" size_bytes)"
    if [[ "${t[0]% *}" == "${t[1]% *}" && ( ! -f "$man" || "$recorded" == "$size" ) ]]; then
      return 0
    fi
  fi
  verify_checksum "$file"
}

# checksum_status FILE: print OK, MISMATCH, MISSING_SUM or MISSING (verify_checksum as a word).
checksum_status() {
  local rc=0
  verify_checksum "$1" || rc=$?
  case "$rc" in
    0) echo OK ;;
    1) echo MISMATCH ;;
    2) echo MISSING_SUM ;;
    *) echo MISSING ;;
  esac
}

# manifest_header: print the fields every manifest starts with (no braces): format, app,
# environment, host, job, run id, created_at.
manifest_header() {
  printf '"format": 1, "app": %s, "environment": %s, "host": %s, "job": %s, "run_id": %s, "created_at": %s' \
    "$(json_str "$APP_NAME")" "$(json_str "${ENVIRONMENT:-}")" "$(json_str "${HOSTNAME:-}")" \
    "$(json_str "$JOB")" "$(json_str "$RUN_ID")" "$(json_str "$(now_iso)")"
}

# manifest_path BACKUP: the manifest that belongs to a backup file or media snapshot directory:
# BACKUP.manifest.json next to it (outside a snapshot, so a restore never copies it into the app).
manifest_path() {
  printf '%s.manifest.json' "${1%/}"
}

# manifest_num MANIFEST KEY: the first numeric value of "KEY": N in a manifest this system wrote.
manifest_num() {
  local v
  v="$(grep -o -m1 "\"$2\": *-\{0,1\}[0-9][0-9]*" -- "$1" 2>/dev/null | head -n1 | grep -o -- '-\{0,1\}[0-9]*$')" || true
  printf '%s' "$v"
}

# --- Retention ---

# is_verified_backup PATH: the default verifier: a file whose .sha256 matches (its verified mark
# trusted while the file is unchanged: verify_checksum_recorded).
is_verified_backup() {
  [[ -f "$1" ]] && verify_checksum_recorded "$1"
}

# retention_prune DIR GLOB DAYS KEEP_MIN [VERIFIER] [SPARE]: delete backups in DIR matching GLOB
# (files or directories, not symlinks, not hidden partials) older than DAYS days, but ONLY backups
# that VERIFIER (a function name, default is_verified_backup) accepts, and never the newest KEEP_MIN
# verified ones, nor SPARE (the backup a restore has just restored from). Unverified backups are
# never deleted (they are named in the log), so a month of failed runs cannot empty the store.
# VERIFIER returns 0 (verified), 3 (verified but empty: counts toward KEEP_MIN only when no backup
# with content is left, see media_retention_verdict) or anything else (unverified). Deleting a
# backup also deletes its .sha256 and .manifest.json; sidecars whose backup is gone and partials
# older than a day are removed too.
#
# Ages come from the time in the backups' names (backup_name_epoch), as the newest is picked: a
# touched or copied file keeps its age. A clock that jumps ahead makes every backup look old at
# once; so does a new backup after an outage longer than the window. Both show as a gap longer than
# the window between the newest two verified backups: the backups before the gap are then held (the
# hold is DIR/.retention-hold, check-backups reports it) until the backups after it cover a whole
# window, or until the operator removes the file once the clock is known to be right.
# RETENTION_CLOCK_GUARD=0 turns that off where backups are irregular by nature (pre-restore copies).
retention_prune() {
  local dir="$1" glob="$2" days="$3" keep_min="$4" verifier="${5:-is_verified_backup}" spare="${6:-}"
  [[ -d "$dir" ]] || return 0
  [[ "$days" =~ ^[0-9]+$ && "$keep_min" =~ ^[0-9]+$ ]] || die "retention_prune: bad days/keep_min: $days/$keep_min"
  local now max_age p e
  now="$(date +%s)"
  max_age=$((days * 86400))
  # Newest first, by the time in their names.
  local -a entries=()
  local -A epoch=() verdict=()
  while IFS= read -r -d '' p; do
    [[ "$p" == *.sha256 || "$p" == *.manifest.json ]] && continue
    epoch["$p"]="$(backup_name_epoch "$p")"
    entries+=("$p")
  done < <(find "$dir" -mindepth 1 -maxdepth 1 -name "$glob" ! -name '.*' \( -type f -o -type d \) -print0)
  if ((${#entries[@]})); then
    mapfile -t entries < <(for p in "${entries[@]}"; do printf '%s\t%s\n' "${epoch[$p]}" "$p"; done | sort -rn -t $'\t' -k1,1 | cut -f2-)
  fi
  local hold_before=0 RC=0
  _retention_clock_guard
  local kept_verified=0 deleted=0 unverified=0 held=0 age rc future=0
  # Old empty backups met among the newest: deleted at the end unless no backup with content is left.
  local -a hollow=()
  local young_hollow=0
  for p in "${entries[@]}"; do
    e="${epoch[$p]}"
    age=$((now - e))
    ((age >= -7200)) || future=$((future + 1))
    if ((kept_verified < keep_min)); then
      _retention_verdict "$p"
      rc="$RC"
      if ((rc == 0)); then
        kept_verified=$((kept_verified + 1))
      elif ((rc == 3)); then
        if ((age > max_age)); then hollow+=("$p"); else young_hollow=$((young_hollow + 1)); fi
      else
        unverified=$((unverified + 1))
        log WARNING "retention: keeping unverified backup $(basename -- "$p") (checksum/manifest does not verify; inspect it)"
      fi
      continue
    fi
    ((age > max_age)) || continue
    if ((e <= hold_before)); then held=$((held + 1)); continue; fi
    _retention_delete "$p" "$age" || true
  done
  # With no backup with content left, the empty ones are all there is: the newest keep_min stay.
  if ((kept_verified == 0)); then
    local keep=$((keep_min - young_hollow))
    ((keep > 0)) || keep=0
    hollow=("${hollow[@]:keep}")
  fi
  for p in "${hollow[@]}"; do
    if ((${epoch[$p]} <= hold_before)); then held=$((held + 1)); continue; fi
    _retention_delete "$p" "$((now - ${epoch[$p]}))" empty || true
  done
  ((future == 0)) ||
    log WARNING "retention: $future backup(s) in $dir are dated in the future: the clock was ahead when they were made, or is behind now (they are kept; check the clock)"
  ((held == 0)) || log WARNING "retention on hold in $dir: $held backup(s) older than $days days kept (see $dir/.retention-hold)"
  # Orphaned sidecars and stale partials (from a run killed with SIGKILL).
  local s base
  while IFS= read -r -d '' s; do
    base="${s%.sha256}"
    base="${base%.manifest.json}"
    if [[ ! -e "$base" ]]; then rm -f -- "$s" && log INFO "retention: removed orphaned $(basename -- "$s")"; fi
  done < <(find "$dir" -mindepth 1 -maxdepth 1 -type f \( -name '*.sha256' -o -name '*.manifest.json' \) ! -name '.*' -print0)
  find "$dir" -mindepth 1 -maxdepth 1 -name '.*.partial*' -mmin +1440 -exec rm -rf -- {} + 2>/dev/null || true
  log INFO "retention: $dir ($glob): kept $kept_verified newest verified (keep_min $keep_min), deleted $deleted older than $days days, $unverified unverified kept"
}

# _retention_verdict PATH: VERIFIER's status for PATH in RC, asked once per run. Uses retention_prune's locals.
_retention_verdict() {
  RC=0
  if [[ -z "${verdict[$1]+x}" ]]; then
    "$verifier" "$1" || RC=$?
    verdict["$1"]="$RC"
  fi
  RC="${verdict[$1]}"
}

# _retention_clock_guard: set hold_before (epoch; backups named at or before it are not deleted by
# age; 0 = no hold) from DIR/.retention-hold ("BEFORE AFTER": the newest backup before a gap longer
# than the window, the first after it), writing it when the newest two verified backups are such a
# gap apart, releasing it once the backups after the gap cover a whole window. Uses
# retention_prune's locals.
_retention_clock_guard() {
  hold_before=0
  [[ "${RETENTION_CLOCK_GUARD:-1}" == 1 ]] || return 0
  local hold="$dir/.retention-hold" b="" a="" newest="" p
  local -a two=()
  for p in "${entries[@]}"; do
    [[ -n "$newest" ]] || newest="${epoch[$p]}"
    _retention_verdict "$p"
    if ((RC == 0 || RC == 3)); then two+=("$p"); fi
    ((${#two[@]} < 2)) || break
  done
  [[ -n "$newest" ]] || return 0
  if [[ -f "$hold" ]]; then
    read -r b a _ <"$hold" || true
    if [[ "$b" =~ ^[0-9]+$ && "$a" =~ ^[0-9]+$ ]]; then
      if ((newest - a >= max_age)); then
        rm -f -- "$hold"
        log INFO "retention: the backups since $(date -d "@$a" '+%Y-%m-%d %H:%M') cover $days days: the hold on older ones is released"
        return 0
      fi
      hold_before="$b"
      return 0
    fi
    log WARNING "retention: $hold is not \"BEFORE AFTER\" epoch seconds: ignored"
  fi
  ((${#two[@]} == 2)) || return 0
  b="${epoch[${two[1]}]}"
  a="${epoch[${two[0]}]}"
  ((a - b > max_age)) || return 0
  printf '%s %s\n' "$b" "$a" >"$hold"
  hold_before="$b"
  log WARNING "retention: $(((a - b) / 86400)) days between $(basename -- "${two[1]}") and $(basename -- "${two[0]}"), more than the $days-day window: the clock may have jumped (or backups stopped that long); nothing before it is deleted by age until the backups after it cover $days days, or $hold is removed"
}

# _retention_delete PATH AGE [WHAT]: retention_prune's deletion of one backup older than the window
# (with its sidecars), unless it is SPARE or does not verify. Uses retention_prune's locals.
_retention_delete() {
  local p="$1" age="$2" what="${3:-}"
  if [[ -n "$spare" && "$p" -ef "$spare" ]]; then
    log INFO "retention: keeping $(basename -- "$p") ($((age / 86400)) days old): it has just been restored from"
    return 0
  fi
  _retention_verdict "$p"
  if ((RC == 0 || RC == 3)); then
    rm -rf -- "$p" "$p.sha256" "$(manifest_path "$p")"
    deleted=$((deleted + 1))
    log INFO "retention: deleted ${what:+$what }$(basename -- "$p") ($((age / 86400)) days old, older than $days days)"
  else
    unverified=$((unverified + 1))
    log WARNING "retention: keeping unverified backup $(basename -- "$p") ($((age / 86400)) days old; it does not verify, so it is never counted or deleted automatically)"
  fi
}

# prune_pre_restore DIR GLOB [VERIFIER] [SPARE]: pre-restore backups have their own retention
# (RETENTION_PRE_RESTORE_DAYS, still keeping the newest RETENTION_KEEP_MIN verified ones).
prune_pre_restore() {
  # Taken at restores only: gaps longer than the window are normal, not a clock that jumped.
  RETENTION_CLOCK_GUARD=0 retention_prune "$1" "$2" "${RETENTION_PRE_RESTORE_DAYS:-30}" "$RETENTION_KEEP_MIN" "${3:-is_verified_backup}" "${4:-}"
}
