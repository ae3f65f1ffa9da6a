// The backups and restore commands' options: parsed and validated at the edge (names that reach
// paths or SQL included), refused by the jobs that do not take them, and the restore's own rules.
import { describe, it, expect } from "vitest";
import { parseCommonArgs } from "../../src/cli/options.ts";
import { parseJobArgs } from "../../src/cli/commands.ts";
import { InputError } from "../../src/errors.ts";
import { backupsJob } from "../../src/backups/job.ts";
import { restoreArgProblems, restoreJob } from "../../src/restore/job.ts";
import { statusJob } from "../../src/status/job.ts";

const parse = (...a: string[]) => parseCommonArgs(a, "usage");
const problems = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as InputError).problems;
  }
  throw new Error("expected an InputError");
};

describe("backups and restore options", () => {
  it("parses them", () => {
    const o = parse(
      "prod",
      "--kind",
      "weekly",
      "--verify-all",
      "--component",
      "database",
      "--backup",
      "cepcomunicacion_2026-11-30_02-00-00.dump",
      "--at",
      "2d",
      "--from",
      "local",
      "--target-db",
      "scratch_1",
      "--target",
      "/srv/restore",
    );
    expect(o).toMatchObject({
      kind: "weekly",
      verifyAll: true,
      offsite: false,
      component: "database",
      backup: "cepcomunicacion_2026-11-30_02-00-00.dump",
      at: "2d",
      from: "local",
      targetDb: "scratch_1",
      target: "/srv/restore",
    });
  });

  it("rejects values that are not what they must be, saying what was expected", () => {
    expect(problems(() => parse("prod", "--kind", "hourly"))).toEqual([
      'arguments: --kind: expected one of database, weekly, monthly, media, config, got "hourly"',
    ]);
    expect(problems(() => parse("prod", "--component", "db"))).toEqual([
      'arguments: --component: expected one of database, media, config, got "db"',
    ]);
    for (const bad of ["../etc/passwd", "a/b", ".hidden", "x;rm -rf /", "a b"])
      expect(problems(() => parse("prod", "--backup", bad))[0], bad).toMatch(
        /^arguments: --backup: expected a restore point's name/,
      );
    for (const bad of ["Prod", "a-b", "1db", 'x"; DROP DATABASE y; --'])
      expect(problems(() => parse("prod", "--target-db", bad))[0], bad).toMatch(
        /^arguments: --target-db: expected a database name/,
      );
    expect(problems(() => parse("prod", "--target", "relative/dir"))[0]).toMatch(
      /--target: expected an absolute folder path/,
    );
    expect(problems(() => parse("prod", "--from", "s3"))[0]).toMatch(/--from: expected one of local, offsite/);
  });

  it("each job takes only its own: status refuses --component, backups refuses --force, restore refuses --kind", () => {
    expect(problems(() => parseJobArgs(["prod", "--component", "media"], statusJob))[0]).toMatch(
      /--component: not supported by status/,
    );
    expect(problems(() => parseJobArgs(["prod", "--force"], backupsJob))[0]).toMatch(
      /--force: not supported by backups/,
    );
    expect(problems(() => parseJobArgs(["prod", "--kind", "media"], restoreJob))[0]).toMatch(
      /--kind: not supported by restore/,
    );
  });

  it("restore's own rules: one host named, a component, --backup or --at, targets that fit the component, --at not in the future", () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    const rules = (...a: string[]) => restoreArgProblems(parse("prod", ...a), now);
    expect(rules("--limit", "web1", "--component", "database")).toEqual([]);
    expect(rules()).toEqual([
      "arguments: --limit HOST: a restore needs exactly one host",
      "arguments: --component: expected database, media or config",
    ]);
    expect(rules("--limit", "w", "--component", "media", "--backup", "x", "--at", "2d")).toEqual([
      "arguments: --backup and --at: give one of them (or neither: the newest)",
    ]);
    expect(rules("--limit", "w", "--component", "media", "--target-db", "x")[0]).toMatch(
      /--target-db: only with --component database/,
    );
    expect(rules("--limit", "w", "--component", "database", "--target", "/x")[0]).toMatch(
      /--target: only with --component media or config/,
    );
    expect(rules("--limit", "w", "--component", "config", "--at", "2026-12-02T00:00Z")).toEqual([
      "arguments: --at: 2026-12-02T00:00Z is in the future",
    ]);
    expect(rules("--limit", "w", "--component", "config", "--at", "soon")[0]).toMatch(/--at: "soon" is neither/);
    // --from offsite is the host's question (is its off-site copy on?), asked before connecting.
    expect(rules("--limit", "w", "--component", "config", "--from", "offsite")).toEqual([]);
  });
});

describe("restore --from offsite", () => {
  const host = (enabled: boolean) => ({ name: "web1", vars: { offsite: { enabled } } });
  const prepare = (enabled: boolean) => () =>
    restoreJob.prepare!({
      opts: parse("prod", "--limit", "web1", "--component", "database", "--from", "offsite", "--force"),
      hosts: [host(enabled)],
      deps: {},
    } as never);
  it("is refused before connecting when the host has no off-site copy", () => {
    expect(problems(prepare(false))).toEqual([
      "arguments: --from offsite: web1 has no off-site copy (offsite.enabled is false in its inventory)",
    ]);
    expect(prepare(true)()).toEqual({ atEpoch: undefined });
  });
});
