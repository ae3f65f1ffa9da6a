// One bench run: a private lab (a temp dir, free ports; taken down at the end, also on an error or
// a signal, whose handlers exist only while the run does), the cases in their phases (first
// provision, the side-by-side cases interleaved in a rotating order, smoke, backups, the large
// scale), then the targets, the console report and the JSON.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { execa } from "execa";
import { labDown, labUp } from "../lab/lab.ts";
import { freePort } from "../lab/ports.ts";
import { formatMs } from "../format.ts";
import { REPO, type BenchOptions } from "./args.ts";
import { ansibleAvailable, convergeAnsible, setupAnsible, type AnsibleSetup } from "./ansible.ts";
import {
  backupCases,
  firstProvisionCases,
  noopInventories,
  pidsOf,
  sideBySideCases,
  smokeCase,
  type BenchCase,
  type BenchContext,
} from "./cases.ts";
import { hostConf } from "./hostops.ts";
import { largeScale } from "./large.ts";
import { mediaSideBySide } from "./mediaside.ts";
import { provisionRunner, provisionSample } from "./provision.ts";
import { consoleReport, jsonReport, type BenchReport, type MachineInfo } from "./report.ts";
import { record, type Cases } from "./results.ts";
import { evaluateTargets } from "./targets.ts";

export interface BenchIo {
  /** The console report (stdout). */
  out: (text: string) => void;
  /** Progress, one line at a time (stderr). */
  log: (line: string) => void;
}

const defaultIo: BenchIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  log: (line) => process.stderr.write(`${line}\n`),
};

const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** The machine, and what was measured: the commit, and whether the working tree differed from it. */
async function machine(repo: string): Promise<MachineInfo> {
  const run = (cmd: string, args: string[], cwd?: string) => execa(cmd, args, { cwd, reject: false, stdin: "ignore" });
  const head = (await run("git", ["rev-parse", "--short", "HEAD"], repo)).stdout?.toString().trim() || null;
  const dirty = head
    ? ((await run("git", ["status", "--porcelain", "--untracked-files=no"], repo)).stdout?.toString().trim() ?? "") !==
      ""
    : null;
  return {
    date: new Date().toISOString(),
    nproc: Number((await run("nproc", [])).stdout?.toString().trim()),
    cpu_model: cpus()[0]?.model ?? "?",
    memory_gib: +(totalmem() / 2 ** 30).toFixed(1),
    kernel: release(),
    os: (readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]*)/m) ?? [])[1] ?? "?",
    node: process.version,
    openssh: (await run("ssh", ["-V"])).stderr?.toString().trim(),
    loadavg_at_start: loadavg(),
    git_head: head,
    git_dirty: dirty,
  };
}

