// The Ansible side of the bench: bench/ansible/noop.yml against one lab host over the same sshd,
// with pipelining on and no fact gathering. Each measured run gets a fresh SSH control master
// (its ControlPersist master is closed after the run), so it pays one connection, as our CLI does.
import { execa } from "execa";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import type { LabHost, LabState } from "../lab/lab.ts";
import { check, timed, type RunResult } from "./measure.ts";

export interface AnsibleSetup {
  playbook: string;
  inventory: string;
  cwd: string;
  env: Record<string, string>;
  controlDir: string;
  version: string;
}

export async function ansibleAvailable(): Promise<string | undefined> {
  try {
    const r = await execa("ansible-playbook", ["--version"], { stdin: "ignore" });
    return r.stdout.split("\n")[0]?.trim();
  } catch {
    return undefined;
  }
}

export function setupAnsible(
  lab: LabState,
  host: LabHost,
  playbook: string,
  workDir: string,
  version: string,
): AnsibleSetup {
  mkdirSync(workDir, { recursive: true });
  const controlDir = join(workDir, "cp");
  const inv = {
    lab: {
      hosts: {
        [host.name]: {
          ansible_host: "127.0.0.1",
          ansible_port: host.sshPort,
          ansible_user: host.user,
          ansible_ssh_private_key_file: lab.files.privateKey,
          ansible_ssh_common_args: `-o UserKnownHostsFile=${lab.files.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
          ansible_python_interpreter: "/usr/bin/python3",
          bench_root: join(host.dir, "ansible-root"),
          bench_src: host.prefix,
        },
      },
    },
  };
  const inventory = join(workDir, "inventory.yml");
  writeFileSync(inventory, YAML.stringify(inv));
  const env: Record<string, string> = {
    ANSIBLE_PIPELINING: "True",
    ANSIBLE_HOST_KEY_CHECKING: "True",
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_RETRY_FILES_ENABLED: "False",
    ANSIBLE_LOCAL_TEMP: join(workDir, "tmp"),
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
    ANSIBLE_DEPRECATION_WARNINGS: "False",
    ANSIBLE_COMMAND_WARNINGS: "False",
  };
  return { playbook, inventory, cwd: workDir, env, controlDir, version };
}

/** Close the ControlPersist masters a run left behind (they would serve the next run for free). */
export async function closeMasters(a: AnsibleSetup): Promise<void> {
  if (!existsSync(a.controlDir)) return;
  for (const f of readdirSync(a.controlDir)) {
    await execa("ssh", ["-S", join(a.controlDir, f), "-O", "exit", "dummy"], { reject: false, stdin: "ignore" });
  }
}

export interface AnsibleRun extends RunResult {
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
}

export async function runAnsible(a: AnsibleSetup, hostPids: number[]): Promise<AnsibleRun> {
  // The master's session (and its CPU on the host) ends when the master is closed.
  const r = await timed("ansible-playbook", ["-i", a.inventory, a.playbook], {
    cwd: a.cwd,
    env: a.env,
    hostPids,
    afterExit: () => closeMasters(a),
  });
  const m = /ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(r.stdout);
  return {
    ...r,
    ok: Number(m?.[1] ?? 0),
    changed: Number(m?.[2] ?? 0),
    unreachable: Number(m?.[3] ?? 0),
    failed: Number(m?.[4] ?? (r.code === 0 ? 0 : 1)),
  };
}

/** Converge the play, then prove it is a 10-task no-op (what the bench measures is its no-op run). */
export async function convergeAnsible(a: AnsibleSetup, hostPids: number[]): Promise<void> {
  check(await runAnsible(a, hostPids), "ansible-playbook (first run)");
  const again = await runAnsible(a, hostPids);
  check(again, "ansible-playbook (second run)");
  if (again.changed !== 0 || again.ok !== 10)
    throw new Error(`the Ansible play is not a 10-task no-op: ok=${again.ok} changed=${again.changed}`);
}
