// The apply script: every planned change of a host in ONE remote command. Each step announces
// itself (STEP|id) so a failure names the operation that broke; file payloads travel inside the
// script on stdin (never argv), so this works under sudo where SFTP could not write root's dirs.
import type { Planned } from "./types.ts";
import { shellQuote } from "../render/quote.ts";

export const APPLY_PREAMBLE = String.raw`set -Eeuo pipefail
umask 077
CEP_TS=$(date +%Y%m%d%H%M%S)
CEP_TMP=""
trap 'if [ -n "$CEP_TMP" ]; then rm -f -- "$CEP_TMP"; fi' EXIT
# Write stdin (base64) to a temp file beside the target, validate it there, keep the old file as
# <path>.<timestamp>~, then rename over the target.
cep_put() {
  local path=$1 mode=$2 owner=$3 validate=$4 existed=$5 dir base out
  dir=$(dirname -- "$path"); base=$(basename -- "$path")
  CEP_TMP=$(mktemp -- "$dir/.$base.cep-XXXXXX")
  base64 -d > "$CEP_TMP"
  chmod "$mode" -- "$CEP_TMP"
  chown "$owner" -- "$CEP_TMP"
  if [ -n "$validate" ] && ! out=$(eval "$validate" 2>&1); then
    printf 'validation of %s failed: %s\n' "$path" "$out" >&2
    return 1
  fi
  if [ "$existed" = 1 ] && [ -f "$path" ]; then cp -p -- "$path" "$path.$CEP_TS~"; fi
  mv -f -- "$CEP_TMP" "$path"
  CEP_TMP=""
}
# apt-get waits for the dpkg lock instead of failing; a stale package list gets one update.
cep_apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
  if ! "\${apt[@]}" install --no-install-recommends "$@" >&2; then
    "\${apt[@]}" update >&2 && "\${apt[@]}" install --no-install-recommends "$@" >&2
  fi
}
`.replaceAll("\\${", "${");

export function applyScript(changes: Planned[]): string {
  const body = changes.filter((c) => c.changed && c.script).map((c) => `printf 'STEP|%s\\n' ${shellQuote(c.id)}\n${c.script}`);
  return `${APPLY_PREAMBLE}\n${body.join("\n")}\necho 'APPLY|ok'\n`;
}

/** The id of the step that was running when the apply script stopped (undefined if it finished). */
export function failedStep(stdout: string): string | undefined {
  const lines = stdout.split("\n");
  if (lines.includes("APPLY|ok")) return undefined;
  const steps = lines.filter((l) => l.startsWith("STEP|"));
  return steps.length ? steps[steps.length - 1]!.slice(5) : "";
}