const rotate = <T>(xs: T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

const SIGNALS = [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const;

/** Runs the bench; resolves once the lab is down and the JSON written. A failed case throws (after cleanup). */
export async function runBench(opts: BenchOptions, io: BenchIo = defaultIo, repo = REPO): Promise<BenchReport> {
  const say = (line: string) => io.log(`bench: ${line}`);
  const labDir = mkdtempSync(join(tmpdir(), "cep-bench-"));
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      say(`taking the lab down (${labDir})`);
      try {
        await labDown(labDir);
      } catch (e) {
        say(`labDown failed: ${(e as Error).message}`);
      }
      rmSync(labDir, { recursive: true, force: true });
    })());
  const handlers = SIGNALS.map(([sig, code]) => {
    const h = () => {
      say(`${sig}: stopping`);
      void cleanup().finally(() => process.exit(code));
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    return await measureAll(opts, io, repo, labDir, say);
  } finally {
    await cleanup();
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

async function measureAll(
  opts: BenchOptions,
  io: BenchIo,
  repo: string,
  labDir: string,
  say: (line: string) => void,
): Promise<BenchReport> {
  const info = await machine(repo);
  say(
    `${info.nproc} CPUs (${info.cpu_model}), ${info.memory_gib} GiB, load ${info.loadavg_at_start}; ${opts.hosts} hosts, ${opts.reps} reps, scale ${opts.scale}`,
  );
  const ansibleVersion = opts.ansible ? await ansibleAvailable() : undefined;
  if (opts.ansible && !ansibleVersion)
    say("--ansible: ansible-playbook is not installed (apt-get install -y ansible-core); skipping Ansible");

  say(`starting a ${opts.hosts}-host lab in ${labDir}`);
  const upT0 = performance.now();
  const lab = await labUp({
    dir: labDir,
    hosts: opts.hosts,
    sshBasePort: await freePort(),
    pgBasePort: await freePort(),
  });
  const labUpMs = performance.now() - upT0;
  say(`lab up in ${formatMs(labUpMs)}`);
  const h1 = lab.hosts[0]!;
  const ctx: BenchContext = {
    repo,
    lab,
    opts,
    provision: provisionRunner(repo, labDir, opts.forks),
    invs: noopInventories(lab, opts.hosts),
    say,
  };
  const cases: Cases = {};
  const smokeParts: Record<string, number[]> = {};
  const measure = async (c: BenchCase) => {
    const r = await c.run();
    const notNoop = r.notNoop ?? [];
    if (notNoop.length)
      say(
        `WARNING: a no-op run (${c.key}) was not a no-op: ${notNoop.slice(0, 5).join("; ")}${notNoop.length > 5 ? ` (+${notNoop.length - 5})` : ""}`,
      );
    record(cases, c.key, c.label, r.sample, notNoop);
    for (const [k, ms] of Object.entries(r.components ?? {})) (smokeParts[k] ??= []).push(ms);
  };

  for (const c of firstProvisionCases(ctx)) await measure(c);

  // The rest of the fleet, once (not measured), so that every no-op set is a no-op.
  say(`provisioning all ${opts.hosts} hosts once`);
  const warm = provisionSample(await ctx.provision(ctx.invs.get(opts.hosts)!, ["--skip-smoke"], pidsOf(lab.hosts)));
  say(`  ${warm.changed_hosts} hosts changed in ${formatMs(warm.wall_ms)}`);

  let ans: AnsibleSetup | undefined;
  if (ansibleVersion) {
    ans = setupAnsible(lab, h1, join(repo, "bench/ansible/noop.yml"), join(labDir, "ansible"), ansibleVersion);
    say(`Ansible (${ansibleVersion}): converging bench/ansible/noop.yml on ${h1.name}`);
    await convergeAnsible(ans, pidsOf([h1]));
  }

  const sideBySide = sideBySideCases(ctx, ans);
  for (let rep = 0; rep < opts.reps; rep++) {
    say(`repetition ${rep + 1}/${opts.reps}: ${sideBySide.length} cases`);
    for (const c of rotate(sideBySide, rep)) await measure(c);
  }
  const smoke = smokeCase(ctx);
  for (let rep = 0; rep < opts.reps; rep++) {
    say(`smoke ${rep + 1}/${opts.reps}`);
    await measure(smoke);
  }
  const backupDir = hostConf(h1).BACKUP_DIR!;
  const backups = backupCases(ctx, backupDir);
  for (let rep = 0; rep < opts.reps; rep++) {
    say(`backups ${rep + 1}/${opts.reps}`);
    for (const c of backups) await measure(c);
  }
  const large = opts.scale === "large" ? await largeScale(h1, backupDir, opts.reps, say, opts.rows) : undefined;
  // After the large scale has removed its tree: the side by side's tree is then all there is to back up.
  const mediaSide = opts.mediaSide ? await mediaSideBySide(h1, backupDir, opts.reps, say, opts.mediaFiles) : undefined;

  const report: BenchReport = {
    machine: info,
    loadavgAtEnd: loadavg(),
    opts,
    ansible: ansibleVersion,
    labUpMs,
    hostName: h1.name,
    cases,
    smokeParts,
    large,
    mediaSide,
    targets: evaluateTargets({ hosts: opts.hosts, cases, large, nproc: info.nproc, mediaSide }),
  };
  io.out(consoleReport(report));
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(opts.json, `${JSON.stringify(jsonReport(report), null, 2)}\n`);
  say(`results written to ${relative(process.cwd(), opts.json) || opts.json}`);
  return report;
}
