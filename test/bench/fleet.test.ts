// Issue 13's fleet, start-up and media side-by-side targets, on figures chosen by hand; the host-CPU
// breakdown; GNU time's RSS output; the media side by side's medians.
import { describe, expect, it } from "vitest";
import { hostCpuParts } from "../../src/bench/hostcpu.ts";
import { mediaSideSummary, SIDE_KEYS, stepTimes, type MediaSide } from "../../src/bench/mediaside.ts";
import { parseTimeRss } from "../../src/bench/provision.ts";
import { hostCpuLine, mediaSideLines } from "../../src/bench/report.ts";
import { record, type Cases, type CaseSample } from "../../src/bench/results.ts";
import { evaluateTargets } from "../../src/bench/targets.ts";

const noop = (wall_ms: number, cpu_ms: number, host_cpu_ms: number, more: Partial<CaseSample> = {}): CaseSample => ({
  wall_ms,
  cpu_ms,
  host_cpu_ms,
  run_ms: wall_ms - 300,
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

const hundred = (over: Record<string, CaseSample[]> = {}) =>
  cases({
    ssh_true: [{ wall_ms: 300, cpu_ms: 60, host_cpu_ms: 160 }],
    bashrc: [{ wall_ms: 200, cpu_ms: 120, host_cpu_ms: 0 }],
    node_bare: [{ wall_ms: 60 }],
    noop_1: [noop(900, 500, 300, { max_rss_kb: 90_000 })],
    noop_10: [noop(2000, 600, 3000, { max_rss_kb: 95_000 })],
    noop_100: [
      noop(24_000, 2_000, 36_000, { max_rss_kb: 150_000 }),
      noop(22_000, 1_980, 35_000, { max_rss_kb: 210_000 }),
      noop(30_000, 2_100, 37_000, { max_rss_kb: 160_000 }),
    ],
    ...over,
  });

const byTitle = (c: Cases, more: { nproc?: number; mediaSide?: MediaSide } = { nproc: 2 }) =>
  Object.fromEntries(evaluateTargets({ hosts: 100, cases: c, ...more }).map((t) => [t.target, t]));

const FLOOR = "100-host no-op: wall within 1.2× of the lab's CPU floor ((ctl CPU + host CPU) / CPUs)";
const PER_HOST = "100-host no-op: controller CPU ≤ 15 ms per extra host ((ctl CPU at N − at 1) / (N − 1))";
const RSS = "100-host no-op: controller RSS ≤ 200 MB (peak RSS of the provision process, GNU time)";

describe("the 100-host targets", () => {
  it("wall against the CPU floor: medians of ctl + host CPU over the CPUs", () => {
    const t = byTitle(hundred())[FLOOR]!;
    // floor (2000 + 36000) / 2 = 19 s; median wall 24 s
    expect(t.ratio).toBeCloseTo(24_000 / 19_000);
    expect(t.pass).toBe(false);
    expect(t.measured).toBe("24s vs 19s (ctl 2s + host 36s over 2 CPUs); host CPU per host 360ms");
    expect(byTitle(hundred({ noop_100: [noop(20_000, 2_000, 36_000)] }))[FLOOR]!.pass).toBe(true);
    // without the CPU count there is no floor: left out
    expect(byTitle(hundred(), {})[FLOOR]).toBeUndefined();
  });

  it("controller CPU per extra host: (median at N − median at 1) / (N − 1) against 15 ms", () => {
    const t = byTitle(hundred())[PER_HOST]!;
    expect(t.measured).toBe("15.2 ms per extra host (2s for 100 hosts, 500ms for 1)");
    expect(t.ratio).toBeCloseTo(1500 / 99 / 15);
    expect(t.pass).toBe(false);
    const ok = byTitle(hundred({ noop_1: [noop(900, 600, 300)] }))[PER_HOST]!;
    expect(ok.ratio).toBeCloseTo(1400 / 99 / 15);
    expect(ok.pass).toBe(true);
  });

  it("RSS: the largest peak of the N-host runs against 200 MB; not measured without GNU time", () => {
    const t = byTitle(hundred())[RSS]!;
    expect(t.measured).toBe("215.0 MB, the largest of 3 runs (1 host: 92.2 MB)");
    expect(t.ratio).toBeCloseTo((210_000 * 1024) / 200e6);
    expect(t.pass).toBe(false);
    const without = hundred({ noop_100: [noop(24_000, 2_000, 36_000)] });
    expect(byTitle(without)[RSS]).toEqual({
      target: RSS,
      measured: "not measured (no figures for noop_100:max_rss_kb)",
      ratio: null,
      limit: null,
      pass: null,
    });
  });

  it("none of them on a lab under 10 hosts", () => {
    const c = hundred();
    const names = evaluateTargets({ hosts: 2, cases: { ...c, noop_2: c.noop_10! }, nproc: 2 }).map((t) => t.target);
    expect(names.filter((n) => /host no-op:/.test(n))).toEqual([]);
  });
});

describe("host CPU per host", () => {
  it("splits the N-host no-op's host CPU per host into sshd, the login shell and the remote script", () => {
    // 36 s / 100 = 360 ms; ssh host true 160 ms of which the shell 120 ms; the script 360 − 160
    expect(hostCpuParts(hundred(), 100)).toEqual({
      per_host_ms: 360,
      sshd_ms: 40,
      shell_ms: 120,
      script_ms: 200,
      hosts: 100,
    });
    expect(hostCpuLine(hundred(), 100)).toEqual([
      "Host CPU per host (100-host no-op): 360ms = sshd session 40ms + login shell with ~/.bashrc 120ms (together `ssh host true`) + the remote script 200ms",
    ]);
    const c = hundred();
    delete c.bashrc;
    expect(hostCpuParts(c, 100)).toBeUndefined();
    expect(hostCpuLine(c, 100)).toEqual([]);
  });
});

describe("stepTimes", () => {
  it("gives each traced command's time, to the next one, to the step main() was in", () => {
    const trace = [
      "+|100.000000|| source lib.sh",
      "+|100.200000|| main",
      "+|100.250000|preflight main| preflight",
      "++|100.300000|resolve_source preflight main| resolve_source",
      "+|100.400000|sync_snapshot main| rsync -a",
      "not a trace line (a script's own fd 9 output would not be one either)",
      "+|102.400000|commit_snapshot main| awk",
      "+|103.000000|report main| log",
    ].join("\n");
    const t = stepTimes(trace);
    expect(Object.keys(t)).toEqual(["(top level)", "preflight", "sync_snapshot", "commit_snapshot"]);
    expect(t["(top level)"]).toBeCloseTo(250);
    expect(t.preflight).toBeCloseTo(150);
    expect(t.sync_snapshot).toBeCloseTo(2000);
    expect(t.commit_snapshot).toBeCloseTo(600);
  });
});

describe("parseTimeRss", () => {
  it("reads GNU time's -f %M, also after its 'exited with non-zero status' line", () => {
    expect(parseTimeRss("123456\n")).toBe(123456);
    expect(parseTimeRss("Command exited with non-zero status 2\n98765\n")).toBe(98765);
    expect(parseTimeRss("")).toBeUndefined();
    expect(parseTimeRss("Command terminated by signal 9\n")).toBeUndefined();
  });
});

const side = (script: Record<"u" | "c", number[]>, bare: Record<"u" | "c", number[]>): MediaSide => {
  const samples = {
    bare_unchanged: bare.u,
    script_unchanged: script.u,
    bare_changed: bare.c,
    script_changed: script.c,
  };
  return {
    files: 100_000,
    bytes: 204_800_000,
    generate_ms: 9000,
    first_ms: { bare: 8000, script: 12_000 },
    changed_files: 1000,
    changed_bytes: [2e6, 2e6, 2e6],
    samples,
    cpu_samples: Object.fromEntries(
      SIDE_KEYS.map((k) => [k, samples[k].map((ms) => ms / 2)]),
    ) as MediaSide["cpu_samples"],
    steps: { changed: { sync_snapshot: 2500, commit_snapshot: 1200, "(top level)": 40 } },
  };
};

describe("the media side by side", () => {
  const m = side({ u: [4000, 3000, 9000], c: [5000, 4000, 4500] }, { u: [2000, 2500, 2200], c: [3000, 4000, 2000] });

  it("medians of each variant and their ratio to bare rsync", () => {
    expect(mediaSideSummary(m)).toEqual({
      n: 3,
      unchanged: { bare_ms: 2200, script_ms: 4000, ratio: 4000 / 2200 },
      changed: { bare_ms: 3000, script_ms: 4500, ratio: 1.5 },
    });
  });

  it("its two targets, ≤ 1.5× each; one 'not measured' line without it", () => {
    const ts = evaluateTargets({ hosts: 1, cases: hundred(), mediaSide: m }).filter((t) =>
      t.target.startsWith("backup-media.sh"),
    );
    expect(ts.map((t) => [t.target, t.ratio, t.pass])).toEqual([
      ["backup-media.sh ≤ 1.5× bare rsync -a --delete --link-dest, 100000 files, nothing changed", 4000 / 2200, false],
      ["backup-media.sh ≤ 1.5× bare rsync -a --delete --link-dest, 100000 files, after 1% changed", 1.5, true],
    ]);
    expect(ts[1]!.measured).toBe(
      "4.5s vs 3s (median of 3, interleaved; 195 MiB in 100000 files, 1000 rewritten; CPU 2.25s vs 1.5s; one traced run: sync_snapshot 2.5s, commit_snapshot 1.2s)",
    );
    const none = evaluateTargets({ hosts: 1, cases: hundred() }).filter((t) => t.target.startsWith("backup-media.sh"));
    expect(none).toEqual([
      {
        target: "backup-media.sh ≤ 1.5× bare rsync on a 100k-file tree, nothing changed and after 1% changed",
        measured: "not measured (needs --media-side or --scale large)",
        ratio: null,
        limit: null,
        pass: null,
      },
    ]);
  });

  it("prints the variants with their ratios", () => {
    const lines = mediaSideLines(m);
    expect(lines[0]).toBe(
      "Media side by side on a generated tree: 100000 files, 195 MiB (generated in 9s; first copies: bare rsync 8s, backup-media.sh 12s)",
    );
    expect(lines[1]).toMatch(/backup-media\.sh, nothing changed +4s +1\.82× bare/);
    expect(lines[1]).toMatch(/backup-media\.sh, after 1000 files \(1%\) changed +4\.5s +1\.50× bare/);
  });
});
