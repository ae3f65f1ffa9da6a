// What the bench measured, case by case: every sample kept, wall/CPU statistics kept current.
// Pure bookkeeping shared by the run (which records), the targets and the report (which read).
import { median, stat, type RunResult, type Stat } from "./measure.ts";

/** One repetition of a case: wall_ms always, cpu_ms/host_cpu_ms and case-specific figures when known. */
export type CaseSample = Record<string, number>;

export interface CaseResult {
  label: string;
  samples: CaseSample[];
  wall_ms: Stat;
  cpu_ms: Stat;
  host_cpu_ms: Stat;
  /** not_noop: what a no-op run changed (nothing, normally). */
  extra?: Record<string, unknown>;
}

/** By case key, in the order the cases were first measured (the JSON's order). */
export type Cases = Record<string, CaseResult>;

export function record(cases: Cases, key: string, label: string, s: CaseSample, notNoop: string[] = []): void {
  const c = (cases[key] ??= { label, samples: [], wall_ms: stat([]), cpu_ms: stat([]), host_cpu_ms: stat([]) });
  c.samples.push(s);
  c.wall_ms = stat(c.samples.map((x) => x.wall_ms!));
  c.cpu_ms = stat(c.samples.map((x) => x.cpu_ms ?? NaN));
  c.host_cpu_ms = stat(c.samples.map((x) => x.host_cpu_ms ?? NaN));
  if (notNoop.length)
    c.extra = { ...c.extra, not_noop: [...((c.extra?.not_noop as string[] | undefined) ?? []), ...notNoop] };
}

/** The median of one figure of a case over its samples; NaN when the case was not measured. */
export function med(cases: Cases, key: string, field = "wall_ms"): number {
  return median((cases[key]?.samples ?? []).map((s) => s[field]!).filter((x) => x !== undefined));
}

export const sample = (r: RunResult): CaseSample => ({
  wall_ms: r.wall_ms,
  cpu_ms: r.cpu_ms,
  host_cpu_ms: r.host_cpu_ms,
});

/** The fleet sizes a no-op re-provision is measured on: 1, 10 and N (those ≤ N). */
export const noopSets = (hosts: number): number[] =>
  [...new Set([1, 10, hosts].filter((n) => n <= hosts))].sort((x, y) => x - y);

export const noopKey = (n: number): string => `noop_${n}`;
