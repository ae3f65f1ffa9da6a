// The backups command's remote script: the host's restore points (templates/remote/points.sh), as
// `POINT|...` lines read by parse.ts, and with `offsite` its off-site copies (`OFFSITE|...` lines,
// from the installed fetch-offsite.sh --list). The restore plan lists its component's points with
// the same helper, so both see exactly the same restore points.
import type { Host } from "../inventory/types.ts";
import type { BackupKind } from "../cli/options.ts";
import { BACKUP_KINDS } from "../cli/options.ts";
import { jobScript } from "../render/remote.ts";

/** How many restore points are verified now: the newest of each kind, every one, or none. */
export type VerifyMode = "newest" | "all" | "none";

export function backupsScript(
  host: Host,
  kinds: readonly BackupKind[] = BACKUP_KINDS,
  verify: VerifyMode = "newest",
  offsite = false,
) {
  return jobScript("backups.sh", host.vars, { KINDS: kinds.join(" "), VERIFY: verify, OFFSITE: offsite ? "1" : "0" }, [
    "remote/points.sh",
  ]);
}
