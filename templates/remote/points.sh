# shellcheck shell=bash
# Summary: the restore points of a host, for the provisioner's `backups` listing and `restore` plan:
# one "POINT|kind|name|epoch|bytes|sha256|checksum|tables|rows|files|bytes" line per restore point
# (newest first within a kind), read by src/backups/parse.ts. Sent with them, never installed;
# needs BACKUP_DIR and APP, and lib/newest.sh (backup_stamp, backup_name_epoch).
#
# checksum: "yes" (verified now against its .sha256; a media snapshot: its manifest's file count
# and bytes, and a sample of POINTS_SAMPLE of its recorded SHA-256), "no" (it does not match),
# "missing" (no checksum file or manifest: incomplete, never restored), "not checked".
#
# With the off-site copy (list_offsite): one "OFFSITE|kind|name|epoch|bytes|complete" line per
# backup in the bucket, from the INSTALLED fetch-offsite.sh --list (its credentials stay in the
# backup user's 0600 rclone config; nothing of them travels here), and "BACKUPS|offsite|listed" or
# "BACKUPS|offsite_error|why". Needs SCRIPTS and as_cron (common.sh) for that.

POINTS_SAMPLE="${POINTS_SAMPLE:-200}"

# kind_dir KIND: where the backups of KIND live, and what they are (f or d) and match.
kind_where() {
  case "$1" in
    database) KIND_DIR="$BACKUP_DIR/database" KIND_TYPE=f KIND_GLOBS=("${APP}_*.dump" "${APP}_*.dump.age") ;;
    weekly) KIND_DIR="$BACKUP_DIR/database/weekly" KIND_TYPE=f KIND_GLOBS=("${APP}_*.dump" "${APP}_*.dump.age") ;;
    monthly) KIND_DIR="$BACKUP_DIR/database/monthly" KIND_TYPE=f KIND_GLOBS=("${APP}_*.dump" "${APP}_*.dump.age") ;;
    media) KIND_DIR="$BACKUP_DIR/media" KIND_TYPE=d KIND_GLOBS=('[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9]-[0-9][0-9]-[0-9][0-9]') ;;
    config) KIND_DIR="$BACKUP_DIR/config" KIND_TYPE=f KIND_GLOBS=("config_*.tar.gz" "config_*.tar.gz.age") ;;
    *) return 1 ;;
  esac
}

# manifest_of PATH: the manifest beside a backup (an encrypted one: that of the plain name too).
manifest_of() {
  if [[ -f "$1.manifest.json" ]]; then
    printf '%s' "$1.manifest.json"
  elif [[ "$1" == *.age && -f "${1%.age}.manifest.json" ]]; then
    printf '%s' "${1%.age}.manifest.json"
  fi
}

# mnum MANIFEST KEY: the first number recorded as "KEY": N.
mnum() {
  [[ -n "$1" ]] || return 0
  grep -o -m1 "\"$2\": *[0-9]*" -- "$1" 2>/dev/null | grep -o '[0-9]*$' || true
}

# verify_file PATH: "yes" when its SHA-256 is the one its .sha256 records, "no" when not.
verify_file() {
  local expected="" name="" actual
  read -r expected name <"$1.sha256" || true
  actual="$(sha256sum <"$1" | awk '{ print $1 }')"
  [[ "$actual" == "$expected" && "${name#\*}" == "$(basename -- "$1")" ]] && echo yes || echo no
}

# verify_snapshot DIR MANIFEST: file count and bytes as the manifest says, and a sample of checksums.
verify_snapshot() {
  local counts
  counts="$(find "$1" -mindepth 1 -type f -printf '%s\n' | awk '{ n++; b += $1 } END { printf "%d %.0f", n, b }')"
  if [[ "$counts" != "$(mnum "$2" files) $(mnum "$2" bytes)" ]]; then
    echo no
    return 0
  fi
  if (cd -- "$1" && shuf -n "$POINTS_SAMPLE" -- "$1.sha256" | sha256sum -c --quiet --strict - >/dev/null 2>&1); then echo yes; else echo no; fi
}

