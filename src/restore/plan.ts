// The restore plan, pure: the plan script's output (the component's restore points, local and in the
// bucket; what a restore would replace) and the operator's choice → which restore point, read from
// where (the host, or the off-site copy: asked for, or because the local copy is missing or
// incomplete; a local copy that fails its checksum when the run starts falls back to the bucket),
// where it goes, what it replaces, where the pre-restore backup goes; and the plan as the operator
// reads it. Tested on recorded outputs (test/restore/cases/).
import type { Component } from "../cli/options.ts";
import type { ResolvedVars } from "../inventory/types.ts";
import { parsePoints, type RestorePoint } from "../backups/parse.ts";
import { formatAge, formatBytes } from "../format.ts";
import { selectPoint } from "./select.ts";

export interface LiveFacts {
  now: number;
  error: string | null;
  complete: boolean;
  points: RestorePoint[];
  /** The bucket's listing (null: the host has no off-site copy, it was not asked). */
  offsite: { listed: boolean; error: string | null } | null;
  database?: { exists: boolean; bytes: number | null; tables: Record<string, number>; error: string | null };
  folder?: { path: string; exists: boolean; files: number | null; bytes: number | null };
}

export function parsePlanFacts(stdout: string, fallbackNow?: number): LiveFacts {
  const f = new Map<string, string>();
  const tables: Record<string, number> = {};
  for (const line of stdout.split("\n")) {
    const t = /^PLAN\|table\|([^|]+)\|(\d+)$/.exec(line);
    if (t) {
      tables[t[1]!] = Number(t[2]);
      continue;
    }
    const m = /^PLAN\|([a-z_]+)\|(.*)$/.exec(line);
    if (m) f.set(m[1]!, m[2]!);
  }
  const n = (k: string) => (/^\d+$/.test(f.get(k) ?? "") ? Number(f.get(k)) : null);
  const listing = parsePoints(stdout, fallbackNow);
  const facts: LiveFacts = {
    now: n("now") ?? listing.now,
    error: f.get("error") ?? null,
    complete: f.get("complete") === "1",
    points: listing.points,
    offsite: listing.offsite,
  };
  if (f.has("db_exists") || f.has("db_error"))
    facts.database = {
      exists: f.get("db_exists") === "1",
      bytes: n("db_bytes"),
      tables,
      error: f.get("db_error") ?? null,
    };
  if (f.has("target"))
    facts.folder = {
      path: f.get("target")!,
      exists: f.get("target_exists") === "1",
      files: n("target_files"),
      bytes: n("target_bytes"),
    };
  return facts;
}

/** The folders a host's backups of each kind are in, and where pre-restore backups go. */
export function backupPaths(backupDir: string) {
  return {
    dir: {
      database: `${backupDir}/database`,
      weekly: `${backupDir}/database/weekly`,
      monthly: `${backupDir}/database/monthly`,
      media: `${backupDir}/media`,
      config: `${backupDir}/config`,
    },
    preRestore: {
      database: `${backupDir}/database/pre-restore`,
      media: `${backupDir}/media/pre-restore`,
      config: `${backupDir}/config/pre-restore`,
    },
  } as const;
}

export interface RestoreTarget {
  /** The database (database) or folder (media, config) the restore replaces. */
  database?: string;
  folder?: string;
  /** The folder as the operator gave it (--target), passed on to the script; empty: its default. */
  given_folder: string;
}

/** What a restore writes into: --target-db / --target, else the live database, media or app folder. */
export function restoreTarget(
  component: Component,
  vars: Pick<ResolvedVars, "database" | "paths"> & { media_volume?: string },
  opts: { targetDb?: string; target?: string },
): RestoreTarget {
  if (component === "database") return { database: opts.targetDb ?? vars.database.name, given_folder: "" };
  const folder = opts.target ?? (component === "media" ? vars.paths.media_dir : vars.paths.app_dir);
  return { folder, given_folder: opts.target ?? "" };
}

/** Where the restore reads its backup from, and why. */
export interface RestoreSource {
  from: "local" | "offsite";
  why: string;
  /** Local: a complete copy in the bucket to fall back on if the local one is missing or fails its checksum. */
  fallback: boolean;
}

export interface RestorePlan {
  host: string;
  environment: string;
  component: Component;
  backup: RestorePoint & { path: string; why: string };
  target: RestoreTarget;
  /** What is there now (the live database's size and rows, or the folder's files). */
  replaces: string;
  live: { bytes: number | null; tables: number | null; rows: number | null; files: number | null } | null;
  pre_restore: string;
  source: RestoreSource;
  /** Why the bucket could not be listed (the plan is then the host's copies only). */
  offsite_error: string | null;
}

