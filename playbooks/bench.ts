#!/usr/bin/env -S npx tsx
// npm run bench -- [--hosts N] [--scale small|large] [--reps R] [--json FILE] [--ansible] [--forks N]
//
// The benchmarks of issue 5 / DESIGN.md "Performance", measured side by side in one run on a
// private lab (a temp dir, free ports; always taken down, also on an error or Ctrl-C): baselines
// (OpenSSH `ssh host true`, the CLI's own start), first provision, no-op re-provision of 1, 10 and
// N hosts, smoke, the backup scripts, optionally Ansible on the same sshd and a large data set.
// Every figure is the median of R repetitions; repeated cases run interleaved (rotating order),
// so a noisy neighbour hits them alike. Prints a table and the targets; writes JSON.
import { parseArgs } from "node:util";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import YAML from "yaml";
import { labDown, labUp, type LabHost, type LabState } from "../src/lab/lab.ts";
import { freePort } from "../src/lab/ports.ts";
import { median, nextSecond, stat, timed, type RunResult, type Stat } from "../src/bench/measure.ts";
import { formatBytes, formatMs, textTable } from "../src/format.ts";
import { ansibleAvailable, runAnsible, setupAnsible, type AnsibleSetup } from "../src/bench/ansible.ts";
import {
  changeFiles,
  dropDatabase,
  dropLargeTable,
  du,
  generateMedia,
  generateRows,
  hashTree,
  hostConf,
  latestDump,
  latestMediaManifest,
  listEntries,
  removeNew,
  runScript,
} from "../src/bench/hostops.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = `Usage: npm run bench -- [options]

Options:
  --hosts N          lab hosts; no-op re-provision is measured on 1, 10 and N (default 25)
  --scale S          small (default: the lab's seeded data) or large (+ ~1 GB of media in a few
                     thousand files and a million-row table on lab1; needs ~3 GB free in $TMPDIR)
  --reps R           repetitions per figure, the median is reported (default 5)
  --json FILE        where the JSON results go (default bench/results/latest.json)
  --ansible          also run bench/ansible/noop.yml with ansible-playbook (apt-get install ansible-core)
  --forks N          passed to provision (default: provision's own, 10)
  -h, --help         this help
`;

// ---- arguments -----------------------------------------------------------------------------------

function usageError(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}`);
  process.exit(1);
}

