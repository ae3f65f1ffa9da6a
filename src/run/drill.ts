// The restore drill (`npm run drill -- <inventory>`), the spec's "test restores quarterly": on every
// selected host, in one remote command, restore the newest database dump (daily or weekly), media
// snapshot and config archive with the installed restore scripts into a scratch database and a
// temporary folder, verify them against the backups' manifests, measure RTO (how long each restore
// took) and RPO (how old each backup was), and clean up whatever happens. Writes a Markdown and a
// JSON report under reports/drills/. Refuses an inventory whose environment is production before
// anything else happens.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join, relative } from "node:path";
import YAML from "yaml";
import type { CommonOptions } from "../cli/options.ts";
import type { Connection } from "../connection/types.ts";
import type { Host } from "../inventory/types.ts";
import { InputError } from "../errors.ts";
import { loadInventory, resolveInventoryPath } from "../inventory/load.ts";
import { parseExtraVars } from "../inventory/vars.ts";
import { selectHosts } from "../inventory/limit.ts";
import { jobScript } from "../render/remote.ts";
import { maskSecrets } from "../operations/mask.ts";
import { runHosts } from "./runner.ts";
import {
  addTask,
  maskedJson,
  newHostReport,
  runReport,
  writeJsonReport,
  type HostReport,
  type RunReport,
} from "./report.ts";
import { hostConnector, onHost, longJobTimeoutMs } from "./connect.ts";
import { plainUi, type Ui } from "./ui.ts";
import { formatAge, formatBytes, formatMs, textTable } from "../format.ts";

export const DRILL_COMPONENTS = ["database", "media", "config"] as const;
export type DrillComponentName = (typeof DRILL_COMPONENTS)[number];
/** The remote drill may run long (a real database restore): at least this, whatever command_timeout_s says. */

export interface DrillComponent {
  status: "passed" | "failed";
  /** The backup restored (path on the host). */
  backup: string | null;
  /** database: daily or weekly. */
  kind?: "daily" | "weekly";
  /** When the backup was taken (its manifest's started_at/created_at, else its name). */
  backup_time: string | null;
  /** RPO: age of the backup at drill time, in seconds. */
  rpo_seconds: number | null;
  /** RTO: how long the installed restore script took (verify checksum, restore, its own checks). */
  rto_ms: number | null;
  /** The drill's own verification after the restore (diff -r, file-by-file compare). */
  verify_ms: number | null;
  size_bytes: number | null;
  /** What the manifest recorded and what the restore produced (tables/rows, files/bytes). */
  manifest: Record<string, number>;
  restored: Record<string, number>;
  /** What was verified, or why it failed. */
  details: string;
}

export interface DrillHost {
  verdict: "PASSED" | "FAILED";
  drilled_at: string | null;
  components: Partial<Record<DrillComponentName, DrillComponent>>;
  /** Sum of the components' RTOs: restoring this host's data one component after the other. */
  rto_ms_total: number | null;
  /** The oldest backup restored: the data this host would lose. */
  rpo_seconds_max: number | null;
  scratch_db: string;
  workdir: string | null;
  cleanup: { status: "passed" | "failed"; scratch_db: string; workdir: string };
  stale_removed: number;
  error?: string;
}

export interface DrillHostReport extends HostReport {
  drill?: DrillHost;
}

export interface DrillRunReport extends Omit<RunReport, "hosts"> {
  hosts: DrillHostReport[];
  drill: {
    inventory_name: string;
    verdict: "PASSED" | "FAILED" | "INCOMPLETE";
    hosts_passed: number;
    worst_rpo: { host: string; component: string; seconds: number } | null;
    worst_rto: { host: string; ms: number } | null;
    report_files: { markdown: string; json: string } | null;
  };
}

// ---- the remote script -------------------------------------------------------------------------

/** Scratch names: <db, cut to 40>_drill_<8 hex>; leftovers of killed drills match scratchRe. */
export function scratchNames(
  dbName: string,
  suffix = randomBytes(4).toString("hex"),
): { scratch_db: string; scratch_re: string } {
  const base = dbName.slice(0, 40);
  return { scratch_db: `${base}_drill_${suffix}`, scratch_re: `^${base}_drill_[0-9a-f]{8}$` };
}

