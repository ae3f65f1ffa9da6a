// The smoke test (tag `smoke`, last step of provision): one remote command that runs the installed
// jobs as cron would, test-restores their output into a scratch database and temporary folders,
// and runs the health check. Its result lines become the report's `smoke` section.
import { createHash, randomBytes } from "node:crypto";
import type { Connection } from "../connection/types.ts";
import type { Host } from "../inventory/types.ts";
import { jobScript } from "../render/remote.ts";
import { addTask, type HostReport, type SmokeComponent } from "./report.ts";
import { maskSecrets } from "../operations/mask.ts";
import { longJobTimeoutMs } from "./connect.ts";

export const SMOKE_COMPONENTS = ["database", "config", "media", "offsite", "check"] as const;

/** The components a host's smoke test reports: the off-site leg only where it is enabled. */
export const smokeComponents = (host: Host): string[] =>
  SMOKE_COMPONENTS.filter((c) => c !== "offsite" || host.vars.offsite.enabled);

/**
 * The age identity, sent only when something on the host is encrypted: it travels inside the
 * script on the SSH channel's stdin, and the script hands it on through pipes only.
 */
const identityFor = (host: Host): string =>
  host.vars.encryption.recipients.length > 0 ? (host.vars.encryption.identity ?? "") : "";

/**
 * Scratch databases are named <db>_smoke_<host tag>_<8 hex>: a pattern no live database matches,
 * and one host's cleanup of leftovers never drops the scratch database of another host sharing
 * the database server.
 */
const scratchBase = (host: Host) =>
  `${host.vars.database.name.slice(0, 36)}_smoke_${createHash("sha256").update(host.name).digest("hex").slice(0, 6)}_`;

export function smokeScript(host: Host, opts: { components?: string[]; scratchSuffix?: string } = {}): string {
  const want = new Set(opts.components ?? SMOKE_COMPONENTS);
  const suffix = opts.scratchSuffix ?? randomBytes(4).toString("hex");
  return jobScript("smoke.sh", host.vars, {
    SCRATCH_DB: `${scratchBase(host)}${suffix}`,
    SCRATCH_RE: `^${scratchBase(host)}[0-9a-f]{8}$`,
    RUN_DB: want.has("database") ? 1 : 0,
    RUN_MEDIA: want.has("media") ? 1 : 0,
    RUN_CONFIG: want.has("config") ? 1 : 0,
    RUN_OFFSITE: host.vars.offsite.enabled && want.has("offsite") ? 1 : 0,
    AGE_IDENTITY: identityFor(host),
  });
}

export function parseSmoke(stdout: string): Record<string, SmokeComponent> {
  const out: Record<string, SmokeComponent> = {};
  for (const line of stdout.split("\n")) {
    const [kind, name, status, ms, ...details] = line.split("|");
    if (kind !== "SMOKE" || !name) continue;
    out[name] = {
      status: status as SmokeComponent["status"],
      duration_ms: Number(ms) || 0,
      details: details.join("|"),
    };
  }
  return out;
}

export async function smokeTest(
  conn: Connection,
  host: Host,
  report: HostReport,
  secrets: string[] = [],
): Promise<void> {
  // A first full backup and restore of real data takes long: not the default command timeout.
  const r = await conn.exec(smokeScript(host), { timeoutMs: longJobTimeoutMs(host) });
  const smoke = parseSmoke(r.stdout);
  for (const c of smokeComponents(host)) {
    smoke[c] ??= {
      status: "failed",
      duration_ms: 0,
      details: `no result (smoke script exit ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" ")})`,
    };
    smoke[c].details = maskSecrets(smoke[c].details, secrets);
  }
  report.smoke = smoke;
  for (const [name, c] of Object.entries(smoke)) {
    addTask(report, {
      name: `smoke ${name}`,
      status: c.status === "failed" ? "failed" : "ok",
      message: `${c.status}${c.details ? `: ${c.details}` : ""}`,
    });
  }
}
