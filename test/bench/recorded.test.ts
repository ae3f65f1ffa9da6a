// Recorded runs of the bench, made by the playbook before its code moved to src/bench/ (commit
// 41c5cd9): `npm run bench -- --hosts 2 --reps 1` and `--hosts 11 --reps 2 --scale large`, the JSON
// each wrote and the console text each printed. From the recorded figures, today's targets, console
// report and JSON must come out as they did then, to the character.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { BenchOptions } from "../../src/bench/args.ts";
import { consoleReport, jsonReport, type BenchReport } from "../../src/bench/report.ts";
import { evaluateTargets } from "../../src/bench/targets.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");

function recorded(name: string): { json: any; text: string; report: BenchReport } {
  const json = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));
  const text = readFileSync(join(FIXTURES, `${name}.txt`), "utf8");
  const { loadavg_at_end, ...machine } = json.machine;
  const opts: BenchOptions = {
    hosts: json.options.hosts,
    reps: json.options.reps,
    scale: json.options.scale,
    rows: json.large?.db?.rows ?? 1_000_000,
    forks: typeof json.options.forks === "number" ? json.options.forks : undefined,
    json: "/dev/null",
    ansible: json.options.ansible !== null,
    mediaSide: json.options.media_side_files !== undefined,
    mediaFiles: json.options.media_side_files ?? 100_000,
    argv: json.command.replace(/^npm run bench -- ?/, "").split(" "),
  };
  // The JSON keeps each smoke component's n/median/min/max, not its samples: with 1 or 2
  // repetitions, min and max are the samples.
  const smokeParts = Object.fromEntries(
    Object.entries(json.smoke_components_ms as Record<string, { n: number; min: number; max: number }>).map(
      ([k, s]) => [k, s.n === 1 ? [s.min] : [s.min, s.max]],
    ),
  );
  const report: BenchReport = {
    machine,
    loadavgAtEnd: loadavg_at_end,
    opts,
    ansible: json.options.ansible ?? undefined,
    labUpMs: json.lab.up_ms,
    hostName: "lab1",
    cases: json.cases,
    smokeParts,
    large: json.large,
    ...(json.media_side ? { mediaSide: withoutSummary(json.media_side) } : {}),
    targets: json.targets,
  };
  return { json, text, report };
}

/** The JSON's media_side adds its summary (computed from the samples) to what the run measured. */
function withoutSummary({ summary: _, ...m }: any) {
  return m;
}

describe.each(["run-small", "run-large"])("the recorded %s", (name) => {
  const { json, text, report } = recorded(name);

  it("gives the targets it gave", () => {
    expect(
      evaluateTargets({
        hosts: report.opts.hosts,
        cases: report.cases,
        large: report.large,
        nproc: report.machine.nproc,
        mediaSide: report.mediaSide,
      }),
    ).toEqual(json.targets);
  });

  it("prints the console report it printed", () => {
    expect(`${consoleReport(report)}\n`).toBe(text);
  });

  it("writes the JSON it wrote", () => {
    expect(JSON.parse(JSON.stringify(jsonReport(report)))).toEqual(json);
  });
});