export function drillScript(host: Host, suffix?: string): string {
  const { scratch_db, scratch_re } = scratchNames(host.vars.database.name, suffix);
  return jobScript("drill.sh", host.vars, { SCRATCH_DB: scratch_db, SCRATCH_RE: scratch_re });
}

type Fields = Map<string, string[]>;

/** `DRILL|component|field|value` lines → component → field → values (in order). */
export function parseDrillLines(stdout: string): Map<string, Fields> {
  const out = new Map<string, Fields>();
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("DRILL|")) continue;
    const [, comp, field, ...rest] = line.split("|");
    if (!comp || !field) continue;
    const f = out.get(comp) ?? new Map<string, string[]>();
    out.set(comp, f);
    f.set(field, [...(f.get(field) ?? []), rest.join("|")]);
  }
  return out;
}

const one = (f: Fields | undefined, k: string): string | undefined => f?.get(k)?.[0];
const num = (f: Fields | undefined, k: string): number | null => {
  const v = one(f, k);
  return v !== undefined && v !== "" && Number.isFinite(Number(v)) ? Number(v) : null;
};

function manifestOf(f: Fields | undefined): any {
  const b = one(f, "manifest_b64");
  if (!b) return undefined;
  try {
    return JSON.parse(Buffer.from(b, "base64").toString("utf8"));
  } catch {
    return null;
  }
}

/** One component's result: what the script measured, checked against the backup's manifest. */
export function componentResult(name: DrillComponentName, f: Fields | undefined, now: number): DrillComponent {
  const epoch = num(f, "backup_epoch");
  const c: DrillComponent = {
    status: "failed",
    backup: one(f, "backup") ?? null,
    backup_time: epoch !== null ? new Date(epoch * 1000).toISOString() : null,
    rpo_seconds: epoch !== null ? Math.max(0, now - epoch) : null,
    rto_ms: num(f, "rto_ms"),
    verify_ms: num(f, "verify_ms"),
    size_bytes: num(f, "size_bytes"),
    manifest: {},
    restored: {},
    details: "",
  };
  if (name === "database") {
    const k = one(f, "kind");
    if (k === "daily" || k === "weekly") c.kind = k;
  }
  const fail = (why: string): DrillComponent => ((c.details = why), c);
  const err = one(f, "error");
  if (!f) return fail("no result: the drill script stopped before this component");
  if (err) return fail(err);
  const m = manifestOf(f);
  if (m === undefined) return fail(`no manifest next to ${c.backup}: nothing to verify the restore against`);
  if (m === null) return fail(`the manifest of ${c.backup} is not valid JSON`);
  if (one(f, "restored") !== "ok") return fail("no result: the drill script stopped during this component");

  if (name === "database") {
    c.manifest = { tables: Number(m.table_count), rows: Number(m.total_rows) };
    if (typeof m.size_bytes === "number") c.manifest.size_bytes = m.size_bytes;
    const v = one(f, "verified") ?? "";
    const vm = /^(\d+) tables and (\d+) rows match the manifest/.exec(v);
    if (!vm)
      return fail(`restore-database.sh did not verify the restore against the manifest: "${v || "no Verified line"}"`);
    c.restored = { tables: Number(vm[1]), rows: Number(vm[2]) };
    if (c.restored.tables !== c.manifest.tables || c.restored.rows !== c.manifest.rows)
      return fail(
        `restored ${c.restored.tables} tables / ${c.restored.rows} rows, manifest says ${c.manifest.tables} / ${c.manifest.rows}`,
      );
    if (c.size_bytes !== null && c.manifest.size_bytes !== undefined && c.size_bytes !== c.manifest.size_bytes)
      return fail(`dump is ${c.size_bytes} bytes, manifest says ${c.manifest.size_bytes}`);
    c.status = "passed";
    c.details = `checksum verified; ${c.restored.tables} tables and ${c.restored.rows} rows match the manifest (restore-database.sh)${one(f, "dropped") !== undefined ? "; scratch database dropped" : ""}`;
    return c;
  }
  if (name === "media") {
    c.manifest = { files: Number(m.files), bytes: Number(m.bytes) };
    c.size_bytes = c.manifest.bytes ?? null;
    c.restored = { files: num(f, "restored_files") ?? -1, bytes: num(f, "restored_bytes") ?? -1 };
    if (c.restored.files !== c.manifest.files || c.restored.bytes !== c.manifest.bytes)
      return fail(
        `restored ${c.restored.files} files / ${c.restored.bytes} bytes, manifest says ${c.manifest.files} / ${c.manifest.bytes}`,
      );
    const diff = one(f, "diff");
    if (diff !== "identical")
      return fail(`restored files differ from the snapshot (diff -r): ${diff ?? "no diff result"}`);
    c.status = "passed";
    c.details = `${c.restored.files} files, ${c.restored.bytes} bytes match the manifest; diff -r identical to the snapshot`;
    return c;
  }
  // config: the restored files, one by one, are the manifest's file list.
  const listed: string[] = Array.isArray(m.files) ? m.files.map(String).filter((x: string) => !x.endsWith("/")) : [];
  const restored = f.get("restored_file") ?? [];
  c.manifest = { files: listed.length };
  c.restored = { files: restored.length };
  const missing = listed.filter((x) => !restored.includes(x));
  const extra = restored.filter((x) => !listed.includes(x));
  if (missing.length || extra.length)
    return fail(
      `restored files differ from the manifest's list:${missing.length ? ` missing ${missing.join(", ")}` : ""}${extra.length ? ` not in the manifest ${extra.join(", ")}` : ""}`,
    );
  if (listed.length === 0) return fail("the manifest lists no files");
  c.status = "passed";
  c.details = `${restored.length} files restored, each identical to the archive and listed in the manifest`;
  return c;
}

