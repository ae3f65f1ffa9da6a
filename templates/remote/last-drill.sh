#!/bin/bash
# Summary: after a drill, its result on the host for check-backups' metrics (lib/metrics.sh reads
# $STATE_DIR/last-drill.json: finished_at, verdict, rto_ms_total, rpo_seconds_max). Written by the
# backup user (its state directory), to a temp file and renamed. Prints "LASTDRILL|written|PATH".
#
# Sent over SSH by src/drill/job.ts, never installed, after this run's values (as in common.sh;
# STATE_DIR; LAST_DRILL, the JSON object: no secret in it) and common.sh and lib/newest.sh.
set -Eeuo pipefail
umask 022

f="$STATE_DIR/last-drill.json"
# shellcheck disable=SC2016 # expanded by that shell, from its arguments
as_cron /bin/bash -c 'set -e; mkdir -p -- "$(dirname -- "$2")"; printf "%s\n" "$1" >"$2.tmp.$$"; mv -f -- "$2.tmp.$$" "$2"' \
  last-drill "$LAST_DRILL" "$f"
printf 'LASTDRILL|written|%s\n' "$f"
