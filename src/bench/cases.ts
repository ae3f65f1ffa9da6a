// The cases the bench measures, each a named function that runs once and returns one sample; the
// run repeats them (the side-by-side ones interleaved, in a rotating order) and keeps the medians.
// A new figure is one more case here (and, if it has a target, one entry in targets.ts).
import type { LabHost, LabState } from "../lab/lab.ts";
import type { BenchOptions } from "./args.ts";
import { runAnsible, type AnsibleSetup } from "./ansible.ts";
import { latestMediaManifest, runScript } from "./hostops.ts";
import { check, nextSecond, timed } from "./measure.ts";
import {
  noopChanges,
  provisionSample,
  writeSubsetInventory,
  type Launcher,
  type ProvisionRunner,
} from "./provision.ts";
import { noopKey, noopSets, sample, type CaseSample } from "./results.ts";

export interface CaseRun {
  sample: CaseSample;
  /** What a no-op run changed (each "host: status: task"); empty on a real no-op. */
  notNoop?: string[];
  /** Durations of the parts of the case (the smoke test's components), ms. */
  components?: Record<string, number>;
}

export interface BenchCase {
  key: string;
  label: string;
  run: () => Promise<CaseRun>;
}

export interface BenchContext {
  repo: string;
  lab: LabState;
  opts: BenchOptions;
  provision: ProvisionRunner;
  /** Inventories of lab1..labN for each no-op fleet size N. */
  invs: Map<number, string>;
  say: (line: string) => void;
}

export const pidsOf = (hs: LabHost[]): number[] => hs.map((h) => h.sshdPid).filter((p): p is number => p !== null);

/** An inventory of the first N lab hosts for each fleet size the no-op is measured on. */
export function noopInventories(lab: LabState, hosts: number): Map<number, string> {
  return new Map(
    noopSets(hosts).map((n) => [
      n,
      writeSubsetInventory(
        lab,
        `${n}`,
        lab.hosts.slice(0, n).map((h) => h.name),
      ),
    ]),
  );
}

/** First provision: one fresh host per repetition (lab1..labR), each its own inventory. */
export function firstProvisionCases(ctx: BenchContext): BenchCase[] {
  return ctx.lab.hosts.slice(0, Math.min(ctx.opts.reps, ctx.opts.hosts)).map((h) => ({
    key: "first_1",
    label: "first provision, 1 host (--skip-smoke)",
    run: async () => {
      const inv = writeSubsetInventory(ctx.lab, `first-${h.name}`, [h.name]);
      ctx.say(`first provision of ${h.name}`);
      const s = provisionSample(await ctx.provision(inv, ["--skip-smoke"], pidsOf([h])));
      if (s.changed_hosts !== 1) throw new Error(`first provision of ${h.name} changed nothing: was the host fresh?`);
      return { sample: s };
    },
  }));
}

