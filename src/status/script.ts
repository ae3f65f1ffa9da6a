// The status command's remote script: run the installed check-backups.sh --no-alert as the backup
// user and print the status JSON it wrote (`STATUS|field|value` lines, read by parse.ts).
import type { Host } from "../inventory/types.ts";
import { jobScript } from "../render/remote.ts";

export function statusScript(host: Host): string {
  return jobScript("status.sh", host.vars);
}
