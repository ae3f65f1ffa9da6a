import { describe, it, expect } from "vitest";
import {
  exitCode,
  maskedJson,
  newHostReport,
  recap,
  runReport,
  addTask,
  settleStatus,
  type HostReport,
} from "../../src/run/report.ts";

const host = (name: string, status: HostReport["status"]): HostReport => ({ ...newHostReport(name), status });

describe("exit codes (Ansible's)", () => {
  it("0 all fine, 2 any failed (even with unreachable ones), 4 unreachable and none failed", () => {
    expect(exitCode([host("a", "ok"), host("b", "changed"), host("c", "skipped")])).toBe(0);
    expect(exitCode([host("a", "unreachable"), host("b", "ok")])).toBe(4);
    expect(exitCode([host("a", "unreachable"), host("b", "failed")])).toBe(2);
  });
});

describe("host status", () => {
  it("settles from the tasks; unreachable and skipped stay", () => {
    const r = newHostReport("h");
    addTask(r, { name: "a", status: "ok", message: "" });
    expect(settleStatus(r)).toBe("ok");
    addTask(r, { name: "b", status: "changed", message: "" });
    expect(settleStatus(r)).toBe("changed");
    addTask(r, { name: "c", status: "failed", message: "" });
    expect(settleStatus(r)).toBe("failed");
    expect([r.ok, r.changed, r.failed]).toEqual([1, 1, 1]);
    expect(settleStatus({ ...newHostReport("u"), status: "unreachable", failed: 1 })).toBe("unreachable");
  });
});

describe("the JSON report", () => {
  it("masks secrets also where JSON escaping changed their spelling", () => {
    const secret = `p:\\'"$!x`;
    const r = runReport("provision", { file: "/inv.yml", environment: "lab" }, Date.now(), [
      {
        ...newHostReport("h"),
        error: `could not log in with ${secret}`,
        tasks: [{ name: "t", status: "failed", message: secret }],
      },
    ]);
    const json = maskedJson(r, [secret]);
    expect(json).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(json).not.toContain(secret);
    expect(JSON.parse(json).hosts[0].error).toBe("could not log in with ********");
    expect(JSON.parse(json).summary.hosts).toBe(1);
  });

  it("the recap names each host, its counts and its failed tasks", () => {
    const h = {
      ...newHostReport("web1"),
      status: "failed" as const,
      failed: 1,
      commands: 2,
      tasks: [{ name: "file /x", status: "failed" as const, message: "disk full" }],
    };
    const text = recap(runReport("provision", { file: "/inv.yml", environment: "lab" }, Date.now(), [h]));
    expect(text).toMatch(/^web1 : failed\s+ok=0 changed=0 failed=1 commands=2/m);
    expect(text).toContain("file /x: disk full");
  });
});