let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    options: {
      hosts: { type: "string" },
      scale: { type: "string" },
      reps: { type: "string" },
      json: { type: "string" },
      ansible: { type: "boolean" },
      forks: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
} catch (e) {
  usageError((e as Error).message);
}
const a = parsed.values;
if (a.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const int = (name: string, v: string | undefined, dflt: number, min: number, max: number): number => {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    usageError(`--${name}: expected an integer from ${min} to ${max}, got "${v}"`);
  return Number(v);
};
const HOSTS = int("hosts", a.hosts, 25, 1, 200);
const REPS = int("reps", a.reps, 5, 1, 50);
const FORKS = a.forks === undefined ? undefined : int("forks", a.forks, 10, 1, 500);
const SCALE = a.scale ?? "small";
if (SCALE !== "small" && SCALE !== "large") usageError(`--scale: expected small or large, got "${SCALE}"`);
const JSON_OUT = resolve(a.json ?? join(REPO, "bench/results/latest.json"));
const WANT_ANSIBLE = a.ansible ?? false;

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

// ---- the lab, and taking it down whatever happens ---------------------------------------------------

const labDir = mkdtempSync(join(tmpdir(), "cep-bench-"));
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    say(`taking the lab down (${labDir})`);
    try {
      await labDown(labDir);
    } catch (e) {
      say(`labDown failed: ${(e as Error).message}`);
    }
    rmSync(labDir, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const [sig, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const) {
  process.on(sig, () => {
    say(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(code));
  });
}

// ---- results ---------------------------------------------------------------------------------------

interface CaseResult {
  label: string;
  samples: Record<string, number>[];
  wall_ms: Stat;
  cpu_ms: Stat;
  host_cpu_ms: Stat;
  extra?: Record<string, unknown>;
}
const cases: Record<string, CaseResult> = {};

function record(key: string, label: string, s: Record<string, number>, extra?: Record<string, unknown>): void {
  const c = (cases[key] ??= { label, samples: [], wall_ms: stat([]), cpu_ms: stat([]), host_cpu_ms: stat([]) });
  c.samples.push(s);
  c.wall_ms = stat(c.samples.map((x) => x.wall_ms!));
  c.cpu_ms = stat(c.samples.map((x) => x.cpu_ms ?? NaN));
  c.host_cpu_ms = stat(c.samples.map((x) => x.host_cpu_ms ?? NaN));
  if (extra) c.extra = { ...c.extra, ...extra };
}
const sample = (r: RunResult): Record<string, number> => ({
  wall_ms: r.wall_ms,
  cpu_ms: r.cpu_ms,
  host_cpu_ms: r.host_cpu_ms,
});
const med = (key: string, field = "wall_ms"): number =>
  median((cases[key]?.samples ?? []).map((s) => s[field]!).filter((x) => x !== undefined));

function check(r: RunResult, what: string, okCodes = [0]): void {
  if (!okCodes.includes(r.code))
    throw new Error(`${what} exited ${r.code}:\n${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}`);
}

// ---- the provision CLI --------------------------------------------------------------------------------

const LAUNCHERS = {
  npx: { cmd: "npx", pre: ["tsx"], label: "npx tsx" },
  node: { cmd: "node", pre: ["--import", "tsx"], label: "node --import tsx" },
} as const;
type Launcher = keyof typeof LAUNCHERS;

let reportNo = 0;
interface ProvisionRun extends RunResult {
  report: any;
}

async function provisionRun(
  inventory: string,
  args: string[],
  hostPids: number[],
  launcher: Launcher = "npx",
  forksOverride?: number,
): Promise<ProvisionRun> {
  const l = LAUNCHERS[launcher];
  const json = join(labDir, "reports", `${++reportNo}.json`);
  mkdirSync(dirname(json), { recursive: true });
  const f = forksOverride ?? FORKS;
  const forks = f === undefined ? [] : ["--forks", String(f)];
  const r = await timed(
    l.cmd,
    [...l.pre, join(REPO, "playbooks/provision.ts"), inventory, ...args, ...forks, "--json", json],
    { cwd: REPO, hostPids },
  );
  let report: any;
  try {
    report = JSON.parse(readFileSync(json, "utf8"));
  } catch {
    report = undefined;
  }
  if (r.code !== 0 || !report)
    throw new Error(
      `provision ${relative(labDir, inventory)} ${args.join(" ")} exited ${r.code}:\n${(r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n")}`,
    );
  return { ...r, report };
}

/** One sample of a provision run: wall and CPU, plus what the JSON report says per host. */
function provisionSample(r: ProvisionRun): Record<string, number> {
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
  };
}

/**
 * What a no-op run changed (nothing, normally). A template edited in the working tree while the
 * bench runs shows up here: run the bench from a clean checkout for figures to publish.
 */
function noopChanges(key: string, r: ProvisionRun): Record<string, unknown> | undefined {
  const changed = (r.report.hosts as any[]).flatMap((h) =>
    (h.tasks as any[]).filter((t) => t.status !== "ok").map((t) => `${h.name}: ${t.status}: ${t.name}`),
  );
  if (changed.length === 0) return undefined;
  say(
    `WARNING: a no-op run (${key}) was not a no-op: ${changed.slice(0, 5).join("; ")}${changed.length > 5 ? ` (+${changed.length - 5})` : ""}`,
  );
  return { not_noop: [...((cases[key]?.extra?.not_noop as string[]) ?? []), ...changed] };
}

function writeSubsetInventory(lab: LabState, name: string, hosts: string[]): string {
  const inv = YAML.parse(readFileSync(lab.files.inventory, "utf8"));
  inv.hosts = Object.fromEntries(Object.entries(inv.hosts).filter(([h]) => hosts.includes(h)));
  inv.groups = { lab: { hosts } };
  const f = join(dirname(lab.files.inventory), `bench-${name}.yml`);
  writeFileSync(f, YAML.stringify(inv));
  return f;
}

// ---- the machine -----------------------------------------------------------------------------------

async function machine(): Promise<Record<string, unknown>> {
  const out = async (cmd: string, args: string[]) =>
    (await execa(cmd, args, { reject: false, stdin: "ignore" })).stdout?.toString().trim();
  const ssh = (await execa("ssh", ["-V"], { reject: false, stdin: "ignore" })).stderr?.toString().trim();
  // What was measured: the commit, and whether the working tree differed from it.
  const git = (args: string[]) => execa("git", args, { cwd: REPO, reject: false, stdin: "ignore" });
  const head = (await git(["rev-parse", "--short", "HEAD"])).stdout?.toString().trim() || null;
  const dirty = head
    ? ((await git(["status", "--porcelain", "--untracked-files=no"])).stdout?.toString().trim() ?? "") !== ""
    : null;
  return {
    date: new Date().toISOString(),
    nproc: Number(await out("nproc", [])),
    cpu_model: cpus()[0]?.model ?? "?",
    memory_gib: +(totalmem() / 2 ** 30).toFixed(1),
    kernel: release(),
    os: (readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]*)/m) ?? [])[1] ?? "?",
    node: process.version,
    openssh: ssh,
    loadavg_at_start: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    git_head: head,
    git_dirty: dirty,
  };
}

