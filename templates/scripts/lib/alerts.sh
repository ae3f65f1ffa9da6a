# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's notifications: alerts (email over SMTP, Slack, Discord), one
# healthcheck per job, and the failure count of each job (escalation, the "recovered" message).
# Every URL, body and credential goes to curl in a config on stdin (the mail itself on another
# descriptor), never on its command line. Sourced by backup-lib.sh; uses lib/core.sh.
#
# BACKUP_NOTIFY=off in the environment (the provisioner's smoke test, `check-backups.sh
# --no-alert`) silences all of it: no alert, no ping, failure counts neither read nor written,
# so a rehearsal never reaches the live checks and channels nor disturbs the count of the
# scheduled runs.

# notify_enabled: true unless notifications are off for this run.
notify_enabled() {
  [[ "${BACKUP_NOTIFY:-on}" != off ]]
}

# _curl_cfg_str VALUE: VALUE as a double-quoted curl config string.
_curl_cfg_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\r'/\\r}"
  s="${s//$'\t'/\\t}"
  printf '"%s"' "$s"
}

# http_post TYPE MAX_SECONDS URL BODY: POST BODY (Content-Type TYPE) to URL with timeouts and two
# retries. URL and body travel in a curl config on stdin, so neither appears in the process list.
# Returns curl's status; prints nothing.
http_post() {
  command -v curl >/dev/null 2>&1 || return 127
  {
    printf 'url = %s\n' "$(_curl_cfg_str "$3")"
    printf 'header = %s\n' "$(_curl_cfg_str "Content-Type: $1")"
    printf 'data-raw = %s\n' "$(_curl_cfg_str "$4")"
    printf 'silent\nshow-error\nfail\nconnect-timeout = 5\nmax-time = %s\nretry = 2\nretry-max-time = %s\noutput = "/dev/null"\n' "$2" "$(($2 + 5))"
  } | curl --config - 2>/dev/null
}

# http_post_json URL JSON: POST JSON to URL (webhooks).
http_post_json() {
  http_post application/json 15 "$1" "$2"
}

# http_post_text URL TEXT: POST plain TEXT to URL (healthcheck bodies).
http_post_text() {
  http_post text/plain 10 "$1" "$2"
}

# --- Healthchecks: one per job ---

# hc_url: this job's healthcheck URL. Each job has its own (on healthchecks.io the last ping of a
# check wins: a database /fail followed by the media job's success would show a failed backup as
# up); HEALTHCHECK_URL is the check job's. Restores and other jobs have none.
hc_url() {
  case "$JOB" in
    backup-database) printf '%s' "${HEALTHCHECK_URL_DATABASE:-}" ;;
    backup-database-weekly) printf '%s' "${HEALTHCHECK_URL_WEEKLY:-}" ;;
    backup-media) printf '%s' "${HEALTHCHECK_URL_MEDIA:-}" ;;
    backup-config) printf '%s' "${HEALTHCHECK_URL_CONFIG:-}" ;;
    backup-docker-volumes) printf '%s' "${HEALTHCHECK_URL_DOCKER_VOLUMES:-}" ;;
    check-backups) printf '%s' "${HEALTHCHECK_URL:-}" ;;
    *) ;;
  esac
}

# hc_ping start|success|fail|log [BODY]: ping this job's healthcheck (healthchecks.io style:
# /start, bare URL for success, /fail, /log) with ?rid=RUN_ID. No-op without one; failures are
# logged only.
hc_ping() {
  notify_enabled || return 0
  local base
  base="$(hc_url)"
  [[ -n "$base" ]] || return 0
  local kind="$1" body="${2:-}" suffix=""
  case "$kind" in
    start) suffix="/start" ;;
    success) suffix="" ;;
    fail) suffix="/fail" ;;
    log) suffix="/log" ;;
    *) log WARNING "hc_ping: unknown kind $kind"; return 0 ;;
  esac
  local url="${base%/}$suffix"
  [[ -n "$RUN_ID" ]] && url="$url?rid=$RUN_ID"
  http_post_text "$url" "$body" || log WARNING "healthcheck ping ($kind) failed"
  return 0
}

