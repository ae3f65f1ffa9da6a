// Planning against this machine's real filesystem with the default (empty) prefix: what a fresh
// production Debian host looks like to the facts command (read-only: stat and sha256sum only).
import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { createRenderer } from "../../src/render/render.ts";
import { desiredState } from "../../src/backup/desired.ts";
import { factsScript, planHost, selected } from "../../src/run/plan.ts";
import { testVars } from "../helpers/vars.ts";

describe("planHost on a real Debian root filesystem", () => {
  for (const backup_user of ["root", "nobody"]) {
    it(`plans without errors for backup_user ${backup_user} (system dirs such as /var/run -> /run are only required to exist)`, async () => {
      const vars = testVars({ prefix: "", db: { port: 5432, password: "x" }, overrides: { backup_user } });
      const state = desiredState(vars, createRenderer());
      const { stdout } = await execa("bash", ["-s"], { input: factsScript(state) });
      const plan = planHost(state, stdout, { backupDir: vars.paths.backup_dir });
      expect(plan.filter((p) => p.error)).toEqual([]);
      const cronDir = plan.find((p) => p.id === "dir:/etc/cron.d")!;
      expect(cronDir.changed).toBe(false);
      expect(cronDir.reason).toContain("system directory");
      if (backup_user === "root") expect(plan.find((p) => p.id === "dir:/var/run")!.changed).toBe(false);
    });
  }
});

describe("tag selection", () => {
  it("an explicit empty selection selects nothing; no --tags selects all", () => {
    expect(selected(["config"], {})).toBe(true);
    expect(selected(["config"], { tags: ["config"] })).toBe(true);
    expect(selected(["dirs"], { tags: ["config"] })).toBe(false);
    expect(selected(["config", "cron"], { tags: ["config"], skipTags: ["cron"] })).toBe(false);
    expect(selected(["config"], { tags: [] })).toBe(false);
  });
});
