# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's alerts (email, Slack, Discord) and healthcheck pings; every URL and
# body goes to curl in a config on stdin, never on its command line. Sourced by backup-lib.sh; uses
# lib/core.sh.

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

# hc_ping start|success|fail|log [BODY]: ping HEALTHCHECK_URL (healthchecks.io style: /start,
# bare URL for success, /fail, /log) with ?rid=RUN_ID. No-op when unset; failures are logged only.
hc_ping() {
  [[ -n "${HEALTHCHECK_URL:-}" ]] || return 0
  local kind="$1" body="${2:-}" suffix=""
  case "$kind" in
    start) suffix="/start" ;;
    success) suffix="" ;;
    fail) suffix="/fail" ;;
    log) suffix="/log" ;;
    *) log WARNING "hc_ping: unknown kind $kind"; return 0 ;;
  esac
  local url="${HEALTHCHECK_URL%/}$suffix"
  [[ -n "$RUN_ID" ]] && url="$url?rid=$RUN_ID"
  http_post_text "$url" "$body" || log WARNING "healthcheck ping ($kind) failed"
  return 0
}

# alert LEVEL SUBJECT [BODY]: send an alert to every configured channel: email (mail, when installed
# and ALERT_EMAIL is set), Slack ({"text", "attachments":[{"color",...}]}), Discord
# ({"embeds":[{"title","description","color"}]}). LEVEL: OK, INFO, WARNING, CRITICAL (ERROR = CRITICAL).
# Warnings are labelled as warnings. A failing channel is logged and never fails the job.
alert() {
  local level="$1" subject="$2" body="${3:-$2}" label hex dec
  case "$level" in
    OK | INFO) label="OK"; hex="#2eb67d"; dec=3066993 ;;
    WARNING | WARN) level=WARNING; label="WARNING"; hex="#e8a317"; dec=15105570 ;;
    *) level=CRITICAL; label="ALERT"; hex="#e01e5a"; dec=15158332 ;;
  esac
  local title="[${APP_NAME}${ENVIRONMENT:+ $ENVIRONMENT}] BACKUP $label: $subject"
  local host="${HOSTNAME:-unknown}"
  log "$level" "alert: $subject"
  if [[ -n "${ALERT_EMAIL:-}" ]]; then
    if command -v mail >/dev/null 2>&1; then
      printf '%s\n\nHost: %s\nJob: %s\nRun: %s\nTime: %s\n' "$body" "$host" "$JOB" "$RUN_ID" "$(now_iso)" |
        timeout 30 mail -s "$title" -- "$ALERT_EMAIL" >/dev/null 2>&1 || log WARNING "email alert failed"
    else
      log WARNING "ALERT_EMAIL is set but 'mail' is not installed; no email sent"
    fi
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
