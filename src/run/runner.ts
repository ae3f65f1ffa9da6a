// Runs a per-host job across hosts: --forks hosts at once, --serial rolling batches, and
// --max-fail-percent stopping after a batch; hosts never reached are reported as skipped. One
// failing or unreachable host never stops the others in its batch.
import type { Host } from "../inventory/types.ts";
import { newHostReport, type HostReport } from "./report.ts";
import { pool } from "../pool.ts";

export interface RunOptions {
  forks: number;
  serial?: { count: number } | { percent: number };
  maxFailPercent?: number;
}

export function batches<T>(items: T[], serial: RunOptions["serial"]): T[][] {
  if (!serial || items.length === 0) return [items];
  const size = "count" in serial ? serial.count : Math.max(1, Math.floor((items.length * serial.percent) / 100));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export type BatchRunner = (
  batch: Host[],
  forks: number,
  work: (h: Host) => Promise<HostReport>,
) => Promise<HostReport[]>;

export async function runHosts(
  hosts: Host[],
  opts: RunOptions,
  work: (host: Host) => Promise<HostReport>,
  runBatch: BatchRunner = (b, f, w) => pool(b, f, w),
): Promise<HostReport[]> {
  const reports = new Map<string, HostReport>();
  let stopped = false;
  for (const batch of batches(hosts, opts.serial)) {
    if (stopped) {
      for (const h of batch)
        reports.set(h.name, {
          ...newHostReport(h.name),
          status: "skipped",
          error: "not run: an earlier batch exceeded --max-fail-percent",
        });
      continue;
    }
    const results = await runBatch(batch, opts.forks, async (h) => {
      try {
        return await work(h);
      } catch (e) {
        return { ...newHostReport(h.name), status: "failed" as const, error: (e as Error).message };
      }
    });
    for (const r of results) reports.set(r.name, r);
    if (opts.maxFailPercent !== undefined) {
      const bad = results.filter((r) => r.status === "failed" || r.status === "unreachable").length;
      if ((bad * 100) / batch.length > opts.maxFailPercent) stopped = true;
    }
  }
  return hosts.map((h) => reports.get(h.name)!);
}