# --- Email over SMTP (curl; no local mail server) ---

# _mail_header_text TEXT: TEXT as a header value: one line (CR/LF become spaces), at most 200
# characters, RFC 2047-encoded when it is not plain ASCII.
_mail_header_text() {
  local s="${1//[$'\r\n']/ }"
  s="${s:0:200}"
  if LC_ALL=C grep -q '[^ -~]' <<<"$s"; then
    printf '=?UTF-8?B?%s?=' "$(printf '%s' "$s" | base64 -w0)"
  else
    printf '%s' "$s"
  fi
}

# _mail_message SUBJECT BODY LEVEL: the message (headers, blank line, body), CRLF line endings.
_mail_message() {
  {
    printf 'Date: %s\n' "$(LC_ALL=C date -R)"
    printf 'From: %s backups <%s>\n' "$APP_NAME" "$SMTP_FROM"
    printf 'To: <%s>\n' "$ALERT_EMAIL"
    printf 'Subject: %s\n' "$(_mail_header_text "$1")"
    printf 'Message-ID: <%s.%s@%s>\n' "${RUN_ID:-run}" "$(date +%s%N)" "${HOSTNAME:-localhost}"
    printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n'
    printf 'X-Backup-App: %s\nX-Backup-Job: %s\nX-Backup-Level: %s\n\n' "$APP_NAME" "$JOB" "$3"
    printf '%s\n' "$2"
  } | sed 's/\r*$/\r/'
}

