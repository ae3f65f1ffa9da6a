#!/usr/bin/env bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
# shellcheck source-path=SCRIPTDIR
#
# Summary: shared library of the backup system, sourced by every backup/restore/check script.
#
# A script uses it like this (arguments are parsed before lib_init so --help needs no config):
#
#   source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/backup-lib.sh"
#   parse_no_args "$@"            # or the script's own parser, using print_usage/usage_error
#   lib_init backup-database      # config, log file, traps, run id
#   acquire_lock backup-database  # a second run exits 75 at once
#   job_start                     # healthcheck /start ping; from here a failure alerts + /fail
#   ...                           # steps; partial files registered with on_exit_remove
#
# The library's parts live in lib/ beside this file, one file per concern: core.sh (state, usage,
# init, logging, traps, locks, JSON/file/time helpers), newest.sh (picking and dating backups),
# checksums.sh (checksums, manifests, retention), alerts.sh (alerts, healthchecks, failure counts),
# metrics.sh (check-backups' Prometheus textfile), crypt.sh (encryption at rest with age),
# postgres.sh, media.sh, docker.sh (named volumes), monthly.sh (the monthly tier), offsite.sh and
# offsite-media.sh (the off-site copy with rclone) and restore.sh.
# lib/host.sh is the one file written for this host: where backup.conf is.
#
# Exit codes: 0 OK, 1 failure or usage error, 75 another run holds the lock, 78 configuration error.
# Nothing here prints or passes on a command line a secret: the database password is read by libpq
# from PGPASSFILE, webhook and healthcheck URLs go to curl in a config read from stdin.

# Guard against double sourcing.
if [[ -n "${BACKUP_LIB_LOADED:-}" ]]; then return 0; fi
BACKUP_LIB_LOADED=1
# The script's own arguments (source passes them through), to re-run it as the backup user.
LIB_SCRIPT_ARGS=("$@")
LIB_SCRIPT_PATH="$(readlink -f -- "$0")"
LIB_DIR="$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib"

# Where backup.conf is (LIB_DEFAULT_CONF), written by the provisioner for this host; BACKUP_CONF in
# the environment overrides it.
LIB_DEFAULT_CONF=""
if [[ -r "$LIB_DIR/host.sh" ]]; then
  # shellcheck source=/dev/null
  source "$LIB_DIR/host.sh"
fi
BACKUP_CONF="${BACKUP_CONF:-$LIB_DEFAULT_CONF}"

# shellcheck source=lib/core.sh
source "$LIB_DIR/core.sh"
# shellcheck source=lib/newest.sh
source "$LIB_DIR/newest.sh"
# shellcheck source=lib/checksums.sh
source "$LIB_DIR/checksums.sh"
# shellcheck source=lib/alerts.sh
source "$LIB_DIR/alerts.sh"
# shellcheck source=lib/metrics.sh
source "$LIB_DIR/metrics.sh"
# shellcheck source=lib/crypt.sh
source "$LIB_DIR/crypt.sh"
# shellcheck source=lib/postgres.sh
source "$LIB_DIR/postgres.sh"
# shellcheck source=lib/media.sh
source "$LIB_DIR/media.sh"
# shellcheck source=lib/docker.sh
source "$LIB_DIR/docker.sh"
# shellcheck source=lib/monthly.sh
source "$LIB_DIR/monthly.sh"
# shellcheck source=lib/offsite.sh
source "$LIB_DIR/offsite.sh"
# shellcheck source=lib/offsite-media.sh
source "$LIB_DIR/offsite-media.sh"
# shellcheck source=lib/restore.sh
source "$LIB_DIR/restore.sh"
