import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { planCronService } from "../../src/operations/service.ts";
import { servicesCommand, parseServices } from "../../src/facts/services.ts";

describe("cron service", () => {
  it("under a prefix (the lab) does nothing, and says why", () => {
    const p = planCronService(false, { prefix: "/lab/h1" });
    expect(p.changed).toBe(false);
    expect(p.reason).toContain("does not read it");
  });
  it("running: ok; stopped: starts and enables it, and checks it started", () => {
    expect(planCronService(true, { prefix: "" }).changed).toBe(false);
    const p = planCronService(false, { prefix: "" });
    expect(p.changed).toBe(true);
    expect(p.script).toContain("systemctl enable --now cron");
    expect(p.script).toContain("service cron start");
    expect(p.script).toContain("pgrep -x cron");
  });
  it("the fact sees a process that runs and one that does not", async () => {
    const { stdout } = await execa("bash", ["-s"], { input: servicesCommand(["bash", "no-such-daemon-xyz"]) });
    expect(parseServices(stdout)).toEqual(
      new Map([
        ["bash", true],
        ["no-such-daemon-xyz", false],
      ]),
    );
  });
});