# send_mail SUBJECT BODY LEVEL: mail to ALERT_EMAIL through SMTP_URL with curl. The URL, envelope
# and credentials are a curl config on stdin, the message comes from descriptor 3: nothing on a
# command line, no file left behind. smtp:// with a user must upgrade with STARTTLS (ssl-reqd), so
# the password never crosses the network in clear. Returns curl's status; errors are logged.
send_mail() {
  local subject="$1" body="$2" level="$3" err rc=0
  if [[ -z "${SMTP_URL:-}" || -z "${SMTP_FROM:-}" ]]; then
    log WARNING "ALERT_EMAIL is set but SMTP_URL/SMTP_FROM are not: no email sent (provision sets them from alerts.smtp)"
    return 0
  fi
  command -v curl >/dev/null 2>&1 || { log WARNING "curl is not installed: no email sent"; return 0; }
  err="$(
    {
      printf 'url = %s\n' "$(_curl_cfg_str "$SMTP_URL")"
      printf 'mail-from = %s\n' "$(_curl_cfg_str "$SMTP_FROM")"
      printf 'mail-rcpt = %s\n' "$(_curl_cfg_str "$ALERT_EMAIL")"
      if [[ -n "${SMTP_USER:-}" ]]; then
        printf 'user = %s\n' "$(_curl_cfg_str "$SMTP_USER:${SMTP_PASSWORD:-}")"
        [[ "$SMTP_URL" != smtp://* ]] || printf 'ssl-reqd\n'
      fi
      printf 'upload-file = "/dev/fd/3"\n'
      printf 'silent\nshow-error\nconnect-timeout = 10\nmax-time = 60\n'
    } | curl --config - 3< <(_mail_message "$subject" "$body" "$level") 2>&1 >/dev/null
  )" || rc=$?
  ((rc == 0)) || log WARNING "email alert to $ALERT_EMAIL via $SMTP_URL failed (curl exit $rc): ${err//$'\n'/ }"
  return "$rc"
}

# --- Alerts ---

# alert LEVEL SUBJECT [BODY]: send an alert to every configured channel: email (SMTP), Slack
# ({"text", "attachments":[{"color",...}]}), Discord ({"embeds":[{"title","description","color"}]}).
# LEVEL: OK, INFO, WARNING, CRITICAL (ERROR = CRITICAL). The subject line is the spec's:
# "[<app>] BACKUP ALERT: <subject> (<host>, <environment>)", WARNING for warnings, OK for good
# news. A failing channel is logged and never fails the job.
alert() {
  local level="$1" subject="$2" body="${3:-$2}" label hex dec
  case "$level" in
    OK | INFO) level=OK; label="OK"; hex="#2eb67d"; dec=3066993 ;;
    WARNING | WARN) level=WARNING; label="WARNING"; hex="#e8a317"; dec=15105570 ;;
    *) level=CRITICAL; label="ALERT"; hex="#e01e5a"; dec=15158332 ;;
  esac
  local host="${HOSTNAME:-unknown}"
  local title="[${APP_NAME}] BACKUP $label: $subject ($host${ENVIRONMENT:+, $ENVIRONMENT})"
  if ! notify_enabled; then
    log INFO "notifications are off for this run (BACKUP_NOTIFY=off): not sent: $title"
    return 0
  fi
  log "$([[ "$level" == OK ]] && echo INFO || echo "$level")" "alert: $subject"
  if [[ -n "${ALERT_EMAIL:-}" ]]; then
    send_mail "$title" "$(printf '%s\n\nHost: %s\nEnvironment: %s\nJob: %s\nRun: %s\nTime: %s\n' "$body" "$host" "${ENVIRONMENT:-}" "$JOB" "$RUN_ID" "$(now_iso)")" "$level" || true
  fi
  if [[ -n "${SLACK_WEBHOOK:-}" ]]; then
    local slack
    slack="{\"text\": $(json_str "$title"), \"attachments\": [{\"color\": $(json_str "$hex"), \"title\": $(json_str "$subject"), \"text\": $(json_str "$body"), \"fields\": [{\"title\": \"Host\", \"value\": $(json_str "$host"), \"short\": true}, {\"title\": \"Level\", \"value\": $(json_str "$level"), \"short\": true}], \"footer\": $(json_str "$JOB run $RUN_ID"), \"ts\": $(date +%s)}]}"
    http_post_json "$SLACK_WEBHOOK" "$slack" || log WARNING "Slack alert failed"
  fi
  if [[ -n "${DISCORD_WEBHOOK:-}" ]]; then
    local discord
    discord="{\"embeds\": [{\"title\": $(json_str "${title:0:250}"), \"description\": $(json_str "${body:0:4000}"), \"color\": $dec, \"fields\": [{\"name\": \"Host\", \"value\": $(json_str "$host"), \"inline\": true}, {\"name\": \"Level\", \"value\": $(json_str "$level"), \"inline\": true}], \"footer\": {\"text\": $(json_str "$JOB run $RUN_ID")}, \"timestamp\": $(json_str "$(now_iso)")}]}"
    http_post_json "$DISCORD_WEBHOOK" "$discord" || log WARNING "Discord alert failed"
  fi
  return 0
}

# --- Consecutive failures of a job: $STATE_DIR/<job>.failures ---
# A small key=value file, written atomically, read with sed (never sourced):
#   count=3
#   first_failure=2025-10-31T02:00:04.123Z
#   last_failure=2025-11-02T02:00:03.456Z
#   last_error=cannot connect to PostgreSQL at localhost:5432 ...
# Present while the job is failing; removed by its next success (after the one "recovered" message).

# _failures_file: this job's failure file, or nothing when there is no state directory.
_failures_file() {
  [[ -n "${STATE_DIR:-}" ]] || return 0
  printf '%s/%s.failures' "$STATE_DIR" "$JOB"
}

# _failures_field FILE KEY: a field of a failure file (empty when missing).
_failures_field() {
  [[ -f "$1" && ! -L "$1" ]] || return 0
  sed -n "s/^$2=//p" -- "$1" | head -n 1
}

