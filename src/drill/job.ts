// The restore drill (`npm run drill -- <inventory>`), the spec's "test restores quarterly": per host,
// one remote command restores the newest database dumps (daily, weekly, monthly), media snapshot and
// config archive with the installed restore scripts into scratch space (or, with --live, the daily
// dump, media and config over the host's live data, then drill.verify_command); verify.ts checks the
// result against the backups' manifests. Never on production: the inventory file is refused before
// its secrets are resolved, then every selected host is checked; a yes at a terminal (with --live,
// the inventory's name typed) or --force is needed. Writes
// reports/drills/<inventory>/<UTC time>.{md,json} (or --report-dir) and
// regenerates the folder's index.html (the drill history).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import YAML from "yaml";
import { InputError } from "../errors.ts";
import { resolveInventoryPath } from "../inventory/load.ts";
import { maskSecrets } from "../operations/mask.ts";
import { addTask, maskedJson } from "../run/report.ts";
import { longJobTimeoutMs } from "../run/connect.ts";
import type { FleetJob } from "../run/job.ts";
import { drillScript, lastDrillScript, type DrillMode, type LastDrill } from "./script.ts";
import { drillReportDir, inventoryName, writeDrillIndex } from "./history.ts";
import { verifyDrill, type DrillHost } from "./verify.ts";
import { credentialsCleanup, loadDrillSource, sourceQuestion, sourceSection, type DrillSource } from "./source.ts";
import {
  drillMarkdown,
  drillSection,
  drillTable,
  drillVerdictLine,
  reportBaseName,
  type DrillHostReport,
  type DrillRunReport,
  type DrillSection,
} from "./report.ts";

/**
 * Refuse a production inventory before anything else (before secrets are resolved, before any
 * connection): reads the file's `environment` first; once loaded, prepare checks every host's.
 */
export function refuseProduction(inventory: string, cwd: string): void {
  const { file, shown } = resolveInventoryPath(inventory, cwd);
  let env: unknown;
  try {
    env = (YAML.parse(readFileSync(file, "utf8")) as { environment?: unknown } | null)?.environment;
  } catch {
    return; // unreadable or invalid: loadInventory reports it properly
  }
  if (env === "production") throw productionError(shown);
}

function productionError(shown: string): InputError {
  return new InputError([
    `${shown}: environment: production: restore drills never run against production. ` +
      "Run them against staging (or the lab), which holds copies of production's backups: npm run drill -- staging",
  ]);
}

/** Write <dir>/<UTC stamp>.{md,json} (a numbered name if taken), then regenerate <dir>/index.html. */
export function writeDrillReports(
  dir: string,
  report: DrillRunReport,
  secrets: readonly string[],
): { markdown: string; json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  let base = reportBaseName(report);
  for (let i = 2; existsSync(join(dir, `${base}.md`)) || existsSync(join(dir, `${base}.json`)); i++)
    base = `${base.replace(/-\d+$/, "")}-${i}`;
  const files = { markdown: join(dir, `${base}.md`), json: join(dir, `${base}.json`) };
  report.drill.report_files = files;
  writeFileSync(files.markdown, maskSecrets(drillMarkdown(report), [...secrets]));
  writeFileSync(files.json, maskedJson(report, secrets));
  return { ...files, html: writeDrillIndex(dir, report.drill.inventory_name) };
}

/** What prepare found: with --source, the source inventory and what each host is sent (else nothing). */
export type DrillState = { source: DrillSource } | undefined;