# list_points VERIFY KIND...: the POINT lines of the kinds; VERIFY is all, newest or none.
list_points() {
  local verify="$1" kind p name stamp manifest check sha bytes first
  shift
  for kind in "$@"; do
    kind_where "$kind" || continue
    [[ -d "$KIND_DIR" ]] || continue
    local -a names=()
    for g in "${KIND_GLOBS[@]}"; do names+=(-o -name "$g"); done
    first=1
    while IFS=$'\t' read -r stamp p; do
      name="$(basename -- "$p")"
      manifest="$(manifest_of "$p")"
      sha=""
      if [[ "$KIND_TYPE" == f ]]; then
        bytes="$(stat -c %s -- "$p")"
        [[ ! -f "$p.sha256" ]] || read -r sha _ <"$p.sha256" || true
      else
        bytes="$(mnum "$manifest" bytes)"
      fi
      if [[ ! -f "$p.sha256" || ( "$KIND_TYPE" == d && -z "$manifest" ) ]]; then
        check=missing
      elif [[ "$verify" == all || ( "$verify" == newest && "$first" == 1 ) ]]; then
        if [[ "$KIND_TYPE" == f ]]; then check="$(verify_file "$p")"; else check="$(verify_snapshot "$p" "$manifest")"; fi
      else
        check="not checked"
      fi
      first=0
      printf 'POINT|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$kind" "$name" "$(backup_name_epoch "$p")" "$bytes" "$sha" "$check" \
        "$(mnum "$manifest" table_count)" "$(mnum "$manifest" total_rows)" \
        "$(mnum "$manifest" files)$(mnum "$manifest" file_count)" "$(mnum "$manifest" bytes)$(mnum "$manifest" size_bytes)"
    done < <(find "$KIND_DIR" -mindepth 1 -maxdepth 1 -type "$KIND_TYPE" \( -false "${names[@]}" \) ! -name '.*' -print0 2>/dev/null |
      while IFS= read -r -d '' p; do
        stamp="$(backup_stamp "$(basename -- "$p")")"
        [[ -z "$stamp" || "$p" == *"|"* || "$p" == *$'\n'* ]] || printf '%s\t%s\n' "$stamp" "$p"
      done | LC_ALL=C sort -r)
  done
}

# list_offsite KIND...: the off-site copies of the kinds, newest first, from one run of the
# installed fetch-offsite.sh --list as the backup user (as cron runs it: a clean environment, so
# rclone never sees this session's AWS_* variables). A listing that fails says why and lists
# nothing: the local points are still there, and a caller that needs the bucket refuses.
list_offsite() {
  local want=" $* " out err rc=0 kind name bytes complete why
  if [[ ! -x "$SCRIPTS/fetch-offsite.sh" ]]; then
    printf 'BACKUPS|offsite_error|%s\n' "$SCRIPTS/fetch-offsite.sh is not installed (run provision first)"
    return 0
  fi
  out="$(mktemp)"
  err="$(mktemp)"
  as_cron "$SCRIPTS/fetch-offsite.sh" --list >"$out" 2>"$err" </dev/null || rc=$?
  if [[ "$rc" != 0 ]]; then
    # Its last error, without the log prefix ("2026-12-01T02:00:00+0000 [ERROR] [fetch-offsite] ").
    why="$(grep -E '\[(ERROR|CRITICAL)\]' -- "$err" | tail -n 1 || true)"
    [[ -n "$why" ]] || why="$(tail -n 1 -- "$err")"
    why="$(printf '%s' "$why" | sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+[+-][0-9]{4} \[[A-Z]+\] \[[a-z-]+\] //' | tr '|\n' '/ ')"
    printf 'BACKUPS|offsite_error|fetch-offsite.sh --list exit %s: %s\n' "$rc" "${why:-no message}"
    rm -f -- "$out" "$err"
    return 0
  fi
  printf 'BACKUPS|offsite|listed\n'
  # kind, name, time, bytes, encrypted, complete (tab-separated, after a "# ..." header).
  while IFS=$'\t' read -r kind name _ bytes _ complete; do
    [[ "$kind" != \#* && "$want" == *" $kind "* && -n "$(backup_stamp "$name")" && "$name" != *"|"* ]] || continue
    [[ "$bytes" =~ ^[0-9]+$ ]] || bytes=""
    printf 'OFFSITE|%s|%s|%s|%s|%s\n' "$kind" "$name" "$(backup_name_epoch "$name")" "$bytes" "$complete"
  done <"$out"
  rm -f -- "$out" "$err"
}