export async function drillHost(
  conn: Connection,
  host: Host,
  report: DrillHostReport,
  secrets: readonly string[],
): Promise<void> {
  const mask = (s: string) => maskSecrets(s, [...secrets]);
  const r = await conn.exec(drillScript(host), { timeoutMs: longJobTimeoutMs(host) });
  const lines = parseDrillLines(mask(r.stdout));
  const d = lines.get("drill");
  const now = num(d, "now") ?? Math.floor(Date.now() / 1000);
  const cl = lines.get("cleanup");
  const drill: DrillHost = {
    verdict: "FAILED",
    drilled_at: new Date(now * 1000).toISOString(),
    components: {},
    rto_ms_total: null,
    rpo_seconds_max: null,
    scratch_db: one(d, "scratch_db") ?? "",
    workdir: one(d, "workdir") ?? null,
    cleanup: {
      status: one(cl, "status") === "passed" ? "passed" : "failed",
      scratch_db: one(cl, "scratch_db") ?? "not confirmed",
      workdir: one(cl, "workdir") ?? (one(d, "workdir") ? "not confirmed" : "none"),
    },
    stale_removed: num(d, "stale_removed") ?? 0,
  };
  report.drill = drill;
  const tail = r.stderr.trim().split("\n").slice(-3).join(" ");
  const error = one(d, "error") ?? (d ? undefined : `the drill script did not run (exit ${r.code}): ${mask(tail)}`);
  if (error) {
    drill.error = error;
    if (!cl) drill.cleanup = { status: "passed", scratch_db: "never created", workdir: "none" };
    addTask(report, { name: "drill", status: "failed", message: error });
    return;
  }
  for (const name of DRILL_COMPONENTS) {
    const c = componentResult(name, lines.get(name), now);
    if (c.status === "failed" && r.code !== 0 && c.details.startsWith("no result"))
      c.details += ` (exit ${r.code}: ${mask(tail)})`;
    drill.components[name] = c;
    addTask(report, {
      name: `drill ${name}`,
      status: c.status === "passed" ? "ok" : "failed",
      message: `${c.status}: ${c.details}`,
    });
  }
  if (!cl) drill.cleanup.status = "failed";
  addTask(report, {
    name: "drill cleanup",
    status: drill.cleanup.status === "passed" ? "ok" : "failed",
    message: `scratch database ${drill.cleanup.scratch_db}; temporary folder ${drill.cleanup.workdir}`,
  });
  const comps = Object.values(drill.components);
  drill.rto_ms_total = comps.every((c) => c.rto_ms !== null) ? comps.reduce((s, c) => s + (c.rto_ms ?? 0), 0) : null;
  const rpos = comps.map((c) => c.rpo_seconds).filter((x): x is number => x !== null);
  drill.rpo_seconds_max = rpos.length ? Math.max(...rpos) : null;
  drill.verdict = report.failed === 0 ? "PASSED" : "FAILED";
}

