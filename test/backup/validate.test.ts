import { describe, it, expect } from "vitest";
import { cronFileProblems, logrotateFileProblems } from "../../src/backup/validate.ts";

describe("cron.d file checks", () => {
  const good = "SHELL=/bin/bash\n# c\n0 2 * * * root /x/backup-database.sh >> /l 2>&1\n";
  it("accepts a well-formed file", () => expect(cronFileProblems("/etc/cron.d/app-backup", good)).toEqual([]));
  it("rejects dots in the file name, a missing newline, bad expressions and a missing user", () => {
    // the inventory's one file-name rule (src/inventory/rules.ts), with the path in front
    expect(cronFileProblems("/etc/cron.d/app.backup", good)).toEqual([
      "/etc/cron.d/app.backup: expected a file name of letters, digits, _ and - only (cron ignores cron.d files with other names, e.g. with a dot)",
    ]);
    expect(cronFileProblems("/etc/cron.d/a", good.trimEnd())[0]).toContain("newline");
    expect(cronFileProblems("/etc/cron.d/a", "61 2 * * * root /x\n")[0]).toContain("invalid cron expression");
    expect(cronFileProblems("/etc/cron.d/a", "0 2 * * * /x/y.sh\n")[0]).toContain('expected "min hour');
    expect(cronFileProblems("/etc/cron.d/a", "0 2 * * * Root! /x/y.sh z\n")[0]).toContain("user name");
  });
});

describe("logrotate file checks", () => {
  const ok = '# x\n"/var/log/a b/ñ"/*.log {\n    weekly\n    missingok\n}\n';
  it("accepts the rendered shape, quoted paths with spaces and non-ASCII", () =>
    expect(logrotateFileProblems("/l", ok)).toEqual([]));
  it("rejects quotes or braces in the path and unbalanced braces", () => {
    expect(logrotateFileProblems("/l", '"/var/log/a"b"/*.log {\n weekly\n}\n')[0]).toContain(
      "cannot parse the log path",
    );
    expect(logrotateFileProblems("/l", '"/var/log/{x}"/*.log {\n weekly\n}\n')[0]).toContain(
      "cannot parse the log path",
    );
    expect(logrotateFileProblems("/l", '"/a"/*.log {\n weekly\n')).toContain("/l: unbalanced braces");
    expect(logrotateFileProblems("/l", '"/a"/*.log {\n weekly\n}\n}\n')[0]).toContain("unbalanced braces");
  });
  // (A quote inside a path is rejected on principle: logrotate has no escape for it.)
  it("agrees with the real logrotate -d on well-formed and unbalanced files", async () => {
    const { execa } = await import("execa");
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const dir = mkdtempSync("/tmp/lr-");
    for (const [content, good] of [
      [ok, true],
      ['"/a"/*.log {\n missingok\n}\n}\n', false],
    ] as const) {
      writeFileSync(`${dir}/conf`, content);
      const r = await execa("logrotate", ["-d", "-s", `${dir}/state`, `${dir}/conf`], { reject: false });
      expect(r.exitCode === 0, `${content}: ${r.stderr}`).toBe(good);
      expect(logrotateFileProblems("/l", content).length === 0).toBe(good);
    }
  });
});