function sshArgs(lab: LabState, h: LabHost): string[] {
  return [
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
}

interface CommandCase {
  key: string;
  label: string;
  cmd: string;
  args: string[];
  opts?: Parameters<typeof timed>[2];
  /** What a failure names; with the exit codes that are fine (none: any exit is). */
  what?: string;
  okCodes?: number[];
}

/** A command measured as it is, failing the bench unless it exits with one of `okCodes`. */
function commandCase({ key, label, cmd, args, opts = {}, what, okCodes = [0] }: CommandCase): BenchCase {
  return {
    key,
    label,
    run: async () => {
      const r = await timed(cmd, args, opts);
      if (what) check(r, what, okCodes);
      return { sample: sample(r) };
    },
  };
}

/** The cases measured side by side, interleaved in every repetition: baselines, CLI starts, no-ops, Ansible. */
export function sideBySideCases(ctx: BenchContext, ansible?: AnsibleSetup): BenchCase[] {
  const { lab, repo, opts } = ctx;
  const h1 = lab.hosts[0]!;
  const noop = (key: string, label: string, n: number, launcher: Launcher = "cep", forks?: number): BenchCase => ({
    key,
    label,
    run: async () => {
      const r = await ctx.provision(ctx.invs.get(n)!, ["--skip-smoke"], pidsOf(lab.hosts.slice(0, n)), launcher, forks);
      return { sample: provisionSample(r), notNoop: noopChanges(r) };
    },
  });
  const cases: BenchCase[] = [
    {
      key: "ssh_true",
      label: "OpenSSH `ssh host true` (one fresh connection)",
      cmd: "ssh",
      args: [...sshArgs(lab, h1), "true"],
      opts: { hostPids: pidsOf([h1]) },
      what: "ssh host true",
    },
    {
      key: "bashrc",
      label: "root's ~/.bashrc (pyenv init), run by every remote command",
      cmd: "bash",
      args: ["-c", '. "$HOME/.bashrc"'],
      what: "bash ~/.bashrc",
    },
    { key: "node_bare", label: "node -e 0 (Node.js alone)", cmd: "node", args: ["-e", "0"] },
    // --help may exit 0 or 1: either way the CLI has started, which is what is measured.
    {
      key: "start_cep",
      label: "CLI start: node bin/cep.mjs provision --help (the bundle)",
      cmd: "node",
      args: ["bin/cep.mjs", "provision", "--help"],
      opts: { cwd: repo },
      what: "provision --help",
      okCodes: [0, 1],
    },
  ].map(commandCase);
  cases.push(
    ...noopSets(opts.hosts).map((n) =>
      noop(noopKey(n), `no-op re-provision, ${n} host${n > 1 ? "s" : ""} (--skip-smoke)`, n),
    ),
    ...(opts.hosts > 10
      ? [
          noop(
            "noop_all_forks",
            `no-op re-provision, ${opts.hosts} hosts, --forks ${opts.hosts} (one wave)`,
            opts.hosts,
            "cep",
            opts.hosts,
          ),
        ]
      : []),
    noop("noop_1_npm", "no-op re-provision, 1 host, `npm run provision` (the README's command)", 1, "npm"),
  );
  if (ansible)
    cases.push(
      commandCase({
        key: "ansible_start",
        label: "Ansible start: ansible-playbook --version",
        cmd: "ansible-playbook",
        args: ["--version"],
        what: "ansible-playbook --version",
      }),
      {
        key: "ansible_noop",
        label: "Ansible: 10-task no-op play, 1 host (pipelining)",
        run: async () => {
          const r = await runAnsible(ansible, pidsOf([h1]));
          check(r, "ansible-playbook");
          if (r.changed !== 0) throw new Error(`the Ansible play changed ${r.changed} tasks on a no-op run`);
          return { sample: { wall_ms: r.wall_ms, cpu_ms: r.cpu_ms, host_cpu_ms: r.host_cpu_ms, tasks: r.ok } };
        },
      },
    );
  return cases;
}

/** Provision of lab1 with the smoke test: a no-op plus the smoke command, with its components. */
export function smokeCase(ctx: BenchContext): BenchCase {
  return {
    key: "smoke_1",
    label: "provision with smoke, 1 host (no-op + smoke test)",
    run: async () => {
      await nextSecond();
      const r = await ctx.provision(ctx.invs.get(1)!, [], pidsOf([ctx.lab.hosts[0]!]));
      const host = r.report.hosts[0];
      const bad = Object.entries(host.smoke ?? {}).filter(([, c]: [string, any]) => c.status !== "passed");
      if (bad.length) throw new Error(`smoke failed: ${JSON.stringify(bad)}`);
      const comps = Object.entries(host.smoke as Record<string, { duration_ms: number }>);
      return {
        sample: { ...provisionSample(r), smoke_ms: comps.reduce((n, [, c]) => n + c.duration_ms, 0) },
        components: Object.fromEntries(comps.map(([k, c]) => [k, c.duration_ms])),
      };
    },
  };
}

/** The backup scripts on the seeded data of lab1, as cron runs them (a fresh second before each). */
export function backupCases(ctx: BenchContext, backupDir: string): BenchCase[] {
  const h1 = ctx.lab.hosts[0]!;
  return (
    [
      ["backup_db", "backup-database.sh", "backup-database.sh, seeded data"],
      ["backup_media", "backup-media.sh", "backup-media.sh, seeded uploads"],
      ["backup_config", "backup-config.sh", "backup-config.sh, seeded config files"],
    ] as const
  ).map(([key, script, label]) => ({
    key,
    label,
    run: async () => {
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
      return { sample: { wall_ms: r.wall_ms, cpu_ms: r.cpu_ms, ...extra } };
    },
  }));
}
