# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's Docker named volumes: where a volume's data is (docker volume
# inspect, through DOCKER_HOST from backup.conf), the refusal of a database's data directory, and
# the containers using a volume. Sourced by backup-lib.sh; uses lib/core.sh. Volume data lives
# under the engine's data root, readable by root only: the jobs that use it run as root (the
# inventory refuses docker volumes for a dedicated backup user).

# The timestamp in backup names, as a glob: a volume's tarballs are <volume>_<stamp>.tar.gz, and
# the stamp keeps volume "app" from matching "app_certs"'s.
DOCKER_STAMP_GLOB='[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9]-[0-9][0-9]-[0-9][0-9]'

# docker_volume_glob VOLUME: the glob of VOLUME's tarballs.
docker_volume_glob() {
  printf '%s_%s.tar.gz' "$1" "$DOCKER_STAMP_GLOB"
}

# docker_volume_path VOLUME: set VOLUME_PATH to the volume's mountpoint (its data directory on
# this host). Dies with a clear message (not in a subshell: the message is the job's error) when
# docker is missing, the engine does not answer, or there is no such volume.
VOLUME_PATH=""
docker_volume_path() {
  local name="$1" out rc=0
  require_cmd docker
  # Its JSON as docker prints it (no Go template: the library holds no double braces).
  out="$(docker volume inspect -- "$name" 2>&1)" || rc=$?
  if ((rc != 0)); then
    if [[ "$out" == *"no such volume"* ]]; then
      die "docker volume $name does not exist (docker volume ls${DOCKER_HOST:+ on $DOCKER_HOST} does not list it): check media_volume / docker_volumes"
    fi
    die "cannot inspect docker volume $name${DOCKER_HOST:+ on $DOCKER_HOST}: ${out//$'\n'/ }"
  fi
  out="$(sed -n 's/^[[:space:]]*"Mountpoint": "\(.*\)",\{0,1\}$/\1/p' <<<"$out" | head -n 1)"
  [[ "$out" == /* && -d "$out" ]] || die "docker volume $name: its mountpoint '$out' is not a directory on this host (a volume driver that keeps data elsewhere cannot be backed up from here)"
  # shellcheck disable=SC2034 # read by the scripts
  VOLUME_PATH="$out"
}

# docker_volume_create VOLUME: create the volume (a restore onto a new host); sets VOLUME_PATH.
docker_volume_create() {
  require_cmd docker
  docker volume create -- "$1" >/dev/null || die "cannot create docker volume $1"
  docker_volume_path "$1"
}

# database_data_dir DIR: when DIR (or a directory right below it) is a database's data directory,
# print what gives it away ("PostgreSQL (PG_VERSION)", ...); else print nothing. How: the files each
# server keeps at the top of its data directory: PG_VERSION (PostgreSQL), ibdata1 or
# aria_log_control (MySQL, MariaDB), WiredTiger (MongoDB). One level down too, because images put
# PGDATA in a subdirectory of the volume (/var/lib/postgresql/data/pgdata).
database_data_dir() {
  local dir="$1" f
  f="$(find "$dir" -mindepth 1 -maxdepth 2 -type f \( -name PG_VERSION -o -name ibdata1 -o -name aria_log_control -o -name WiredTiger \) -print -quit 2>/dev/null)"
  [[ -n "$f" ]] || return 0
  case "$(basename -- "$f")" in
    PG_VERSION) printf 'a PostgreSQL data directory (%s)' "${f#"$dir"/}" ;;
    WiredTiger) printf 'a MongoDB data directory (%s)' "${f#"$dir"/}" ;;
    *) printf 'a MySQL/MariaDB data directory (%s)' "${f#"$dir"/}" ;;
  esac
}

# refuse_database_volume VOLUME DIR: die when the volume holds a database's data directory: the
# dump already covers the app's database, and a tarball (or rsync) of a live data directory is
# not a backup (it is torn mid-write and restores as a corrupt cluster).
refuse_database_volume() {
  local what
  what="$(database_data_dir "$2")"
  [[ -z "$what" ]] ||
    die "docker volume $1 holds $what: refusing to back it up. The database dump (backup-database.sh) already covers the app's database, and a tarball of a live data directory is not a backup; remove $1 from docker_volumes / media_volume (other databases: dump them with their own tool)"
}

# docker_volume_users VOLUME: names of the containers that use the volume (running or not), one line.
docker_volume_users() {
  # The table's last column is NAMES (names have no spaces).
  docker ps -a --filter "volume=$1" 2>/dev/null | awk 'NR > 1 { print $NF }' | paste -sd ' ' -
}
