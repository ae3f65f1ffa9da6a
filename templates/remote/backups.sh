#!/bin/bash
# Summary: the provisioner's `backups` command on one host: lists its restore points (points.sh),
# verifying the newest of each kind (VERIFY=newest) or every one (VERIFY=all), and with OFFSITE=1
# the off-site copies (fetch-offsite.sh --list). Prints "POINT|...", "OFFSITE|..." and
# "BACKUPS|field|value" lines, read by src/backups/parse.ts.
#
# Sent over SSH by src/backups/job.ts, never installed, after this run's values (the host's paths,
# as in common.sh; KINDS, the kinds to list; VERIFY; OFFSITE), common.sh, lib/newest.sh and points.sh.
set -Euo pipefail
umask 077

t0="$(now_ms)"
printf 'BACKUPS|now|%s\n' "$(date +%s)"
printf 'BACKUPS|backup_dir|%s\n' "$BACKUP_DIR"
if [ ! -d "$BACKUP_DIR" ]; then
  printf 'BACKUPS|error|%s\n' "the backup directory $BACKUP_DIR does not exist (run provision first)"
  exit 0
fi
# shellcheck disable=SC2086 # KINDS is a list of words
list_points "$VERIFY" $KINDS
# shellcheck disable=SC2086 # KINDS is a list of words
if [ "$OFFSITE" = 1 ]; then list_offsite $KINDS; fi
printf 'BACKUPS|took_ms|%s\n' "$(($(now_ms) - t0))"
