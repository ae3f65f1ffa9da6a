// The report folder of an inventory's drills (reports/drills/<inventory>/, or --report-dir): where
// the drill writes `<UTC time>.json` and `.md` and regenerates index.html, and what status reads.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { CommonOptions } from "../cli/options.ts";
import type { DrillHistoryEntry } from "./html.ts";
import { drillIndexHtml } from "./html.ts";
import type { DrillRunReport } from "./report.ts";

/** The name reports are filed under: `staging` for `staging`, `inventory` for .lab/inventory.yml. */
export function inventoryName(inventory: string): string {
  const bare = /^[\p{L}\p{N}_][\p{L}\p{N}._-]*$/u.test(inventory) && !/\.ya?ml$/i.test(inventory);
  const name = bare ? inventory : basename(inventory).replace(/\.ya?ml$/i, "");
  return name.replace(/[^\p{L}\p{N}._-]/gu, "_") || "inventory";
}

/** --report-dir (relative to cwd), else reports/drills/<inventory name>/ under cwd. */
export function drillReportDir(opts: Pick<CommonOptions, "inventory" | "reportDir">, cwd: string): string {
  return opts.reportDir ? resolve(cwd, opts.reportDir) : join(cwd, "reports", "drills", inventoryName(opts.inventory));
}

/** Every drill report (`*.json`) of the folder, by name (UTC time); unreadable ones with the reason. */
export function readDrillHistory(dir: string): DrillHistoryEntry[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => {
      try {
        const report = JSON.parse(readFileSync(join(dir, file), "utf8")) as DrillRunReport;
        if (report?.playbook !== "drill" || !Array.isArray(report.hosts) || typeof report.started_at !== "string")
          return { file, error: "not a drill report (no playbook: drill, hosts and started_at)" };
        return { file, report };
      } catch (e) {
        return { file, error: `not valid JSON: ${(e as Error).message}` };
      }
    });
}

/** Regenerate the folder's index.html from every report in it; returns its path. */
export function writeDrillIndex(dir: string, name: string): string {
  const file = join(dir, "index.html");
  writeFileSync(file, drillIndexHtml(name, readDrillHistory(dir)));
  return file;
}

/**
 * The drill reports of the other inventories' folders (reports/drills/<other>/ under cwd) that
 * restored `name`'s backups with --source (staging's drills of production's copy): how
 * `npm run status -- prod` finds them without --report-dir. Files named <folder>/<file>.
 */
export function readSourcedDrills(cwd: string, name: string): DrillHistoryEntry[] {
  const root = join(cwd, "reports", "drills");
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== name)
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((d) =>
      readDrillHistory(join(root, d.name))
        .filter((e) => e.report?.drill?.source?.inventory_name === name)
        .map((e) => ({ ...e, file: `${d.name}/${e.file}` })),
    );
}
