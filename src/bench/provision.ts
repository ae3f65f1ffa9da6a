// The provision CLI as the bench runs it: a separate process (as an operator launches it), with a
// JSON report per run; what a sample of it is (wall, CPU, and per host what the report says).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import YAML from "yaml";
import type { LabState } from "../lab/lab.ts";
import { median, timed, type RunResult } from "./measure.ts";
import type { CaseSample } from "./results.ts";

// How the provision CLI is launched: the README's own `npm run provision -- …` (npm, then
// bin/cep.mjs, then the esbuild bundle), and bin/cep.mjs directly (the same bundle without npm's
// start), which the fleet no-ops use so that their per-host figures hold no npm start.
export const LAUNCHERS = {
  npm: { cmd: "npm", pre: ["run", "provision", "--"], label: "npm run provision" },
  cep: { cmd: "node", pre: ["bin/cep.mjs", "provision"], label: "node bin/cep.mjs provision" },
} as const;
export type Launcher = keyof typeof LAUNCHERS;

/**
 * GNU time: the peak RSS (KiB) the kernel recorded for the largest process of the run once it is
 * reaped (getrusage of the child, wait4). Optional: without it there is no RSS figure.
 */
export const GNU_TIME = "/usr/bin/time";

export interface ProvisionRun extends RunResult {
  report: any;
  /** Peak RSS of the largest process of the run (KiB), from GNU time; undefined without it. */
  max_rss_kb?: number;
}

export type ProvisionRunner = (
  inventory: string,
  args: string[],
  hostPids: number[],
  launcher?: Launcher,
  forksOverride?: number,
) => Promise<ProvisionRun>;

/**
 * Runs the provision CLI from `repo` (through `launcher`, bin/cep.mjs by default), under GNU time
 * when it is installed, each run writing its JSON report under `workDir`;
 * `forks` (when given) is passed to every run unless a run overrides it. A failed run throws.
 */
export function provisionRunner(repo: string, workDir: string, forks?: number): ProvisionRunner {
  let reportNo = 0;
  const haveTime = existsSync(GNU_TIME);
  return async (inventory, args, hostPids, launcher = "cep", forksOverride) => {
    const l = LAUNCHERS[launcher];
    const json = join(workDir, "reports", `${++reportNo}.json`);
    mkdirSync(dirname(json), { recursive: true });
    const f = forksOverride ?? forks;
    const forkArgs = f === undefined ? [] : ["--forks", String(f)];
    const argv = [...l.pre, inventory, ...args, ...forkArgs, "--json", json];
    const rssFile = `${json}.rss`;
    const r = haveTime
      ? await timed(GNU_TIME, ["-f", "%M", "-o", rssFile, l.cmd, ...argv], { cwd: repo, hostPids })
      : await timed(l.cmd, argv, { cwd: repo, hostPids });
    let max_rss_kb: number | undefined;
    if (haveTime) {
      max_rss_kb = parseTimeRss(readFileSync(rssFile, "utf8"));
      rmSync(rssFile, { force: true });
    }
    let report: any;
    try {
      report = JSON.parse(readFileSync(json, "utf8"));
    } catch {
      report = undefined;
    }
    if (r.code !== 0 || !report)
      throw new Error(
        `provision ${relative(workDir, inventory)} ${args.join(" ")} exited ${r.code}:\n${(r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n")}`,
      );
    return { ...r, report, ...(max_rss_kb !== undefined ? { max_rss_kb } : {}) };
  };
}

/** GNU time's `-f %M` output: the last line is the peak RSS in KiB (a "Command exited…" line may precede it). */
export function parseTimeRss(text: string): number | undefined {
  const last = text.trim().split("\n").pop() ?? "";
  return /^\d+$/.test(last) ? Number(last) : undefined;
}

/** One sample of a provision run: wall and CPU, plus what the JSON report says per host. */
export function provisionSample(r: ProvisionRun): CaseSample {
  const hosts: any[] = r.report.hosts;
  const cmds = hosts.map((h) => h.commands as number);
  const bytes = hosts.map((h) => h.bytes_uploaded as number);
  return {
    wall_ms: r.wall_ms,
    cpu_ms: r.cpu_ms,
    host_cpu_ms: r.host_cpu_ms,
    run_ms: r.report.duration_ms,
    host_ms_median: median(hosts.map((h) => h.duration_ms)),
    host_ms_max: Math.max(...hosts.map((h) => h.duration_ms)),
    hosts: hosts.length,
    commands_max: Math.max(...cmds),
    commands_mean: cmds.reduce((x, y) => x + y, 0) / cmds.length,
    bytes_max: Math.max(...bytes),
    bytes_mean: bytes.reduce((x, y) => x + y, 0) / bytes.length,
    changed_hosts: hosts.filter((h) => h.status === "changed").length,
    failed_hosts: hosts.filter((h) => h.status === "failed" || h.status === "unreachable").length,
    changed_tasks: hosts.reduce((n, h) => n + h.changed, 0),
    tasks_per_host: hosts[0]?.tasks?.length ?? 0,
    ...(r.max_rss_kb !== undefined ? { max_rss_kb: r.max_rss_kb } : {}),
  };
}

/**
 * What a no-op run changed (nothing, normally): "host: status: task" per task not ok. A template
 * edited in the working tree while the bench runs shows up here: run the bench from a clean
 * checkout for figures to publish.
 */
export function noopChanges(r: ProvisionRun): string[] {
  return (r.report.hosts as any[]).flatMap((h) =>
    (h.tasks as any[]).filter((t) => t.status !== "ok").map((t) => `${h.name}: ${t.status}: ${t.name}`),
  );
}

/** An inventory of some of the lab's hosts (the lab's own inventory, its hosts filtered). */
export function writeSubsetInventory(lab: LabState, name: string, hosts: string[]): string {
  const inv = YAML.parse(readFileSync(lab.files.inventory, "utf8"));
  // The lab's hosts share the controller's CPUs: one wave of 100 handshakes (sshd's key exchange,
  // then root's ~/.bashrc) needs ~15 s of CPU on 2 cores, so a host waits its turn far longer than
  // the default 10 s connect timeout, which is meant for a host that does not answer. The bench
  // measures speed, not that timeout: its hosts get 120 s.
  inv.hosts = Object.fromEntries(
    Object.entries(inv.hosts)
      .filter(([h]) => hosts.includes(h))
      .map(([h, v]: [string, any]) => [h, { ...v, ssh: { ...v.ssh, connect_timeout_s: 120 } }]),
  );
  inv.groups = { lab: { hosts } };
  const f = join(dirname(lab.files.inventory), `bench-${name}.yml`);
  writeFileSync(f, YAML.stringify(inv));
  return f;
}
