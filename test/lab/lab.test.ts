// The lab end to end: real sshd and PostgreSQL processes on loopback, reached with the real ssh
// client and psql. One lab (2 hosts, grown to 3) in a temp dir; torn down at the end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { inventorySchema } from "../../src/inventory/schema.ts";
import { pgpassField } from "../../src/render/quote.ts";
import {
  ensureLabFor,
  labDbPassword,
  labDown,
  labStatus,
  labUp,
  readLabState,
  type LabState,
} from "../../src/lab/lab.ts";
import { COLLECTIONS, SEED_ROW_COUNTS, UPLOAD_FILES, CONFIG_FILES } from "../../src/lab/seed.ts";
import { freePort } from "../helpers/ports.ts";
import { CLI } from "../helpers/lab.ts";

/** Running (a zombie waiting for init to reap it has exited: not running). */
const alive = (pid: number | null) => {
  if (pid === null) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
};

const labCli = (...args: string[]) => execa(process.execPath, [CLI, "lab", ...args], { reject: false });

let dir: string;
let state: LabState;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cep-lab-test-"));
  state = await labUp({ dir, hosts: 2, sshBasePort: await freePort(), pgBasePort: await freePort() });
});

afterAll(async () => {
  if (dir) {
    await labDown(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

function ssh(port: number, user: string, knownHosts: string, command: string) {
  return execa(
    "ssh",
    [
      "-F",
      "/dev/null",
      "-i",
      join(dir, "id_ed25519"),
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${knownHosts}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "ConnectTimeout=5",
      "-p",
      String(port),
      `${user}@127.0.0.1`,
      command,
    ],
    { stdin: "ignore", reject: false },
  );
}

describe("lab", () => {
  it("starts two hosts with distinct ports and live processes", () => {
    expect(state.hosts.map((h) => h.name)).toEqual(["lab1", "lab2"]);
    const ports = state.hosts.flatMap((h) => [h.sshPort, h.pgPort]);
    expect(new Set(ports).size).toBe(4);
    for (const h of state.hosts) {
      expect(alive(h.sshdPid)).toBe(true);
      expect(alive(h.pgPid)).toBe(true);
    }
    expect(readLabState(dir)?.hosts.length).toBe(2);
  });

  it("writes an inventory that validates against the inventory schema", () => {
    const doc = YAML.parse(readFileSync(join(dir, "inventory.yml"), "utf8"));
    const inv = inventorySchema.parse(doc);
    expect(inv.environment).toBe("lab");
    expect(inv.known_hosts).toBe("./known_hosts");
    expect(inv.vault).toEqual({ file: "./vault.age", identity_file: "./vault-key.txt" });
    expect(inv.vars.database).toEqual({
      host: "127.0.0.1",
      name: "cepcomunicacion",
      user: "cepcomunicacion",
      password: { vault: "lab_db_password" },
    });
    for (const h of state.hosts) {
      const ih = inv.hosts[h.name]!;
      expect(ih.ssh).toMatchObject({ host: "127.0.0.1", port: h.sshPort, user: h.user, private_key: "./id_ed25519" });
      expect(ih.vars).toEqual({ prefix: h.prefix, database: { port: h.pgPort } });
    }
    const kh = readFileSync(join(dir, "known_hosts"), "utf8").trim().split("\n");
    expect(kh).toEqual(state.hosts.map((h) => `[127.0.0.1]:${h.sshPort} ${h.hostKeyPub}`));
    for (const line of kh) expect(line).toMatch(/^\[127\.0\.0\.1\]:\d+ ssh-ed25519 [A-Za-z0-9+/=]+$/);
  });

  it("keeps the database password in an age vault the age CLI opens, full of metacharacters", async () => {
    const r = await execa("age", ["-d", "-i", join(dir, "vault-key.txt"), join(dir, "vault.age")]);
    const pw = YAML.parse(r.stdout).lab_db_password as string;
    expect(pw).toBe(await labDbPassword(dir));
    for (const c of [":", "\\", "'", '"', "$", "!", " "]) expect(pw).toContain(c);
    expect(readFileSync(join(dir, "inventory.yml"), "utf8")).not.toContain(pw);
    expect(readFileSync(join(dir, "state.json"), "utf8")).not.toContain(pw);
  });

  it("lets the real ssh client in with strict host key checking, and each host has its own key", async () => {
    const kh = join(dir, "known_hosts");
    const results = await Promise.all(state.hosts.map((h) => ssh(h.sshPort, h.user, kh, "echo hello from $(id -un)")));
    for (const [i, r] of results.entries()) {
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe(`hello from ${state.hosts[i]!.user}`);
    }
    // lab1's port with lab2's key recorded: the client must refuse.
    const [a, b] = state.hosts;
    const swapped = join(dir, "known_hosts.swapped");
    writeFileSync(swapped, `[127.0.0.1]:${a!.sshPort} ${b!.hostKeyPub}\n`);
    const bad = await ssh(a!.sshPort, a!.user, swapped, "true");
    expect(bad.exitCode).toBe(255);
    expect(bad.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    rmSync(swapped);
  });

  it("serves the seeded app database over TCP with the password from a pgpass file", async () => {
    const pw = await labDbPassword(dir);
    const pgpass = join(dir, "test.pgpass");
    writeFileSync(
      pgpass,
      state.hosts.map((h) => `127.0.0.1:${h.pgPort}:cepcomunicacion:cepcomunicacion:${pgpassField(pw)}\n`).join(""),
      { mode: 0o600 },
    );
    const sql = `SELECT table_name || '=' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text
                   FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1;
                 SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public';`;
    for (const h of state.hosts) {
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        PGPASSFILE: pgpass,
        PGCONNECT_TIMEOUT: "5",
      };
      const r = await execa(
        "psql",
        [
          "-X",
          "-At",
          "-v",
          "ON_ERROR_STOP=1",
          "-h",
          "127.0.0.1",
          "-p",
          String(h.pgPort),
          "-U",
          "cepcomunicacion",
          "-d",
          "cepcomunicacion",
          "-f",
          "-",
        ],
        {
          input: sql,
          env,
          extendEnv: false,
        },
      );
      const lines = r.stdout.trim().split("\n");
      expect(lines.at(-1)).toBe("cepcomunicacion");
      const counts = Object.fromEntries(
        lines
          .slice(0, -1)
          .map((l) => l.split("=") as [string, string])
          .map(([t, n]) => [t, Number(n)]),
      );
      const withRows = Object.entries(counts).filter(([, n]) => n > 0);
      expect(withRows.length).toBeGreaterThanOrEqual(14);
      for (const c of COLLECTIONS) expect(counts[c]).toBe(SEED_ROW_COUNTS[c]);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBeGreaterThan(300);
    }
    rmSync(pgpass);
  });

  it("gives each host an uploads folder (non-ASCII names, junk to exclude) and the spec's config files", () => {
    expect(UPLOAD_FILES.length).toBeGreaterThanOrEqual(45);
    for (const h of state.hosts) {
      const media = join(h.prefix, "var/www/cepcomunicacion/uploads");
      expect(h.mediaDir).toBe(media);
      expect(existsSync(join(media, "images", "año-ñandú.jpg"))).toBe(true);
      expect(readdirSync(join(media, "images"))).toContain("año-ñandú.jpg".normalize("NFC"));
      expect(existsSync(join(media, ".DS_Store"))).toBe(true);
      expect(existsSync(join(media, "documents/x.tmp"))).toBe(true);
      for (const f of UPLOAD_FILES) expect(readFileSync(join(media, f.path)).length).toBe(f.bytes);
      for (const f of CONFIG_FILES) expect(existsSync(join(h.appDir, f))).toBe(true);
    }
  });

  it("reuses running processes on a second up and grows from 2 to 3 hosts", async () => {
    const before = state.hosts.map((h) => [h.sshdPid, h.pgPid]);
    const again = await labUp({ dir, hosts: 3 });
    expect(again.hosts.map((h) => h.name)).toEqual(["lab1", "lab2", "lab3"]);
    expect(again.hosts.slice(0, 2).map((h) => [h.sshdPid, h.pgPid])).toEqual(before);
    expect(again.hosts.slice(0, 2).map((h) => [h.sshPort, h.pgPort])).toEqual(
      state.hosts.map((h) => [h.sshPort, h.pgPort]),
    );
    const lab3 = again.hosts[2]!;
    expect(alive(lab3.sshdPid) && alive(lab3.pgPid)).toBe(true);
    const r = await ssh(lab3.sshPort, lab3.user, join(dir, "known_hosts"), "true");
    expect(r.exitCode).toBe(0);
    inventorySchema.parse(YAML.parse(readFileSync(join(dir, "inventory.yml"), "utf8")));
    state = again;
  });

  it("reports every host alive in status", () => {
    const st = labStatus(dir);
    expect(st.map((s) => [s.name, s.sshd, s.postgres])).toEqual([
      ["lab1", true, true],
      ["lab2", true, true],
      ["lab3", true, true],
    ]);
  });

  it("prints a status table from the CLI and rejects bad arguments with usage", async () => {
    const ok = await labCli("status", "--dir", dir);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(/lab1\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+\s+up\s+up/);
    const bad = await labCli("up", "--hosts", "zero");
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/Usage: npm run lab/);
  });

  it("ensureLabFor leaves other inventories alone and reuses a running lab for `lab`", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "cep-lab-cwd-"));
    try {
      expect(await ensureLabFor("prod", cwd)).toBeUndefined();
      expect(existsSync(join(cwd, ".lab"))).toBe(false);
      symlinkSync(dir, join(cwd, ".lab"));
      const lines: string[] = [];
      const st = await ensureLabFor("lab", cwd, (l) => lines.push(l));
      expect(st?.hosts.map((h) => h.sshdPid)).toEqual(state.hosts.map((h) => h.sshdPid));
      expect(lines).toEqual([]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it("stops everything by PID on down and removes the state", async () => {
    const pids = state.hosts.flatMap((h) => [h.sshdPid, h.pgPid]);
    const t = Date.now();
    const names = await labDown(dir);
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(names).toEqual(["lab1", "lab2", "lab3"]);
    for (const p of pids) expect(alive(p)).toBe(false);
    expect(existsSync(join(dir, "state.json"))).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(labStatus(dir)).toEqual([]);
    expect(await labDown(dir)).toEqual([]);
  });
});