// ---- safety: never on production ---------------------------------------------------------------

/**
 * Refuse a production inventory before anything else (before secrets are resolved, before any
 * connection): reads the file's `environment` first, then, once loaded, every host's.
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

/** The name reports are filed under: `staging` for `staging`, `inventory` for .lab/inventory.yml. */
export function inventoryName(inventory: string): string {
  const bare = /^[\p{L}\p{N}_][\p{L}\p{N}._-]*$/u.test(inventory) && !/\.ya?ml$/i.test(inventory);
  const name = bare ? inventory : basename(inventory).replace(/\.ya?ml$/i, "");
  return name.replace(/[^\p{L}\p{N}._-]/gu, "_") || "inventory";
}

// ---- reports -----------------------------------------------------------------------------------

function restoredText(name: string, c: DrillComponent): string {
  if (name === "database" && c.restored.tables !== undefined)
    return `${c.restored.tables} tables, ${c.restored.rows} rows (manifest ${c.manifest.tables} / ${c.manifest.rows})`;
  if (name === "media" && c.restored.files !== undefined)
    return `${c.restored.files} files, ${formatBytes(c.restored.bytes ?? null)} (manifest ${c.manifest.files} / ${formatBytes(c.manifest.bytes ?? null)})`;
  if (name === "config" && c.restored.files !== undefined)
    return `${c.restored.files} files (manifest ${c.manifest.files})`;
  return "-";
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function drillMarkdown(report: DrillRunReport): string {
  const d = report.drill;
  const L: string[] = [];
  L.push(`# Restore drill: ${d.inventory_name} (${report.environment})`, "");
  L.push("| | |", "|---|---|");
  L.push(`| Verdict | **${d.verdict}**: ${d.hosts_passed} of ${report.hosts.length} hosts passed |`);
  L.push(`| Started | ${report.started_at} (UTC) |`);
  L.push(`| Duration | ${formatMs(report.duration_ms)} |`);
  L.push(`| Inventory | ${cell(report.inventory)} |`);
  L.push(
    `| Worst RPO | ${d.worst_rpo ? `${formatAge(d.worst_rpo.seconds)} (${d.worst_rpo.host} ${d.worst_rpo.component})` : "-"} |`,
  );
  L.push(`| Worst RTO | ${d.worst_rto ? `${formatMs(d.worst_rto.ms)} (${d.worst_rto.host}, all components)` : "-"} |`);
  L.push("");
  L.push(
    "RPO is the age of the restored backup at drill time (from the backup's own timestamp): the data a restore now would lose. " +
      "RTO is how long the installed restore script took (checksum check, restore, its own verification); a host's RTO is the sum of its components. " +
      "Every restore went into a scratch database or a temporary folder, never over live data.",
  );
  L.push("", "## Results", "");
  L.push("| Host | Component | Result | Backup | Taken (UTC) | RPO | RTO | Size | Restored | Verified |");
  L.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const h of report.hosts) {
    const dr = h.drill;
    if (!dr || dr.error) {
      const what = h.status === "unreachable" ? "UNREACHABLE" : "FAILED";
      L.push(`| ${h.name} | - | ${what} | - | - | - | - | - | - | ${cell(dr?.error ?? h.error ?? "")} |`);
      continue;
    }
    for (const name of DRILL_COMPONENTS) {
      const c = dr.components[name];
      if (!c) continue;
      const backup = c.backup ? `${basename(c.backup)}${c.kind ? ` (${c.kind})` : ""}` : "-";
      L.push(
        `| ${h.name} | ${name} | ${c.status === "passed" ? "passed" : "**FAILED**"} | ${cell(backup)} | ${c.backup_time ?? "-"} | ${formatAge(c.rpo_seconds)} | ${formatMs(c.rto_ms)} | ${formatBytes(c.size_bytes)} | ${cell(restoredText(name, c))} | ${cell(c.details)} |`,
      );
    }
    L.push(
      `| ${h.name} | cleanup | ${dr.cleanup.status === "passed" ? "passed" : "**FAILED**"} | - | - | - | - | - | - | ${cell(`scratch database ${dr.cleanup.scratch_db}; temporary folder ${dr.cleanup.workdir}`)} |`,
    );
    L.push(
      `| ${h.name} | **host** | ${dr.verdict === "PASSED" ? "**PASSED**" : "**FAILED**"} | - | - | ${formatAge(dr.rpo_seconds_max)} | ${formatMs(dr.rto_ms_total)} | - | - | - |`,
    );
  }
  const failures = report.hosts.flatMap((h) =>
    h.status === "unreachable" || h.drill?.error || (!h.drill && h.error)
      ? [`- ${h.name}: ${h.status === "unreachable" ? "unreachable: " : ""}${h.drill?.error ?? h.error ?? ""}`]
      : h.tasks
          .filter((t) => t.status === "failed")
          .map((t) => `- ${h.name} ${t.name.replace(/^drill /, "")}: ${t.message}`),
  );
  if (failures.length) L.push("", "## Failures", "", ...failures);
  L.push("", "## Hosts", "");
  for (const h of report.hosts) {
    L.push(
      `- ${h.name}: ${h.status}, ${h.commands} remote command(s), ${formatMs(h.duration_ms)}${h.drill?.workdir ? `, temporary folder ${h.drill.workdir}` : ""}${h.drill?.scratch_db ? `, scratch database ${h.drill.scratch_db}` : ""}${h.drill?.stale_removed ? `, ${h.drill.stale_removed} leftover(s) of an earlier drill removed` : ""}`,
    );
  }
  return L.join("\n") + "\n";
}

function utcStamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** Write reports/drills/<name>-<UTC stamp>.{md,json} under cwd (a numbered name if taken). */
export function writeDrillReports(
  cwd: string,
  report: DrillRunReport,
  secrets: readonly string[],
): { markdown: string; json: string } {
  const dir = join(cwd, "reports", "drills");
  mkdirSync(dir, { recursive: true });
  let base = `${report.drill.inventory_name}-${utcStamp(Date.parse(report.started_at))}`;
  for (let i = 2; existsSync(join(dir, `${base}.md`)) || existsSync(join(dir, `${base}.json`)); i++)
    base = `${base.replace(/-\d+$/, "")}-${i}`;
  const files = { markdown: join(dir, `${base}.md`), json: join(dir, `${base}.json`) };
  report.drill.report_files = files;
  writeFileSync(files.markdown, maskSecrets(drillMarkdown(report), [...secrets]));
  writeFileSync(files.json, maskedJson(report, secrets));
  return files;
}

/** The console summary: one line per host and component. */
export function drillSummary(report: DrillRunReport, cwd: string): string {
  const rows: string[][] = [["HOST", "COMPONENT", "RESULT", "RPO", "RTO", "SIZE", "RESTORED"]];
  for (const h of report.hosts) {
    if (!h.drill || h.drill.error) {
      rows.push([
        h.name,
        "-",
        h.status === "unreachable" ? "UNREACHABLE" : "FAILED",
        "-",
        "-",
        "-",
        (h.drill?.error ?? h.error ?? "").split("\n")[0]!,
      ]);
      continue;
    }
    for (const name of DRILL_COMPONENTS) {
      const c = h.drill.components[name];
      if (c)
        rows.push([
          h.name,
          name,
          c.status === "passed" ? "passed" : "FAILED",
          formatAge(c.rpo_seconds),
          formatMs(c.rto_ms),
          formatBytes(c.size_bytes),
          c.status === "passed" ? restoredText(name, c) : c.details,
        ]);
    }
    rows.push([
      h.name,
      "cleanup",
      h.drill.cleanup.status === "passed" ? "passed" : "FAILED",
      "",
      "",
      "",
      `scratch database ${h.drill.cleanup.scratch_db}; temporary folder ${h.drill.cleanup.workdir}`,
    ]);
  }
  const lines = textTable(rows).split("\n");
  const d = report.drill;
  lines.push(
    "",
    `DRILL ${d.verdict}: ${d.hosts_passed} of ${report.hosts.length} hosts passed in ${formatMs(report.duration_ms)}`,
  );
  if (d.report_files) lines.push(`Report: ${relative(cwd, d.report_files.markdown)} (and .json)`);
  return lines.join("\n");
}