/** The plan, or why there is none (a problem: nothing is restored). */
export function buildPlan(
  facts: LiveFacts,
  ctx: { host: string; environment: string; component: Component; backupDir: string; target: RestoreTarget },
  pick: { backup?: string; atEpoch?: number; from?: "local" | "offsite" },
): { plan: RestorePlan } | { problem: string } {
  if (facts.error) return { problem: facts.error };
  if (!facts.complete) return { problem: "the plan script did not finish (see the host's output)" };
  const offsiteError = facts.offsite?.error ?? null;
  if (pick.from === "offsite" && !facts.offsite?.listed)
    return { problem: `--from offsite: the off-site copy cannot be listed: ${offsiteError ?? "it was not listed"}` };
  const s = selectPoint(facts.points, ctx.component, pick);
  if (!s.point) return { problem: s.problem };
  const source = sourceOf(s.point, pick.from);
  const paths = backupPaths(ctx.backupDir);
  const backup = { ...s.point, path: `${paths.dir[s.point.kind]}/${s.point.name}`, why: s.why };
  let replaces: string;
  let live: RestorePlan["live"] = null;
  if (ctx.component === "database") {
    const d = facts.database;
    const name = ctx.target.database!;
    if (!d || d.error) replaces = `the database ${name} (${d?.error ?? "not examined"})`;
    else if (!d.exists) replaces = `nothing: the database ${name} does not exist (it is created)`;
    else {
      const counts = Object.values(d.tables);
      live = { bytes: d.bytes, tables: counts.length, rows: counts.reduce((a, b) => a + b, 0), files: null };
      replaces = `the database ${name}: ${formatBytes(d.bytes)}, ${live.tables} tables, ${live.rows} rows`;
    }
  } else {
    const f = facts.folder;
    const path = ctx.target.folder!;
    if (!f || !f.exists) replaces = `nothing: ${path} does not exist (it is created)`;
    else {
      live = { bytes: f.bytes, tables: null, rows: null, files: f.files };
      replaces =
        ctx.component === "media"
          ? `the folder ${path}: ${f.files} files, ${formatBytes(f.bytes)} (it becomes exactly the snapshot)`
          : `files in ${path} (${f.files} files there now): the archive's files are replaced, others kept`;
    }
  }
  return {
    plan: {
      host: ctx.host,
      environment: ctx.environment,
      component: ctx.component,
      backup,
      target: ctx.target,
      replaces,
      live,
      pre_restore: paths.preRestore[ctx.component],
      source,
      offsite_error: offsiteError,
    },
  };
}

/** Where a chosen point is read from: --from offsite, the bucket when there is no complete local copy, else the host. */
export function sourceOf(p: RestorePoint, from?: "local" | "offsite"): RestoreSource {
  const inBucket = p.offsite?.complete === true;
  if (from === "offsite") return { from: "offsite", why: "--from offsite", fallback: false };
  if (p.where === "offsite") return { from: "offsite", why: "there is no local copy", fallback: false };
  if (p.checksum === "missing" && inBucket)
    return { from: "offsite", why: "the local copy is incomplete (no checksum file or manifest)", fallback: false };
  // --from local is the operator's word: the host's copy, nothing fetched.
  return { from: "local", why: from === "local" ? "--from local" : "the host's copy", fallback: inBucket && !from };
}

function headline(p: RestorePoint): string {
  const m = p.manifest;
  if (!m) return "no manifest";
  if (m.tables !== undefined) return `${m.tables} tables, ${m.rows ?? "?"} rows`;
  return `${m.files ?? "?"} files${m.bytes !== undefined ? `, ${formatBytes(m.bytes)}` : ""}`;
}

function fromLine(p: RestorePlan): string {
  const s = p.source;
  if (s.from === "offsite")
    return `  From:        the off-site copy of ${p.backup.kind}/${p.backup.name} (${s.why}): fetched into a private folder beside the backup tree, verified, restored, then removed`;
  return s.fallback
    ? `  From:        ${p.backup.path} (local; if it is missing or fails its checksum when the restore starts, the off-site copy is fetched, verified and restored instead)`
    : `  From:        ${p.backup.path} (local)`;
}

/** The plan as the operator reads it before typing the host name. */
export function planText(p: RestorePlan): string {
  const b = p.backup;
  return [
    `RESTORE PLAN: ${p.component} on ${p.host} (${p.environment})`,
    `  Backup:      ${b.name} (${b.kind}, ${b.why})`,
    `               taken ${b.time.replace(/\.\d{3}Z$/, "Z")} (${formatAge(b.age_seconds)} ago), ${formatBytes(b.bytes)}, ${headline(b)}${b.encrypted ? ", encrypted" : ""}`,
    p.source.from === "offsite" && !b.sha256
      ? `               sha256 as the bucket's checksum file records it: verified by fetch-offsite.sh, then by the restore script before anything changes`
      : `               sha256 ${b.sha256 ?? "(per-file list)"}: verified by the restore script before anything changes`,
    fromLine(p),
    ...(p.offsite_error ? [`  Off-site:    the bucket could not be listed: ${p.offsite_error}`] : []),
    `  Replaces:    ${p.replaces}`,
    `  Pre-restore: a backup of what is replaced goes to ${p.pre_restore}/ first`,
  ].join("\n");
}
