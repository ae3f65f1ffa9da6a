// Which restore point a restore uses, pure: --backup NAME, --at TIME (the newest not newer than
// TIME) or the newest, among the local and off-site copies (--from offsite: those in the bucket).
// Tested on recorded listings (test/restore/cases/).
import type { Component } from "../cli/options.ts";
import type { RestorePoint } from "../backups/parse.ts";
import type { BackupKind } from "../cli/options.ts";

/** The kinds of restore point a component restores from. */
export const COMPONENT_KINDS: Record<Component, readonly BackupKind[]> = {
  database: ["database", "weekly", "monthly"],
  media: ["media"],
  config: ["config"],
};

const UNIT_S: Record<string, number> = { m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/**
 * --at TIME as epoch seconds: an ISO 8601 time (a date, or a date and time with a zone: Z or
 * ±hh:mm; without a zone it is refused, since the host's and the control machine's may differ),
 * or an age such as 30m, 6h, 2d, 1w (that long before `nowMs`). A problem text for anything else.
 */
export function parseAt(text: string, nowMs: number): { epoch: number } | { problem: string } {
  const rel = /^(\d+)([mhdw])$/.exec(text);
  if (rel) return { epoch: Math.floor(nowMs / 1000) - Number(rel[1]) * UNIT_S[rel[2]!]! };
  const iso = /^\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.exec(text);
  const t = iso ? Date.parse(/^\d{4}-\d\d-\d\d$/.test(text) ? `${text}T00:00:00Z` : text) : NaN;
  if (iso && /T/.test(text) && !iso[1])
    return { problem: `"${text}" has no time zone: add Z (UTC) or an offset such as +01:00` };
  if (!Number.isFinite(t))
    return {
      problem: `"${text}" is neither an ISO 8601 time (2026-11-30T02:00Z, 2026-11-30) nor an age (30m, 6h, 2d, 1w)`,
    };
  return { epoch: Math.floor(t / 1000) };
}

export type Selection = { point: RestorePoint; why: string } | { point: null; problem: string };

/** A copy of the point can be restored: a complete local one, or a complete one in the bucket. */
export const restorable = (p: RestorePoint): boolean =>
  (p.where !== "offsite" && p.checksum !== "missing") || p.offsite?.complete === true;

/**
 * The restore point of a component: by name (--backup), the newest not newer than `atEpoch`, or
 * the newest; among the component's kinds (a database restore picks daily, weekly and monthly dumps
 * alike, by time). Only points with a complete copy can be restored: local (its checksum file and
 * manifest there) or in the bucket; with `from: "offsite"` only those in the bucket, with
 * `from: "local"` only those on the host.
 */
export function selectPoint(
  points: readonly RestorePoint[],
  component: Component,
  pick: { backup?: string; atEpoch?: number; from?: "local" | "offsite" },
): Selection {
  const kinds = COMPONENT_KINDS[component];
  const offsite = pick.from === "offsite";
  const all = points
    .filter((p) => kinds.includes(p.kind))
    // The same dump can be both a daily and a monthly point (the monthly tier hard-links it): at a
    // tie the daily one, so the plan names the kind a person expects.
    .sort(
      (a, b) =>
        b.epoch - a.epoch ||
        kinds.indexOf(a.kind) - kinds.indexOf(b.kind) ||
        (a.name < b.name ? 1 : a.name > b.name ? -1 : 0),
    );
  // --from local: the host's copies only (no point only in the bucket, no fallback to it).
  const ok =
    pick.from === "offsite"
      ? (p: RestorePoint) => p.offsite?.complete === true
      : pick.from === "local"
        ? (p: RestorePoint) => p.where !== "offsite" && p.checksum !== "missing"
        : restorable;
  const usable = all.filter(ok);
  const where = offsite ? " in the off-site copy" : "";
  if (pick.backup && pick.backup !== "latest") {
    const p = all.find((x) => x.name === pick.backup);
    if (!p)
      return {
        point: null,
        problem: `no ${component} restore point named ${pick.backup} (there are ${all.length}${all.length ? `; the newest: ${all[0]!.name}` : ""})`,
      };
    if (offsite && !p.offsite)
      return { point: null, problem: `${p.name} is not in the off-site copy (it is only on the host)` };
    if (pick.from === "local" && p.where === "offsite")
      return { point: null, problem: `${p.name} is only in the off-site copy (not --from local)` };
    if (!ok(p))
      return {
        point: null,
        problem: offsite
          ? `${p.name} is incomplete in the off-site copy (no checksum file or manifest there)`
          : `${p.name} has no checksum file or manifest: it is incomplete`,
      };
    return { point: p, why: `--backup ${p.name}` };
  }
  if (!usable.length)
    return {
      point: null,
      problem: `no complete ${component} restore point ${offsite ? "in the off-site copy" : "on the host"}`,
    };
  if (pick.atEpoch !== undefined) {
    const p = usable.find((x) => x.epoch <= pick.atEpoch!);
    const at = new Date(pick.atEpoch * 1000).toISOString();
    if (!p)
      return {
        point: null,
        problem: `no ${component} restore point${where} at or before ${at}: the oldest is ${usable[usable.length - 1]!.name} (${usable[usable.length - 1]!.time})`,
      };
    return { point: p, why: `the newest${where} at or before ${at}` };
  }
  return { point: usable[0]!, why: `the newest${where}` };
}
