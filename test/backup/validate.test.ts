import { describe, it, expect } from "vitest";
import { cronFileProblems } from "../../src/backup/validate.ts";

describe("cron.d file checks", () => {
  const good = "SHELL=/bin/bash\n# c\n0 2 * * * root /x/backup-database.sh >> /l 2>&1\n";
  it("accepts a well-formed file", () => expect(cronFileProblems("/etc/cron.d/app-backup", good)).toEqual([]));
  it("rejects dots in the file name, a missing newline, bad expressions and a missing user", () => {
    expect(cronFileProblems("/etc/cron.d/app.backup", good)[0]).toContain("names contain");
    expect(cronFileProblems("/etc/cron.d/a", good.trimEnd())[0]).toContain("newline");
    expect(cronFileProblems("/etc/cron.d/a", "61 2 * * * root /x\n")[0]).toContain("invalid cron expression");
    expect(cronFileProblems("/etc/cron.d/a", "0 2 * * * /x/y.sh\n")[0]).toContain('expected "min hour');
    expect(cronFileProblems("/etc/cron.d/a", "0 2 * * * Root! /x/y.sh z\n")[0]).toContain("user name");
  });
});