// ---- the job -----------------------------------------------------------------------------------

export interface DrillDeps {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  ui?: Ui;
  /** Asked when --force is not given; undefined (no terminal) refuses. */
  confirm?: (question: string) => Promise<boolean>;
}

const UNSUPPORTED: [keyof CommonOptions, string][] = [
  ["check", "--check"],
  ["diff", "--diff"],
  ["tags", "--tags"],
  ["skipTags", "--skip-tags"],
  ["skipSmoke", "--skip-smoke"],
];

export async function drill(opts: CommonOptions, deps: DrillDeps): Promise<DrillRunReport> {
  const started = Date.now();
  const out = deps.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const ui = deps.ui ?? plainUi(out);
  const bad = UNSUPPORTED.filter(([k]) => (Array.isArray(opts[k]) ? true : opts[k] === true)).map(([, f]) => f);
  if (bad.length)
    throw new InputError([
      `arguments: ${bad.join(", ")}: not supported by drill (it changes no managed file; it restores into scratch space and reports)`,
    ]);
  refuseProduction(opts.inventory, deps.cwd);
  const inv = await loadInventory(opts.inventory, {
    cwd: deps.cwd,
    extraVars: parseExtraVars(opts.extraVars, deps.cwd),
    env: deps.env,
  });
  const rel = relative(deps.cwd, inv.file);
  const shown = rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : inv.file;
  if (inv.environment === "production") throw productionError(shown);
  const hosts = selectHosts(inv, opts.limit);
  const prod = hosts.filter((h) => h.vars.environment === "production").map((h) => h.name);
  if (prod.length)
    throw new InputError([
      `${shown}: hosts ${prod.join(", ")} have environment production: restore drills never run against production`,
    ]);
  if (!opts.force) {
    const q =
      `Restore drill on ${hosts.length} host(s) of ${shown} (${inv.environment}): ${hosts.map((h) => h.name).join(", ")}. ` +
      "The newest backups are restored into a scratch database and temporary folders (live data is not touched), which needs their size in free space and loads the hosts.";
    if (!deps.confirm)
      throw new InputError([`drill: refusing to run without --force: there is no terminal to confirm on. ${q}`]);
    if (!(await deps.confirm(q))) throw new InputError(['drill: cancelled (the answer was not "yes")']);
  }

  const connector = hostConnector(inv, opts);
  const reports = (await runHosts(
    hosts,
    opts,
    (h) =>
      onHost(h, connector, inv.secrets, newHostReport(h.name) as DrillHostReport, (conn, r) =>
        drillHost(conn, h, r, inv.secrets),
      ),
    ui.runBatch,
  )) as DrillHostReport[];

  let worstRpo: DrillRunReport["drill"]["worst_rpo"] = null;
  let worstRto: DrillRunReport["drill"]["worst_rto"] = null;
  for (const h of reports) {
    for (const [component, c] of Object.entries(h.drill?.components ?? {})) {
      if (c.rpo_seconds !== null && (!worstRpo || c.rpo_seconds > worstRpo.seconds))
        worstRpo = { host: h.name, component, seconds: c.rpo_seconds };
    }
    const t = h.drill?.rto_ms_total;
    if (t !== null && t !== undefined && (!worstRto || t > worstRto.ms)) worstRto = { host: h.name, ms: t };
  }
  const base = runReport("drill", inv, started, reports);
  const summary = base.summary;
  const passed = reports.filter((h) => h.status === "ok" && h.drill?.verdict === "PASSED").length;
  const report: DrillRunReport = {
    ...base,
    drill: {
      inventory_name: inventoryName(opts.inventory),
      verdict: summary.failed > 0 || summary.skipped > 0 ? "FAILED" : summary.unreachable > 0 ? "INCOMPLETE" : "PASSED",
      hosts_passed: passed,
      worst_rpo: worstRpo,
      worst_rto: worstRto,
      report_files: null,
    },
  };
  writeDrillReports(deps.cwd, report, inv.secrets);
  out(maskSecrets(drillSummary(report, deps.cwd), [...inv.secrets]));
  if (opts.json) writeJsonReport(opts.json, report, inv.secrets);
  return report;
}