export const drillJob: FleetJob<DrillHostReport, DrillState, { drill: DrillSection }> = {
  name: "drill",
  supports: ["serial", "maxFailPercent", "force", "from", "reportDir", "live", "scratch", "source"],
  refuses: "it changes no managed file; it restores the newest backups and reports",
  preflight: (opts, deps) => refuseProduction(opts.inventory, deps.cwd),
  async prepare({ opts, inv, hosts, deps }) {
    const rel = relative(deps.cwd, inv.file);
    const shown = rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : inv.file;
    if (inv.environment === "production") throw productionError(shown);
    const prod = hosts.filter((h) => h.vars.environment === "production").map((h) => h.name);
    if (prod.length)
      throw new InputError([
        `${shown}: hosts ${prod.join(", ")} have environment production: restore drills never run against production`,
      ]);
    const noOffsite = opts.from === "offsite" ? hosts.filter((h) => !h.vars.offsite.enabled).map((h) => h.name) : [];
    // --source: the source inventory loaded and checked, never contacted (source.ts).
    const source = await loadDrillSource({
      opts,
      mode: opts.live ? "live" : "scratch",
      inv,
      hosts,
      shown,
      cwd: deps.cwd,
      ...(deps.env ? { env: deps.env } : {}),
    });
    if (noOffsite.length && !source)
      throw new InputError([
        `${shown}: --from offsite: hosts ${noOffsite.join(", ")} have no off-site copy (offsite.enabled is false)`,
      ]);
    const state: DrillState = source ? { source } : undefined;
    if (opts.force) return state;
    if (drillMode(opts) === "live") {
      await confirmLive(inventoryName(opts.inventory), shown, inv.environment, hosts, deps, source);
      return state;
    }
    const q =
      `Restore drill on ${hosts.length} host(s) of ${shown} (${inv.environment}): ${hosts.map((h) => h.name).join(", ")}. ` +
      (source ? `${sourceQuestion(source)} ` : "") +
      "The newest backups are restored into a scratch database and temporary folders (live data is not touched), which needs their size in free space and loads the hosts.";
    if (!deps.ask)
      throw new InputError([`drill: refusing to run without --force: there is no terminal to confirm on. ${q}`]);
    const answer = await deps.ask(`${q}\nType "yes" to run the drill: `);
    if (answer.trim() !== "yes") throw new InputError(['drill: cancelled (the answer was not "yes")']);
    return state;
  },
  async perHost(conn, host, report, run) {
    // With --source the source inventory's secrets are masked too.
    const src = run.state?.source;
    const mask = src ? (t: string) => maskSecrets(run.mask(t), src.secrets) : run.mask;
    const pair = src?.hosts.get(host.name);
    if (pair)
      report.source = { ...pair.report, credentials: "sent; their removal not confirmed (the drill did not finish)" };
    // A real restore of every component: the long-job timeout, not the command timeout.
    const from = pair ? "offsite" : (run.opts.from ?? "local");
    const r = await conn.exec(drillScript(host, undefined, from, drillMode(run.opts), pair?.values), {
      timeoutMs: longJobTimeoutMs(host),
    });
    if (report.source) report.source.credentials = credentialsCleanup(mask(r.stdout));
    const { drill, tasks } = verifyDrill(
      { code: r.code, stdout: mask(r.stdout), stderr: mask(r.stderr) },
      undefined,
      host.vars.drill,
    );
    report.drill = drill;
    for (const t of tasks) addTask(report, t);
    // The result on the host too, for check-backups' metrics (lib/metrics.sh): a second command.
    const last = await conn.exec(
      lastDrillScript(host, {
        ...lastDrill(drill, new Date().toISOString()),
        ...(pair ? { source: { inventory: pair.report.inventory_name, host: pair.report.host } } : {}),
      }),
    );
    if (last.code !== 0)
      addTask(report, {
        name: "drill result on the host",
        status: "failed",
        message: `could not write ${host.vars.paths.state_dir}/last-drill.json: ${mask(last.stderr).trim().slice(0, 300)}`,
      });
  },
  section: (report, { opts, state }) => ({
    drill: {
      ...drillSection(report, inventoryName(opts.inventory), drillMode(opts)),
      ...sourceSection(state?.source),
    },
  }),
  finish(report, { deps, inv, opts, state }) {
    const secrets = [...inv.secrets, ...(state?.source.secrets ?? [])].sort((a, b) => b.length - a.length);
    const files = writeDrillReports(drillReportDir(opts, deps.cwd), report, secrets);
    return {
      text: `${drillTable(report)}\n`,
      verdict: drillVerdictLine(report),
      note: `Report: ${relative(deps.cwd, files.markdown)} (and .json); history: ${relative(deps.cwd, files.html)}`,
    };
  },
};

/** --live or --scratch (the default). */
export function drillMode(opts: { live: boolean }): DrillMode {
  return opts.live ? "live" : "scratch";
}

/**
 * --live overwrites every selected host's live database, media and app config: without --force the
 * operator types the inventory's name at a terminal (as `npm run restore` wants the host's name), a
 * plain "yes" is not enough; without a terminal it refuses.
 */
async function confirmLive(
  name: string,
  shown: string,
  environment: string,
  hosts: readonly { name: string }[],
  deps: { ask?: (q: string) => Promise<string> },
  source?: DrillSource,
): Promise<void> {
  const q =
    `LIVE restore drill on ${hosts.length} host(s) of ${shown} (${environment}): ${hosts.map((h) => h.name).join(", ")}. ` +
    (source ? `${sourceQuestion(source)} ` : "") +
    "Their live database, media and app config are REPLACED by the newest backups (the restore scripts take pre-restore backups first), then drill.verify_command runs; the hosts stay on the restored data.";
  if (!deps.ask)
    throw new InputError([`drill: --live: refusing to run without --force: there is no terminal to confirm on. ${q}`]);
  const answer = await deps.ask(`${q}\nType the inventory's name (${name}) to run the live drill: `);
  if (answer.trim() !== name)
    throw new InputError([`drill: cancelled (the answer was not the inventory's name, ${name})`]);
}

/** What the host keeps of this drill (<state_dir>/last-drill.json): with --live, the pre-restore backups. */
export function lastDrill(drill: DrillHost, finishedAt: string): LastDrill {
  const pre: Record<string, string> = {};
  for (const [name, c] of Object.entries(drill.components)) if (c.live?.pre_restore) pre[name] = c.live.pre_restore;
  return {
    finished_at: finishedAt,
    verdict: drill.verdict,
    mode: drill.mode,
    ...(drill.mode === "live" ? { pre_restore: pre } : {}),
    rto_ms_total: drill.rto_ms_total,
    rpo_seconds_max: drill.rpo_seconds_max,
  };
}