# failure_count: this job's consecutive failures so far (0 when none or no state directory).
failure_count() {
  local f n
  f="$(_failures_file)"
  [[ -n "$f" ]] || { echo 0; return 0; }
  n="$(_failures_field "$f" count)"
  [[ "$n" =~ ^[0-9]+$ ]] || n=0
  echo "$n"
}

# failure_record ERROR: count one more failure of this job; sets FAILURES (the new count) and
# FIRST_FAILURE. A state directory that cannot be written is logged; the alert still goes out.
failure_record() {
  local f first
  FAILURES=$(($(failure_count) + 1))
  f="$(_failures_file)"
  FIRST_FAILURE="$(now_iso)"
  [[ -n "$f" ]] || return 0
  first="$(_failures_field "$f" first_failure)"
  ((FAILURES == 1)) || [[ -z "$first" ]] || FIRST_FAILURE="$first"
  if ! { mkdir -p -- "$STATE_DIR" && printf 'count=%s\nfirst_failure=%s\nlast_failure=%s\nlast_error=%s\n' \
    "$FAILURES" "$FIRST_FAILURE" "$(now_iso)" "${1//$'\n'/ }" | write_atomic "$f" 0644; } 2>/dev/null; then
    log WARNING "could not record the failure count in $f"
  fi
}

# notify_job_failure TOOK RC: a started job failed: count it, alert and ping /fail. With
# ESCALATE_AFTER=N, failures below N in a row are WARNING alerts and from the Nth on CRITICAL
# ("escalated"); without it every failure is CRITICAL. The count is in every alert.
notify_job_failure() {
  local took="$1" rc="$2" level=CRITICAL subject times
  local err="${LIB_LAST_ERROR:-exited with status $rc}"
  if ! notify_enabled; then
    alert CRITICAL "$JOB failed" "$err"
    return 0
  fi
  failure_record "$err"
  times="$FAILURES times in a row"
  ((FAILURES > 1)) || times="once"
  subject="$JOB failed"
  ((FAILURES == 1)) || subject="$JOB failed $FAILURES times in a row"
  if [[ "${ESCALATE_AFTER:-}" =~ ^[1-9][0-9]*$ ]]; then
    if ((FAILURES < ESCALATE_AFTER)); then
      level=WARNING
      subject="$subject (CRITICAL from $ESCALATE_AFTER in a row)"
    else
      subject="$subject (escalated: $ESCALATE_AFTER or more in a row)"
    fi
  fi
  alert "$level" "$subject" "$JOB on ${HOSTNAME:-host} failed after ${took}s: $err (exit $rc). It has failed $times (since $FIRST_FAILURE). Log: ${LOG_FILE:-stderr}"
  hc_ping fail "$JOB failed ($times): $err"
}

# notify_job_success TOOK: a started job succeeded: ping success; after failures, reset the count
# and send one "recovered" message.
notify_job_success() {
  hc_ping success "$JOB finished OK in ${1}s"
  job_recovered
}

# job_recovered: the job completed: if it had been failing, send ONE "recovered" message and remove
# its failure file (so the next success sends nothing).
job_recovered() {
  notify_enabled || return 0
  local f n first last
  f="$(_failures_file)"
  [[ -n "$f" && -e "$f" ]] || return 0
  n="$(failure_count)"
  first="$(_failures_field "$f" first_failure)"
  last="$(_failures_field "$f" last_error)"
  if ! rm -f -- "$f" 2>/dev/null; then
    log WARNING "could not reset the failure count in $f"
    return 0
  fi
  ((n > 0)) || return 0
  log INFO "recovered after $n consecutive failures"
  alert OK "$JOB recovered" "$JOB on ${HOSTNAME:-host} succeeded again after $n consecutive failure(s) (the first at ${first:-?}; the last error: ${last:-?})."
}
