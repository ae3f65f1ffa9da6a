// A lab for one test file: real sshd + PostgreSQL hosts in a temp dir on free ports, the CLI run for
// real against it, inventories derived from the lab's own.
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import YAML from "yaml";
import { labUp, labDown, type LabState } from "../../src/lab/lab.ts";
import { freePort } from "./ports.ts";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The CLI's one entry point, as the npm scripts run it: `node bin/cep.mjs <command> ...` (the bundle). */
export const CLI = join(REPO, "bin", "cep.mjs");

export interface TestLab {
  state: LabState;
  dir: string;
  /** The lab's inventory, parsed, for deriving variants. */
  inventory(): any;
  /** Write a variant inventory beside the lab's (so its relative paths still resolve). */
  writeInventory(name: string, inv: unknown): string;
  down(): Promise<void>;
}

export async function startTestLab(hosts: number): Promise<TestLab> {
  const dir = mkdtempSync(join(tmpdir(), "cep-lab-"));
  // Consecutive ports from a free one; the lab checks each port itself.
  const state = await labUp({ dir, hosts, sshBasePort: await freePort(), pgBasePort: await freePort() });
  return {
    state,
    dir,
    inventory: () => YAML.parse(readFileSync(state.files.inventory, "utf8")),
    writeInventory(name, inv) {
      const f = join(dir, name);
      writeFileSync(f, YAML.stringify(inv));
      return f;
    },
    async down() {
      await labDown(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  report?: any;
}

/** Run a command through the CLI's real entry point (what `npm run <command>` runs), with a --json report. */
export async function cli(
  playbook: string,
  args: string[],
  opts: { env?: Record<string, string> } = {},
): Promise<CliResult> {
  const json = reportPath();
  const r = await execa(process.execPath, [CLI, playbook, ...args, "--json", json], {
    cwd: REPO,
    reject: false,
    env: { ...opts.env },
    stdin: "ignore",
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, report: readReport(json) };
}

/** A fresh path for a CLI run's `--json` report. */
export function reportPath(): string {
  return join(mkdtempSync(join(tmpdir(), "cep-report-")), "report.json");
}

/** The `--json` report a CLI run wrote, or undefined when it wrote none (or not valid JSON). */
export function readReport(json: string): any {
  try {
    return JSON.parse(readFileSync(json, "utf8"));
  } catch {
    return undefined;
  }
}
