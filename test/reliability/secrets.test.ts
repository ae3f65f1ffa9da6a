// Secrets on the lab: a full provision (with its smoke test), --check --diff, status and a scratch
// drill with a known database password (from the age vault), a webhook token and the vault's age
// identity. Afterwards none of them is in stdout, stderr, the JSON and drill reports, `ps` samples
// taken every 50 ms during the runs, or any file of the host tree except the 0600 files meant to
// hold them. Then the modes and owners of the fresh host against the spec.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readFileSync, readdirSync, lstatSync, statSync } from "node:fs";
import { join } from "node:path";
import { startTestLab, cli, type TestLab, type CliResult } from "../helpers/lab.ts";
import { labDbPassword } from "../../src/lab/lab.ts";

let lab: TestLab;
const TOKEN = "xoxb-SECRETWEBHOOKTOKEN-4242";
const env = { CEP_REL_WEBHOOK: `https://hooks.example.com/services/T0/B0/${TOKEN}` };
let secrets: Record<string, string>;
const samples = new Set<string>();
let sampler: NodeJS.Timeout | undefined;

beforeAll(async () => {
  lab = await startTestLab(1);
  const identity = readFileSync(join(lab.dir, "vault-key.txt"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
  const password = await labDbPassword(lab.dir);
  // The pgpass file escapes : and \ — the escaped form is searched for too.
  secrets = { password, pgpassPassword: password.replace(/[\\:]/g, (c) => `\\${c}`), token: TOKEN, identity };
  expect(secrets.password!.length).toBeGreaterThan(8);
  expect(identity).toMatch(/^AGE-SECRET-KEY-1/);
});
afterAll(async () => {
  if (sampler) clearInterval(sampler);
  await lab?.down();
});

function sample(): void {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      samples.add(readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").join(" "));
    } catch {
      // gone
    }
  }
}

/** Every regular file under `dir` (symlinks not followed). */
function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const st = lstatSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile()) out.push(p);
  }
  return out;
}

describe("secrets", () => {
  it("provision + smoke, --check --diff, status and a scratch drill leave no secret outside the 0600 files meant for them", async () => {
    const base = lab.inventory();
    base.vars.alerts = { slack_webhook: { env: "CEP_REL_WEBHOOK" } };
    const inv = lab.writeInventory("secrets.yml", base);
    sampler = setInterval(sample, 50);
    const runs: [string, CliResult][] = [];
    const run = async (playbook: string, args: string[]) => {
      const r = await cli(playbook, args, { env });
      runs.push([`${playbook} ${args.slice(1).join(" ")}`, r]);
      return r;
    };
    const p = await run("provision", [inv]);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const d = await run("provision", [
      inv,
      "--check",
      "--diff",
      "-e",
      "database.port=6543",
      "-e",
      "retention.daily_days=9",
    ]);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain("(secret file: content changed, diff masked)");
    const s = await run("status", [inv]);
    expect(s.code, s.stdout).toBe(0);
    const dr = await run("drill", [inv, "--force"]);
    expect(dr.code, dr.stdout + dr.stderr).toBe(0);
    clearInterval(sampler);
    sampler = undefined;
    sample();

    const leaks: string[] = [];
    const look = (where: string, text: string | Buffer) => {
      for (const [name, v] of Object.entries(secrets))
        if ((typeof text === "string" ? text : text.toString("latin1")).includes(v)) leaks.push(`${name} in ${where}`);
    };
    for (const [what, r] of runs) {
      look(`${what} stdout`, r.stdout);
      look(`${what} stderr`, r.stderr);
      look(`${what} --json report`, JSON.stringify(r.report ?? {}));
    }
    for (const f of dr.report.drill.report_files ? Object.values<string>(dr.report.drill.report_files) : [])
      look(f, readFileSync(f));
    for (const a of samples) look(`ps: ${a.slice(0, 80)}`, a);

    // Every file of the host tree (scripts, configs, logs, backups, reports, state), except the
    // 0600 files meant to hold a secret.
    const h = lab.state.hosts[0]!;
    const etc = `${h.prefix}/etc/cepcomunicacion`;
    const meant: Record<string, string[]> = {
      [`${etc}/backup.pgpass`]: ["pgpassPassword"],
      [`${etc}/backup.conf`]: ["token"],
    };
    let files = 0;
    for (const f of walk(h.prefix)) {
      files++;
      const text = readFileSync(f);
      for (const [name, v] of Object.entries(secrets)) {
        if (!text.toString("latin1").includes(v)) continue;
        if (meant[f]?.includes(name)) expect(statSync(f).mode & 0o777, f).toBe(0o600);
        else leaks.push(`${name} in ${f}`);
      }
    }
    for (const [f, names] of Object.entries(meant))
      for (const n of names) expect(readFileSync(f, "utf8"), `${n} where it belongs`).toContain(secrets[n]!);
    console.log(
      `[reliability] secrets: ${Object.keys(secrets).length} secrets, ${runs.length} runs, ${samples.size} distinct ps command lines, ${files} host files scanned, ${leaks.length} leaks`,
    );
    expect(leaks).toEqual([]);
  });

  it("a fresh host's modes and owners are the spec's (beyond what test/e2e/provision.test.ts checks)", () => {
    const h = lab.state.hosts[0]!;
    const b = `${h.prefix}/var/backups/cepcomunicacion`;
    const mode = (p: string) => statSync(p).mode & 0o7777;
    const owner = (p: string) => `${statSync(p).uid}:${statSync(p).gid}`;
    // Every directory of the backup tree is private; every backup file in it 0600; all root's.
    // (Media snapshots keep the uploads' own modes inside their 0700 directories.)
    for (const f of walk(b).filter((x) => !/\/media\/(pre-restore\/)?[^/]+\//.test(x))) {
      expect(mode(f), f).toBe(f.endsWith(".lock") ? mode(f) & 0o600 : 0o600);
      expect(owner(f), f).toBe("0:0");
    }
    const dirs = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .flatMap((e) => [join(d, e.name), ...dirs(join(d, e.name))]);
    for (const d of [b, ...dirs(b).filter((x) => !/\/media\/\d{4}-|\/media\/pre-restore\/./.test(x))]) {
      expect(mode(d), d).toBe(0o700);
      expect(owner(d), d).toBe("0:0");
    }
    expect(owner(`${h.prefix}/etc/cepcomunicacion/backup.conf`)).toBe("0:0");
    expect(mode(`${h.prefix}/etc/cepcomunicacion`)).toBe(0o755);
    for (const f of readdirSync(`${h.prefix}/var/log/cepcomunicacion`)) {
      const m = mode(`${h.prefix}/var/log/cepcomunicacion/${f}`);
      expect(m & 0o002, `${f} is not world-writable`).toBe(0);
    }
  });
});
