// The lab's sshd-only mode (the bench's many-host no-op): hosts with their sshd and their tree but
// no PostgreSQL cluster, which provision (without the smoke test) installs and then leaves alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { labDown, labUp, LabError, readLabState, type LabState } from "../../src/lab/lab.ts";
import { livePgPid, liveSshdPid } from "../../src/lab/hosts.ts";
import { freePort } from "../helpers/ports.ts";
import { cli } from "../helpers/lab.ts";

let dir: string;
let state: LabState;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cep-lab-sshonly-"));
  state = await labUp({ dir, hosts: 2, sshBasePort: await freePort(), pgBasePort: await freePort(), sshOnly: true });
});

afterAll(async () => {
  if (dir) {
    await labDown(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("lab --ssh-only", () => {
  it("starts sshd per host and no PostgreSQL, and says so in state.json", async () => {
    expect(readLabState(dir)?.sshOnly).toBe(true);
    for (const h of state.hosts) {
      expect(liveSshdPid(h)).toBe(h.sshdPid);
      expect(livePgPid(h)).toBeUndefined();
      expect(existsSync(h.pgDataDir)).toBe(false);
      const r = await execa(
        "ssh",
        [
          "-F",
          "/dev/null",
          "-i",
          state.files.privateKey,
          "-o",
          "BatchMode=yes",
          "-o",
          `UserKnownHostsFile=${state.files.knownHosts}`,
          "-p",
          String(h.sshPort),
          `${h.user}@127.0.0.1`,
          "echo ok",
        ],
        { stdin: "ignore", reject: false },
      );
      expect(r.stdout).toBe("ok");
    }
  });

  it("takes a provision without the smoke test, and a re-run is a no-op", async () => {
    const first = await cli("provision", [state.files.inventory, "--skip-smoke"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.report.hosts.map((h: any) => h.status)).toEqual(["changed", "changed"]);
    const again = await cli("provision", [state.files.inventory, "--skip-smoke"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.report.hosts.map((h: any) => [h.status, h.commands])).toEqual([
      ["ok", 1],
      ["ok", 1],
    ]);
  });

  it("refuses to grow an sshd-only lab with PostgreSQL hosts (and the reverse)", async () => {
    await expect(labUp({ dir, hosts: 3 })).rejects.toThrow(LabError);
    await expect(labUp({ dir, hosts: 3 })).rejects.toThrow(/started with sshd only: take it down first/);
    expect(readLabState(dir)?.hosts).toHaveLength(2);
  });
});
