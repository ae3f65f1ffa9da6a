import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { record, type Cases, type CaseSample } from "../../src/bench/results.ts";
import { evaluateTargets, TARGETS } from "../../src/bench/targets.ts";
import { parseRestoreSteps } from "../../src/bench/dbside.ts";

/** A no-op provision sample as provisionSample() makes it. */
const noop = (wall_ms: number, more: Partial<CaseSample> = {}): CaseSample => ({
  wall_ms,
  run_ms: wall_ms - 500,
  commands_max: 1,
  bytes_max: 0,
  changed_tasks: 0,
  ...more,
});

function cases(entries: Record<string, CaseSample[]>): Cases {
  const c: Cases = {};
  for (const [key, samples] of Object.entries(entries)) for (const s of samples) record(c, key, key, s);
  return c;
}

/** Two hosts, every case the small run measures, medians chosen by hand. */
const twoHosts = (over: Record<string, CaseSample[]> = {}) =>
  cases({
    ssh_true: [{ wall_ms: 300 }],
    node_bare: [{ wall_ms: 40 }, { wall_ms: 50 }, { wall_ms: 60 }],
    noop_1: [noop(1000), noop(1200), noop(5000)],
    noop_2: [noop(1800)],
    noop_1_npm: [noop(500), noop(510)],
    ...over,
  });

const START = "no-op re-provision of 1 host through \`npm run provision\` ≤ 1.5× (ssh host true + node -e 0)";

const byTitle = (hosts: number, c: Cases) =>
  Object.fromEntries(evaluateTargets({ hosts, cases: c }).map((t) => [t.target, t]));

