// Operation: the cron daemon runs (and starts at boot), or the installed schedule never fires.
import type { Planned } from "./types.ts";

export function planCronService(running: boolean | undefined, opts: { prefix: string }): Planned {
  const base = { id: "service:cron", name: "cron service", tags: ["packages" as const, "cron" as const] };
  if (opts.prefix !== "")
    return {
      ...base,
      changed: false,
      reason: `the cron file is under prefix ${opts.prefix}: the host's cron daemon does not read it`,
      script: "",
    };
  if (running) return { ...base, changed: false, reason: "cron is running", script: "" };
  return {
    ...base,
    changed: true,
    reason: "start cron and enable it at boot",
    script: [
      "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then systemctl enable --now cron >&2",
      "else service cron start >&2; command -v update-rc.d >/dev/null && update-rc.d cron defaults >&2 || true; fi",
      "pgrep -x cron >/dev/null || { echo 'cron did not start' >&2; exit 1; }",
    ].join("\n"),
  };
}
