// Which restore point a restore uses, pure: --backup NAME, --at TIME (the newest not newer than
// TIME) or the newest. Tested on recorded listings (test/restore/cases/select/).
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

/**
 * The restore point of a component: by name (--backup), the newest not newer than `atEpoch`, or
 * the newest; among the component's kinds (a database restore picks daily, weekly and monthly dumps
 * alike, by time). Only points with their checksum file (not "missing") can be restored.
 */
export function selectPoint(
  points: readonly RestorePoint[],
  component: Component,
  pick: { backup?: string; atEpoch?: number },
): Selection {
  const kinds = COMPONENT_KINDS[component];
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
  const usable = all.filter((p) => p.checksum !== "missing");
  if (pick.backup && pick.backup !== "latest") {
    const p = all.find((x) => x.name === pick.backup);
    if (!p)
      return {
        point: null,
        problem: `no ${component} restore point named ${pick.backup} (there are ${all.length}${all.length ? `; the newest: ${all[0]!.name}` : ""})`,
      };
    if (p.checksum === "missing")
      return { point: null, problem: `${p.name} has no checksum file or manifest: it is incomplete` };
    return { point: p, why: `--backup ${p.name}` };
  }
  if (!usable.length) return { point: null, problem: `no complete ${component} restore point on the host` };
  if (pick.atEpoch !== undefined) {
    const p = usable.find((x) => x.epoch <= pick.atEpoch!);
    const at = new Date(pick.atEpoch * 1000).toISOString();
    if (!p)
      return {
        point: null,
        problem: `no ${component} restore point at or before ${at}: the oldest is ${usable[usable.length - 1]!.name} (${usable[usable.length - 1]!.time})`,
      };
    return { point: p, why: `the newest at or before ${at}` };
  }
  return { point: usable[0]!, why: "the newest" };
}
