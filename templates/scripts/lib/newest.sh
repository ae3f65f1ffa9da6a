# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: picking backups and dating them: the newest backup by the timestamp in its name, and
# when a backup was taken. Sourced by backup-lib.sh; the provisioner's smoke test, status and
# drill scripts are sent with a copy of this file, so they pick exactly what check-backups picks.
# Needs nothing else of the library.

# backup_stamp NAME: the YYYY-MM-DD_HH-MM-SS a backup's name carries, or nothing.
backup_stamp() {
  if [[ "$1" =~ ([0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}-[0-9]{2}-[0-9]{2}) ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

# newest_backup TYPE GLOB DIR...: the newest backup (by the timestamp in its name, so touching a
# file does not make it newer) among the entries of type TYPE (f or d) of the DIRs matching GLOB
# (or GLOB.age: the same backup encrypted, lib/crypt.sh).
newest_backup() {
  local type="$1" glob="$2" p s
  shift 2
  find "$@" -mindepth 1 -maxdepth 1 -type "$type" \( -name "$glob" -o -name "$glob.age" \) ! -name '.*' ! -name '*.sha256' ! -name '*.manifest.json' -print0 2>/dev/null |
    while IFS= read -r -d '' p; do
      s="$(backup_stamp "$(basename -- "$p")")"
      if [[ -n "$s" ]]; then printf '%s\t%s\n' "$s" "$p"; fi
    done | LC_ALL=C sort -r | sed -n '1s/^[^\t]*\t//p'
}

# backup_name_epoch PATH: when the backup was taken by the time in its name (host time, epoch
# seconds), else its modification time. The one rule by which retention ages backups and
# check-backups dates the newest: a file touched, copied or written while the clock was wrong keeps
# the time it was named with.
backup_name_epoch() {
  local s hms
  s="$(backup_stamp "$(basename -- "$1")")"
  if [[ -n "$s" ]]; then
    hms="${s#*_}"
    if date -d "${s%_*} ${hms//-/:}" +%s 2>/dev/null; then return 0; fi
  fi
  stat -c %Y -- "$1"
}

# backup_epoch PATH: when the data of a backup was read (epoch seconds, for a drill's RPO): its
# manifest's started_at or created_at (UTC), else backup_name_epoch.
backup_epoch() {
  local m="$1.manifest.json" t=""
  if [[ -f "$m" ]]; then
    t="$(grep -o -m1 '"started_at": *"[^"]*"' -- "$m" | sed 's/.*"\([^"]*\)"$/\1/')" || t=""
    if [[ -z "$t" ]]; then t="$(grep -o -m1 '"created_at": *"[^"]*"' -- "$m" | sed 's/.*"\([^"]*\)"$/\1/')" || t=""; fi
  fi
  if [[ -n "$t" ]] && date -d "$t" +%s 2>/dev/null; then return 0; fi
  backup_name_epoch "$1"
}