describe("evaluateTargets", () => {
  it("a met target: its ratio of the medians, under its limit, and the figures in words", () => {
    const c = twoHosts({ ssh_true: [{ wall_ms: 700 }], noop_1: [noop(900)], noop_1_npm: [noop(1100)] });
    // the npm no-op 1.1 s over (ssh 700 ms + median node -e 0 50 ms)
    expect(byTitle(2, c)[START]).toEqual({
      target: START,
      measured:
        "1.1s vs 700ms + 50ms = 750ms; the same no-op by node bin/cep.mjs provision (no npm): 900ms (1.20×), so npm run costs 200ms",
      ratio: 1100 / 750,
      limit: 1.5,
      pass: true,
    });
  });

  it("a missed target: over its limit", () => {
    const t = byTitle(2, twoHosts({ noop_1_npm: [noop(1500)], start_cep: [{ wall_ms: 400 }] }))[START]!;
    expect(t.ratio).toBeCloseTo(1500 / 350);
    expect(t.pass).toBe(false);
    expect(t.measured).toBe(
      "1.5s vs 300ms + 50ms = 350ms; the same no-op by node bin/cep.mjs provision (no npm): 1.2s (3.43×), so npm run costs 300ms; CLI start (node bin/cep.mjs provision --help): 400ms",
    );
  });

  it("the no-op target fails on a changed task or an upload even with few commands", () => {
    const ok = byTitle(2, twoHosts())["no-op re-provision: ≤ 3 remote commands per host, 0 bytes uploaded"]!;
    expect(ok.pass).toBe(true);
    expect(ok.ratio).toBeCloseTo(1 / 3);
    const changed = byTitle(2, twoHosts({ noop_2: [noop(1800, { changed_tasks: 1 })] }));
    const t = changed["no-op re-provision: ≤ 3 remote commands per host, 0 bytes uploaded"]!;
    expect(t.pass).toBe(false);
    expect(t.measured).toBe("max 1 command(s)/host, max 0 bytes uploaded, 1 tasks changed (all no-op runs, 1/2 hosts)");
    const uploaded = byTitle(2, twoHosts({ noop_1: [noop(1000, { bytes_max: 10 })] }));
    expect(uploaded["no-op re-provision: ≤ 3 remote commands per host, 0 bytes uploaded"]!.pass).toBe(false);
  });

  it("a missing measurement is 'not measured', neither passed nor failed", () => {
    const c = twoHosts();
    delete c.ssh_true;
    const t = byTitle(2, c)[START]!;
    expect(t).toEqual({
      target: START,
      measured: "not measured (no figures for ssh_true)",
      ratio: null,
      limit: null,
      pass: null,
    });
    // the others are still judged
    expect(byTitle(2, c)["2 hosts ≤ 2× one host (wall, no-op, default forks)"]!.pass).toBe(true);
  });

  it("without --scale large the media targets are one 'not measured' line", () => {
    const ts = evaluateTargets({ hosts: 2, cases: twoHosts() });
    const media = ts.filter((t) => t.target.startsWith("media backup"));
    expect(media).toEqual([
      {
        target: "media backup after a 1% change: ~1% of the bytes, a small fraction of the first backup's time",
        measured: "not measured (needs --scale large)",
        ratio: null,
        limit: null,
        pass: null,
      },
    ]);
  });

  it("leaves out what the lab's size cannot measure (10 hosts on a 2-host lab, N hosts on 1)", () => {
    expect(evaluateTargets({ hosts: 2, cases: twoHosts() }).map((t) => t.target)).not.toContain(
      "10 hosts ≤ 1.5× one host (wall; DESIGN.md)",
    );
    const one = evaluateTargets({ hosts: 1, cases: twoHosts() }).map((t) => t.target);
    expect(one.some((t) => t.includes("≤ 2× one host"))).toBe(false);
    expect(one).toEqual([
      "no-op re-provision: ≤ 3 remote commands per host, 0 bytes uploaded",
      START,
      "media backup after a 1% change: ~1% of the bytes, a small fraction of the first backup's time",
      "backup-media.sh ≤ 1.5× bare rsync on a 100k-file tree, nothing changed and after 1% changed",
    ]);
    expect(TARGETS).toHaveLength(14);
  });

  it("judges the database side by side: ratios of the medians against bare pg_dump / pg_restore", () => {
    const large = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "run-large.json"), "utf8")).large;
    const db_side = {
      n: 3,
      jobs: 2,
      script_ms: 3150,
      bare_ms: 3000,
      parallel_ms: 2100,
      bare_dir_ms: 1900,
      restore_ms: 2400,
      bare_restore_ms: 2000,
      restore_parallel_ms: 2300,
      dump_bytes: 50e6,
      parallel_bytes: 52e6,
      samples: {},
    };
    // A run recorded before the side by side has none of these targets.
    const before = evaluateTargets({ hosts: 2, cases: twoHosts(), large });
    expect(before.filter((t) => /bare pg_dump|bare createdb/.test(t.target))).toEqual([]);
    const got = evaluateTargets({ hosts: 2, cases: twoHosts(), large: { ...large, db_side } }).filter((t) =>
      /bare pg_dump|bare createdb/.test(t.target),
    );
    expect(got.map((t) => [t.ratio!.toFixed(3), t.limit, t.pass])).toEqual([
      ["1.050", 1.05, true],
      ["0.700", 0.67, false],
      ["1.200", 1.15, false],
    ]);
    expect(got[1]!.measured).toMatch(/1\.43× as fast; bare pg_dump -Fd -j 2: 1\.9s; archive/);
  });

  it("explains the database misses with the CPUs each variant kept busy and restore-database.sh's own steps", () => {
    const log = [
      "2026-12-01T17:00:00+0000 [INFO] [restore-database] pg_restore finished in 7s",
      "2026-12-01T17:00:01+0000 [INFO] [restore-database] steps (s): start 0.212, checksum 0.401, decrypt 0.000, pg_restore 7.102, analyze_count 1.250; total 9.1",
    ].join("\n");
    expect(parseRestoreSteps(log)).toEqual({
      start: 212,
      checksum: 401,
      decrypt: 0,
      pg_restore: 7102,
      analyze_count: 1250,
      total: 9100,
    });
    expect(parseRestoreSteps("no such line")).toBeUndefined();
    const large = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "run-large.json"), "utf8")).large;
    const db_side = {
      n: 3,
      jobs: 2,
      script_ms: 3150,
      bare_ms: 3000,
      parallel_ms: 2100,
      bare_dir_ms: 1900,
      restore_ms: 2400,
      bare_restore_ms: 2000,
      restore_parallel_ms: 2300,
      dump_bytes: 50e6,
      parallel_bytes: 52e6,
      samples: { bare: [3000, 2900, 3100], bare_dir: [1900, 1900, 1900] },
      cpu_samples: {
        bare: [4000, 4050, 3900],
        bare_dir: [3700, 3800, 3800],
        parallel: [4100, 4100, 4200],
        restore: [2200, 2200, 2300],
        bare_restore: [2000, 2000, 2000],
      },
      bare_restore_steps: { createdb: 300, pg_restore: 1200, vacuumdb: 500 },
      restore_steps: { restore: { start: 200, checksum: 400, decrypt: 0, pg_restore: 1500, total: 2400 } },
      bare_restore_stream_ms: 2600,
    };
    const got = evaluateTargets({ hosts: 2, cases: twoHosts(), large: { ...large, db_side } }).filter((t) =>
      /bare pg_dump|bare createdb/.test(t.target),
    );
    expect(got[1]!.measured).toContain(
      "; CPU (client + server): bare -Fc 4s, bare -Fd -j 2 3.8s, dump_jobs 2 4.1s; CPUs kept busy: bare -Fc 1.33 of 2",
    );
    expect(got[2]!.measured).toContain("; steps: start 200ms, checksum 400ms, pg_restore 1.5s;");
    expect(got[2]!.measured).toContain("; bare: createdb 300ms, pg_restore 1.2s, vacuumdb 500ms;");
    expect(got[2]!.measured).toContain("(no data offsets, as an encrypted dump's): 2.6s");
    expect(got[2]!.measured).toContain("; CPU 2.2s vs 2s (1.10×)");
  });
});