// ---- the run -------------------------------------------------------------------------------------

const rotate = <T>(xs: T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);
const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
const ratio = (x: number) => `${x.toFixed(2)}×`;

interface Target {
  target: string;
  measured: string;
  ratio: number | null;
  limit: number | null;
  pass: boolean | null;
  note?: string;
}

async function main(): Promise<void> {
  const info = await machine();
  say(
    `${info.nproc} CPUs (${info.cpu_model}), ${info.memory_gib} GiB, load ${info.loadavg_at_start}; ${HOSTS} hosts, ${REPS} reps, scale ${SCALE}`,
  );
  const ansibleVersion = WANT_ANSIBLE ? await ansibleAvailable() : undefined;
  if (WANT_ANSIBLE && !ansibleVersion)
    say("--ansible: ansible-playbook is not installed (apt-get install -y ansible-core); skipping Ansible");

  // The lab.
  say(`starting a ${HOSTS}-host lab in ${labDir}`);
  const upT0 = performance.now();
  const lab = await labUp({ dir: labDir, hosts: HOSTS, sshBasePort: await freePort(), pgBasePort: await freePort() });
  const labUpMs = performance.now() - upT0;
  say(`lab up in ${formatMs(labUpMs)}`);
  const h1 = lab.hosts[0]!;
  const allPids = lab.hosts.map((h) => h.sshdPid).filter((p): p is number => p !== null);
  const pidsOf = (hs: LabHost[]) => hs.map((h) => h.sshdPid).filter((p): p is number => p !== null);
  const sets = [...new Set([1, 10, HOSTS].filter((n) => n <= HOSTS))].sort((x, y) => x - y);
  const invs = new Map(
    sets.map((n) => [
      n,
      writeSubsetInventory(
        lab,
        `${n}`,
        lab.hosts.slice(0, n).map((h) => h.name),
      ),
    ]),
  );
  const noopKey = (n: number) => `noop_${n}`;

  // First provision: one fresh host per repetition (lab1..labR).
  const firstHosts = lab.hosts.slice(0, Math.min(REPS, HOSTS));
  for (const h of firstHosts) {
    const inv = writeSubsetInventory(lab, `first-${h.name}`, [h.name]);
    say(`first provision of ${h.name}`);
    const r = await provisionRun(inv, ["--skip-smoke"], pidsOf([h]));
    const s = provisionSample(r);
    if (s.changed_hosts !== 1) throw new Error(`first provision of ${h.name} changed nothing: was the host fresh?`);
    record("first_1", "first provision, 1 host (--skip-smoke)", s);
  }

  // The rest of the fleet, once (not measured), then every no-op set must be a no-op.
  say(`provisioning all ${HOSTS} hosts once`);
  const warm = provisionSample(await provisionRun(invs.get(HOSTS)!, ["--skip-smoke"], allPids));
  say(`  ${warm.changed_hosts} hosts changed in ${formatMs(warm.wall_ms)}`);

  let ans: AnsibleSetup | undefined;
  if (ansibleVersion) {
    ans = setupAnsible(lab, h1, join(REPO, "bench/ansible/noop.yml"), join(labDir, "ansible"), ansibleVersion);
    say(`Ansible (${ansibleVersion}): converging bench/ansible/noop.yml on ${h1.name}`);
    const conv = await runAnsible(ans, pidsOf([h1]));
    check(conv, "ansible-playbook (first run)");
    const again = await runAnsible(ans, pidsOf([h1]));
    check(again, "ansible-playbook (second run)");
    if (again.changed !== 0 || again.ok !== 10)
      throw new Error(`the Ansible play is not a 10-task no-op: ok=${again.ok} changed=${again.changed}`);
  }

  // Side by side, rotating the order in every repetition.
  const sshArgs = (h: LabHost) => [
    "-i",
    lab.files.privateKey,
    "-o",
    `UserKnownHostsFile=${lab.files.knownHosts}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-p",
    String(h.sshPort),
    `${h.user}@127.0.0.1`,
  ];
  type Step = () => Promise<void>;
  const steps: Step[] = [
    async () => {
      const r = await timed("ssh", [...sshArgs(h1), "true"], { hostPids: pidsOf([h1]) });
      check(r, "ssh host true");
      record("ssh_true", "OpenSSH `ssh host true` (one fresh connection)", sample(r));
    },
    async () => {
      const r = await timed("bash", ["-c", '. "$HOME/.bashrc"']);
      check(r, "bash ~/.bashrc");
      record("bashrc", "root's ~/.bashrc (pyenv init), run by every remote command", sample(r));
    },
    async () => {
      const r = await timed("node", ["-e", "0"]);
      record("node_bare", "node -e 0 (Node.js alone)", sample(r));
    },
    async () => {
      const r = await timed("npx", ["tsx", join(REPO, "playbooks/provision.ts"), "--help"], { cwd: REPO });
      check(r, "provision --help", [0, 1]);
      record("start_npx", "CLI start: npx tsx playbooks/provision.ts --help", sample(r));
    },
    async () => {
      const r = await timed("node", ["--import", "tsx", join(REPO, "playbooks/provision.ts"), "--help"], { cwd: REPO });
      check(r, "provision --help", [0, 1]);
      record("start_node", "CLI start: node --import tsx playbooks/provision.ts --help", sample(r));
    },
    ...sets.map((n) => async () => {
      const r = await provisionRun(invs.get(n)!, ["--skip-smoke"], pidsOf(lab.hosts.slice(0, n)));
      record(
        noopKey(n),
        `no-op re-provision, ${n} host${n > 1 ? "s" : ""} (--skip-smoke)`,
        provisionSample(r),
        noopChanges(noopKey(n), r),
      );
    }),
    ...(HOSTS > 10
      ? [
          async () => {
            const r = await provisionRun(invs.get(HOSTS)!, ["--skip-smoke"], allPids, "npx", HOSTS);
            record(
              "noop_all_forks",
              `no-op re-provision, ${HOSTS} hosts, --forks ${HOSTS} (one wave)`,
              provisionSample(r),
              noopChanges("noop_all_forks", r),
            );
          },
        ]
      : []),
    async () => {
      const r = await provisionRun(invs.get(1)!, ["--skip-smoke"], pidsOf([h1]), "node");
      record(
        "noop_1_node",
        "no-op re-provision, 1 host, launched with node --import tsx",
        provisionSample(r),
        noopChanges("noop_1_node", r),
      );
    },
  ];
  if (ans) {
    const setup = ans;
    steps.push(
      async () => {
        const r = await timed("ansible-playbook", ["--version"]);
        check(r, "ansible-playbook --version");
        record("ansible_start", "Ansible start: ansible-playbook --version", sample(r));
      },
      async () => {
        const r = await runAnsible(setup, pidsOf([h1]));
        check(r, "ansible-playbook");
        if (r.changed !== 0) throw new Error(`the Ansible play changed ${r.changed} tasks on a no-op run`);
        record("ansible_noop", "Ansible: 10-task no-op play, 1 host (pipelining)", {
          wall_ms: r.wall_ms,
          cpu_ms: r.cpu_ms,
          host_cpu_ms: r.host_cpu_ms,
          tasks: r.ok,
        });
      },
    );
  }
  for (let rep = 0; rep < REPS; rep++) {
    say(`repetition ${rep + 1}/${REPS}: ${steps.length} cases`);
    for (const step of rotate(steps, rep)) await step();
  }

  // Smoke: provision of lab1 with the smoke test (a no-op plus the smoke command).
  const smokeParts: Record<string, number[]> = {};
  for (let rep = 0; rep < REPS; rep++) {
    say(`smoke ${rep + 1}/${REPS}`);
    await nextSecond();
    const r = await provisionRun(invs.get(1)!, [], pidsOf([h1]));
    const host = r.report.hosts[0];
    const bad = Object.entries(host.smoke ?? {}).filter(([, c]: [string, any]) => c.status !== "passed");
    if (bad.length) throw new Error(`smoke failed: ${JSON.stringify(bad)}`);
    const comps = Object.entries(host.smoke as Record<string, { duration_ms: number }>);
    for (const [k, c] of comps) (smokeParts[k] ??= []).push(c.duration_ms);
    record("smoke_1", "provision with smoke, 1 host (no-op + smoke test)", {
      ...provisionSample(r),
      smoke_ms: comps.reduce((n, [, c]) => n + c.duration_ms, 0),
    });
  }

  // The backup scripts on the seeded data of lab1, as cron runs them.
  const conf = hostConf(h1);
  const backupDir = conf.BACKUP_DIR!;
  for (let rep = 0; rep < REPS; rep++) {
    say(`backups ${rep + 1}/${REPS}`);
    for (const [key, script, label] of [
      ["backup_db", "backup-database.sh", "backup-database.sh, seeded data"],
      ["backup_media", "backup-media.sh", "backup-media.sh, seeded uploads"],
      ["backup_config", "backup-config.sh", "backup-config.sh, seeded config files"],
    ] as const) {
      await nextSecond();
      const r = await runScript(h1, script);
      check(r, script);
      const extra: Record<string, number> = {};
      if (key === "backup_media") {
        const m = latestMediaManifest(backupDir);
        extra.files = m?.files ?? NaN;
        extra.bytes = m?.bytes ?? NaN;
        extra.bytes_transferred = m?.bytes_transferred ?? NaN;
      }
      record(key, label, { wall_ms: r.wall_ms, cpu_ms: r.cpu_ms, ...extra });
    }
  }

  const large = SCALE === "large" ? await largeScale(h1, backupDir) : undefined;

  // ---- targets -----------------------------------------------------------------------------------
  const targets: Target[] = [];
  const noopKeys = sets.map(noopKey);
  const maxCmds = Math.max(...noopKeys.flatMap((k) => cases[k]!.samples.map((s) => s.commands_max!)));
  const maxBytes = Math.max(...noopKeys.flatMap((k) => cases[k]!.samples.map((s) => s.bytes_max!)));
  const changedInNoop = noopKeys.reduce((n, k) => n + cases[k]!.samples.reduce((m, s) => m + s.changed_tasks!, 0), 0);
  targets.push({
    target: "no-op re-provision: ≤ 3 remote commands per host, 0 bytes uploaded",
    measured: `max ${maxCmds} command(s)/host, max ${maxBytes} bytes uploaded, ${changedInNoop} tasks changed (all no-op runs, ${sets.join("/")} hosts)`,
    ratio: maxCmds / 3,
    limit: 1,
    pass: maxCmds <= 3 && maxBytes === 0 && changedInNoop === 0,
  });
  const base = med(noopKey(1));
  if (HOSTS > 1) {
    const rN = med(noopKey(HOSTS)) / base;
    targets.push({
      target: `${HOSTS} hosts ≤ 2× one host (wall, no-op, default forks)`,
      measured: `${formatMs(med(noopKey(HOSTS)))} vs ${formatMs(base)}; in-process (report duration_ms) ${ratio(med(noopKey(HOSTS), "run_ms") / med(noopKey(1), "run_ms"))}`,
      ratio: rN,
      limit: 2,
      pass: rN <= 2,
    });
  }
  if (HOSTS >= 10) {
    const r10 = med(noopKey(10)) / base;
    targets.push({
      target: "10 hosts ≤ 1.5× one host (wall; DESIGN.md)",
      measured: `${formatMs(med(noopKey(10)))} vs ${formatMs(base)}`,
      ratio: r10,
      limit: 1.5,
      pass: r10 <= 1.5,
    });
  }
  for (const [noop, start, l] of [
    ["noop_1", "start_npx", "npx tsx"],
    ["noop_1_node", "start_node", "node --import tsx"],
  ] as const) {
    const denom = med(start) + med("ssh_true");
    const r = med(noop) / denom;
    targets.push({
      target: `no-op of 1 host ≤ 1.5× (CLI start + ssh host true), launched with ${l}`,
      measured: `${formatMs(med(noop))} vs ${formatMs(med(start))} + ${formatMs(med("ssh_true"))} = ${formatMs(denom)}`,
      ratio: r,
      limit: 1.5,
      pass: r <= 1.5,
    });
  }
  if (large) {
    const share = large.incremental.bytes_transferred / large.media.bytes;
    const vsChanged = large.incremental.bytes_transferred / large.incremental.changed_bytes;
    targets.push({
      target: "media backup after a 1% change copies ~1% of the bytes",
      measured: `${formatBytes(large.incremental.bytes_transferred)} of ${formatBytes(large.media.bytes)} copied (${pct(share)}; ${ratio(vsChanged)} the bytes changed); extra disk ${formatBytes(large.incremental.extra_disk_bytes)}`,
      ratio: vsChanged,
      limit: 1.5,
      pass: vsChanged <= 1.5,
      note: "ratio: bytes copied / bytes changed",
    });
    const tr = large.incremental.wall_ms / large.first_backup.wall_ms;
    targets.push({
      target: "media backup after a 1% change takes a small fraction (≤ 20%) of the first backup's time",
      measured: `${formatMs(large.incremental.wall_ms)} vs ${formatMs(large.first_backup.wall_ms)} (no change at all: ${formatMs(large.unchanged.wall_ms)}; hashing the tree alone: ${formatMs(large.hash_tree_ms)})`,
      ratio: tr,
      limit: 0.2,
      pass: tr <= 0.2,
    });
  } else {
    targets.push({
      target: "media backup after a 1% change: ~1% of the bytes, a small fraction of the first backup's time",
      measured: "not measured (needs --scale large)",
      ratio: null,
      limit: null,
      pass: null,
    });
  }

  // ---- output ------------------------------------------------------------------------------------
  const rows: string[][] = [["case", "median", "min–max", "ctl CPU", "host CPU", "cmds/host", "bytes/host", "note"]];
  const order = [
    "ssh_true",
    "bashrc",
    "node_bare",
    "start_npx",
    "start_node",
    "first_1",
    ...noopKeys,
    "noop_all_forks",
    "noop_1_node",
    "smoke_1",
    "backup_db",
    "backup_media",
    "backup_config",
    "ansible_start",
    "ansible_noop",
  ];
  for (const k of order) {
    const c = cases[k];
    if (!c) continue;
    const s0 = c.samples;
    const has = (f: string) => s0.every((s) => s[f] !== undefined);
    let note = "";
    if (k === "ssh_true") note = "baseline";
    if (k.startsWith("noop_") && k !== "noop_1_node") {
      note = `${ratio(c.wall_ms.median / med("noop_1"))} 1 host; per-host ${formatMs(med(k, "host_ms_median"))}`;
      // All of the lab's hosts share this machine's CPUs: the CPU used on both sides over the
      // CPUs there are is a floor for the wall time that a real fleet (a CPU per host) does not have.
      if (k !== "noop_1")
        note += `; CPU floor ${formatMs((c.cpu_ms.median + c.host_cpu_ms.median) / Number(info.nproc))}`;
    }
    if (k === "noop_1_node") note = `vs npx: ${ratio(c.wall_ms.median / med("noop_1"))}`;
    if (k === "first_1") note = `${formatMs(med(k, "host_ms_median"))} on the host, ${s0[0]!.tasks_per_host} tasks`;
    if (k === "smoke_1")
      note = `smoke ${formatMs(med(k, "smoke_ms"))}: ${Object.entries(smokeParts)
        .map(([n, xs]) => `${n} ${formatMs(median(xs))}`)
        .join(", ")}`;
    if (k === "backup_media") note = `${s0[0]!.files} files, ${formatBytes(s0[0]!.bytes)}`;
    if (k === "ansible_noop")
      note = `ours (1 host, ${cases.noop_1?.samples[0]?.tasks_per_host} tasks) is ${ratio(med("noop_1") / c.wall_ms.median)} its time`;
    rows.push([
      c.label,
      formatMs(c.wall_ms.median),
      `${formatMs(c.wall_ms.min)}–${formatMs(c.wall_ms.max)}`,
      formatMs(c.cpu_ms.median),
      Number.isFinite(c.host_cpu_ms.median) && c.host_cpu_ms.median > 0 ? formatMs(c.host_cpu_ms.median) : "-",
      has("commands_max") ? `${median(s0.map((s) => s.commands_max!))}` : "-",
      has("bytes_max") ? formatBytes(median(s0.map((s) => s.bytes_max!))) : "-",
      note,
    ]);
  }
  const out: string[] = [];
  out.push("");
  out.push(
    `Benchmarks (${REPS} reps, medians; ${info.nproc} CPUs ${info.cpu_model}, ${info.memory_gib} GiB; lab of ${HOSTS} hosts up in ${formatMs(labUpMs)})`,
  );
  out.push(textTable(rows, { alignNumbers: true }));
  if (large) {
    out.push("");
    out.push(
      `Large scale on ${h1.name}: ${large.media.files} files, ${formatBytes(large.media.bytes)} of media; ${large.db.rows} rows (${formatBytes(large.db.table_bytes)} table, database ${formatBytes(large.db.db_bytes)})`,
    );
    const lr: string[][] = [["step", "time", "copied", "disk (real)", "apparent", "note"]];
    lr.push(["generate media (not part of the backup)", formatMs(large.media.ms), "-", "-", "-", ""]);
    lr.push(["generate rows (not part of the backup)", formatMs(large.db.ms), "-", "-", "-", ""]);
    lr.push([
      "first media backup (full copy of the new tree)",
      formatMs(large.first_backup.wall_ms),
      formatBytes(large.first_backup.bytes_transferred),
      formatBytes(large.first_backup.disk_after),
      formatBytes(large.first_backup.apparent_after),
      `rsync ${large.first_backup.rsync_seconds} s`,
    ]);
    lr.push([
      `media backup after ${large.incremental.changed_files} files changed (1%), median of ${large.incremental.n}`,
      formatMs(large.incremental.wall_ms),
      formatBytes(large.incremental.bytes_transferred),
      `+${formatBytes(large.incremental.extra_disk_bytes)}`,
      `+${formatBytes(large.incremental.extra_apparent_bytes)}`,
      `changed ${formatBytes(large.incremental.changed_bytes)}; as full copies: +${formatBytes(large.incremental.snapshot_apparent_bytes)}`,
    ]);
    lr.push([
      "media backup with nothing changed",
      formatMs(large.unchanged.wall_ms),
      formatBytes(large.unchanged.bytes_transferred),
      `+${formatBytes(large.unchanged.extra_disk_bytes)}`,
      "-",
      "",
    ]);
    lr.push([
      "sha256 of every file of one snapshot (part of every backup)",
      formatMs(large.hash_tree_ms),
      "-",
      "-",
      "-",
      "",
    ]);
    lr.push([
      `backup-database.sh, ${large.db.rows} rows, median of ${large.db_backup.n}`,
      formatMs(large.db_backup.wall_ms),
      "-",
      formatBytes(large.db_backup.dump_bytes),
      "-",
      "dump size",
    ]);
    lr.push([
      `restore-database.sh --force --target-db (scratch), median of ${large.restore.n}`,
      formatMs(large.restore.wall_ms),
      "-",
      "-",
      "-",
      "then dropped",
    ]);
    out.push(textTable(lr, { alignNumbers: true }));
    out.push(
      `Media backup dir over the run: ${large.disk_series.map((d) => `${d.label} ${formatBytes(d.real)} real / ${formatBytes(d.as_full_copies)} as full copies`).join("; ")}`,
    );
  }
  out.push("");
  out.push("Targets:");
  for (const t of targets) {
    const verdict = t.pass === null ? "n/a " : t.pass ? "PASS" : "MISS";
    out.push(
      `  ${verdict}  ${t.target}: ${t.ratio === null ? "" : `${ratio(t.ratio)} (limit ${ratio(t.limit!)}); `}${t.measured}`,
    );
  }
  out.push("");
  out.push(
    "Anchors: Ansible ~4.6 s for a 10-task no-op play, 1 loopback host, pipelining (issue 5, this machine class);",
  );
  out.push(
    `         pyinfra (published, 2024) 1.27 s / 2.24 s / 6.54 s for 1/25/100 hosts. Ours: ${sets.map((n) => `${formatMs(med(noopKey(n)))} for ${n}`).join(", ")}.`,
  );
  out.push(
    `Note: every remote command (ours, OpenSSH's, Ansible's) runs root's ~/.bashrc, which inits pyenv: ${formatMs(med("bashrc"))} here.`,
  );
  out.push(
    `      The lab's hosts share this machine's ${info.nproc} CPUs with the controller (load average at the start: ${info.loadavg_at_start}, now ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}).`,
  );
  process.stdout.write(`${out.join("\n")}\n`);

  const result = {
    machine: { ...info, loadavg_at_end: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ") },
    options: {
      hosts: HOSTS,
      reps: REPS,
      scale: SCALE,
      ansible: ansibleVersion ?? null,
      forks: FORKS ?? "default (10)",
    },
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    lab: { hosts: HOSTS, up_ms: labUpMs },
    cases,
    smoke_components_ms: Object.fromEntries(Object.entries(smokeParts).map(([k, xs]) => [k, stat(xs)])),
    large: large ?? null,
    targets,
    anchors: {
      ansible_10_task_noop_s: 4.6,
      pyinfra_published_s: { "1": 1.27, "25": 2.24, "100": 6.54 },
      ansible_published_s: { "1": 4.06, "25": 17.7, "100": 64.6 },
    },
  };
  mkdirSync(dirname(JSON_OUT), { recursive: true });
  writeFileSync(JSON_OUT, `${JSON.stringify(result, null, 2)}\n`);
  say(`results written to ${relative(process.cwd(), JSON_OUT) || JSON_OUT}`);
}

// ---- --scale large ---------------------------------------------------------------------------------

const LARGE_BYTES = 1024 ** 3;
const LARGE_FILES = 4000;
const LARGE_ROWS = 1_000_000;

async function largeScale(host: LabHost, backupDir: string) {
  const mediaBackups = join(backupDir, "media");
  const dumps = join(backupDir, "database");
  const before = { media: listEntries(mediaBackups), dumps: listEntries(dumps) };
  const src = join(host.mediaDir, "bench-large");
  const snapshotsApparent = async () => {
    let n = 0;
    for (const e of listEntries(mediaBackups))
      if (/^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/.test(e)) n += await du(join(mediaBackups, e), true);
    return n;
  };
  const diskSeries: { label: string; real: number; apparent: number; as_full_copies: number }[] = [];
  const disk = async (label: string) => {
    const d = {
      label,
      real: await du(mediaBackups),
      apparent: await du(mediaBackups, true),
      as_full_copies: await snapshotsApparent(),
    };
    diskSeries.push(d);
    return d;
  };
  try {
    say(
      `large: writing ~${formatBytes(LARGE_BYTES)} of random bytes in ${LARGE_FILES} files under ${host.name}'s uploads`,
    );
    const media = generateMedia(src, LARGE_BYTES, LARGE_FILES);
    say(`large: generating ${LARGE_ROWS} rows`);
    const db = { rows: LARGE_ROWS, ...(await generateRows(host, LARGE_ROWS)) };

    const backupMedia = async (what: string) => {
      await nextSecond();
      const r = await runScript(host, "backup-media.sh");
      check(r, `backup-media.sh (${what})`);
      return { r, m: latestMediaManifest(backupDir)! };
    };

    say("large: first media backup");
    const d0 = await disk("before");
    const first = await backupMedia("first");
    const d1 = await disk("after the first large backup");
    const firstBackup = {
      wall_ms: first.r.wall_ms,
      cpu_ms: first.r.cpu_ms,
      bytes_transferred: first.m.bytes_transferred as number,
      files_transferred: first.m.files_transferred as number,
      rsync_seconds: first.m.rsync_seconds as number,
      disk_before: d0.real,
      disk_after: d1.real,
      apparent_after: d1.apparent,
    };

    const inc: {
      wall_ms: number;
      cpu_ms: number;
      bytes_transferred: number;
      files_transferred: number;
      rsync_seconds: number;
      changed_files: number;
      changed_bytes: number;
      extra_disk_bytes: number;
      extra_apparent_bytes: number;
      snapshot_apparent_bytes: number;
    }[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const changed = changeFiles(media.files, 0.01);
      say(
        `large: media backup after changing ${changed.files} files (${formatBytes(changed.bytes)}), ${rep + 1}/${REPS}`,
      );
      const b = await disk(`before incremental ${rep + 1}`);
      const r = await backupMedia("incremental");
      const d = await disk(`after incremental ${rep + 1}`);
      inc.push({
        wall_ms: r.r.wall_ms,
        cpu_ms: r.r.cpu_ms,
        bytes_transferred: r.m.bytes_transferred,
        files_transferred: r.m.files_transferred,
        rsync_seconds: r.m.rsync_seconds,
        changed_files: changed.files,
        changed_bytes: changed.bytes,
        extra_disk_bytes: d.real - b.real,
        extra_apparent_bytes: d.apparent - b.apparent,
        snapshot_apparent_bytes: d.as_full_copies - b.as_full_copies,
      });
    }
    const m = (f: keyof (typeof inc)[number]) => median(inc.map((x) => x[f]));
    const incremental = {
      n: inc.length,
      samples: inc,
      wall_ms: m("wall_ms"),
      cpu_ms: m("cpu_ms"),
      bytes_transferred: m("bytes_transferred"),
      files_transferred: m("files_transferred"),
      changed_files: m("changed_files"),
      changed_bytes: m("changed_bytes"),
      extra_disk_bytes: m("extra_disk_bytes"),
      extra_apparent_bytes: m("extra_apparent_bytes"),
      snapshot_apparent_bytes: m("snapshot_apparent_bytes"),
    };

    say("large: media backup with nothing changed");
    const bu = await disk("before the unchanged backup");
    const un = await backupMedia("unchanged");
    const du2 = await disk("after the unchanged backup");
    const unchanged = {
      wall_ms: un.r.wall_ms,
      bytes_transferred: un.m.bytes_transferred as number,
      extra_disk_bytes: du2.real - bu.real,
    };

    const latest = listEntries(mediaBackups)
      .filter((e) => /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/.test(e))
      .pop()!;
    const hashMs = (await hashTree(join(mediaBackups, latest))).wall_ms;

    const dbb: { wall_ms: number; dump_bytes: number }[] = [];
    const restores: number[] = [];
    const restoreReps = Math.min(REPS, 3);
    for (let rep = 0; rep < restoreReps; rep++) {
      say(`large: database backup and restore ${rep + 1}/${restoreReps}`);
      await nextSecond();
      const r = await runScript(host, "backup-database.sh");
      check(r, "backup-database.sh (large)");
      const dump = latestDump(backupDir)!;
      dbb.push({ wall_ms: r.wall_ms, dump_bytes: await du(join(dumps, dump), true) });
      await nextSecond();
      const scratch = "bench_restore";
      try {
        const rr = await runScript(host, "restore-database.sh", [join(dumps, dump), "--force", "--target-db", scratch]);
        check(rr, "restore-database.sh (large)");
        restores.push(rr.wall_ms);
      } finally {
        await dropDatabase(host, scratch);
      }
    }
    return {
      media: { files: media.files.length, bytes: media.bytes, ms: media.ms },
      db,
      first_backup: firstBackup,
      incremental,
      unchanged,
      hash_tree_ms: hashMs,
      db_backup: {
        n: dbb.length,
        samples: dbb,
        wall_ms: median(dbb.map((x) => x.wall_ms)),
        dump_bytes: median(dbb.map((x) => x.dump_bytes)),
      },
      restore: { n: restores.length, samples: restores, wall_ms: median(restores) },
      disk_series: diskSeries,
    };
  } finally {
    say("large: removing the generated media, its snapshots, the dumps and the table");
    rmSync(src, { recursive: true, force: true });
    removeNew(mediaBackups, before.media);
    removeNew(dumps, before.dumps);
    await dropLargeTable(host).catch(() => undefined);
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`bench: failed: ${(e as Error).stack ?? e}\n`);
  code = 2;
} finally {
  await cleanup();
}
process.exit(code);
