# shellcheck shell=bash
# Summary: the start of the provisioner's apply script: every planned change of a host in ONE
# remote command (src/operations/apply.ts appends one step per change, each announced as STEP|id,
# and "APPLY|ok" at the end). File payloads travel inside the script on stdin, never on a command
# line; never installed.
set -Eeuo pipefail
umask 077
CEP_TS=$(date +%Y%m%d%H%M%S)
CEP_TMP=""
trap 'if [ -n "$CEP_TMP" ]; then rm -f -- "$CEP_TMP"; fi' EXIT
# One provision applies to a host at a time: the apply script holds an exclusive flock on the
# app's config directory (root's, created here when new) while it runs. A second provision waits
# for the first to finish (up to WAIT seconds), then fails clearly rather than interleave its writes.
cep_lock() {
  local dir=$1 wait=$2
  (umask 022 && mkdir -p -- "$dir")
  exec 8<"$dir"
  if ! flock -w "$wait" 8; then
    printf 'another provision of this host is applying changes (lock on %s held for %s s): nothing applied, run again\n' "$dir" "$wait" >&2
    exit 1
  fi
}
# The sha256 of FILE, or - when it does not exist.
cep_sum() {
  if [ -e "$1" ]; then sha256sum < "$1" | cut -d' ' -f1; else printf -- '-\n'; fi
}
# Write stdin (base64) to a temp file beside the target, validate it there, keep the old file as
# <path>.<timestamp>~ (the newest 3 such copies; keep=0: none), then rename over the target.
# SEEN is the sha256 this run's facts read (- : absent): a file changed since (another provision
# that held the lock first, a hand edit) is not overwritten with a plan made from stale facts,
# unless it already holds the new content.
cep_put() {
  local path=$1 mode=$2 owner=$3 validate=$4 keep=$5 seen=${6:-} dir base out now
  dir=$(dirname -- "$path"); base=$(basename -- "$path")
  CEP_TMP=$(mktemp -- "$dir/.$base.cep-XXXXXX")
  base64 -d > "$CEP_TMP"
  if [ -n "$seen" ] && now=$(cep_sum "$path") && [ "$now" != "$seen" ] && [ "$now" != "$(cep_sum "$CEP_TMP")" ]; then
    printf '%s changed on the host after this run read it (another provision, or an edit): not overwritten, run again\n' "$path" >&2
    return 1
  fi
  chmod "$mode" -- "$CEP_TMP"
  chown "$owner" -- "$CEP_TMP"
  if [ -n "$validate" ] && ! out=$(eval "$validate" 2>&1); then
    printf 'validation of %s failed: %s\n' "$path" "$out" >&2
    return 1
  fi
  if [ "$keep" = 1 ] && [ -f "$path" ]; then cp -p -- "$path" "$path.$CEP_TS~"; fi
  # Timestamps sort by name: drop all but the newest 3 copies (keep=0: all, as older versions of
  # a secret file may have left some).
  find "$dir" -maxdepth 1 -name "$base.??????????????~" -type f -printf '%f\n' | sort -r | tail -n +$((keep ? 4 : 1)) |
    while IFS= read -r old; do rm -f -- "$dir/$old"; done
  mv -f -- "$CEP_TMP" "$path"
  CEP_TMP=""
}
# Log in to PostgreSQL as the backup jobs will: as USER, with the pgpass file PGPASS, never
# prompting (-w). Validates a new pgpass file, or backup.conf's connection values, BEFORE it
# replaces a working one (as bash -n does for scripts): a wrong password or port in a rollout then
# leaves the old file in place and fails the host with psql's reason.
cep_pg_login() {
  local pgpass=$1 host=$2 port=$3 dbuser=$4 db=$5 user=$6 psql cmd
  psql=$(command -v psql || printf '%s\n' /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
  [ -x "$psql" ] || { echo "psql is not installed (postgresql-client)"; return 1; }
  cmd=(env PGPASSFILE="$pgpass" PGCONNECT_TIMEOUT=10 "$psql" -X -w -q -A -t -h "$host" -p "$port" -U "$dbuser" -d "$db" -c 'SELECT 1')
  if [ "$user" != "$(id -un)" ]; then cmd=(/usr/sbin/runuser -u "$user" -- "${cmd[@]}"); fi
  (cd / && "${cmd[@]}") >/dev/null
}
# backup.conf NEW replacing OLD: when its connection values (PGPASSFILE, DB_HOST, DB_PORT, DB_USER,
# DB_NAME) differ from the installed file's, log in with the new ones (with the pgpass file it names,
# which this run has already validated and written when it changed too).
cep_conf_login() {
  local new=$1 old=$2 user=$3 n o
  # shellcheck disable=SC1090 # the rendered backup.conf, in a subshell
  n=$(set +eu; . "$new" >/dev/null 2>&1; printf '%s|%s|%s|%s|%s' "$PGPASSFILE" "$DB_HOST" "$DB_PORT" "$DB_USER" "$DB_NAME")
  o=""
  # shellcheck disable=SC1090
  if [ -f "$old" ]; then o=$(set +eu; . "$old" >/dev/null 2>&1; printf '%s|%s|%s|%s|%s' "$PGPASSFILE" "$DB_HOST" "$DB_PORT" "$DB_USER" "$DB_NAME"); fi
  [ "$n" != "$o" ] || return 0
  local IFS='|'
  # shellcheck disable=SC2086 # split on | into the five values
  set -- $n
  cep_pg_login "$1" "$2" "$3" "$4" "$5" "$user"
}
# apt-get waits for the dpkg lock instead of failing; a stale package list gets one update.
cep_apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
  if ! "${apt[@]}" install --no-install-recommends "$@" >&2; then
    "${apt[@]}" update >&2 && "${apt[@]}" install --no-install-recommends "$@" >&2
  fi
}
