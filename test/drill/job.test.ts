// The drill job's checks before any host is contacted (pure: a run's options, inventory and hosts).
import { describe, it, expect } from "vitest";
import { drillJob, lastDrill } from "../../src/drill/job.ts";
import { statusJob } from "../../src/status/job.ts";
import { parseJobArgs } from "../../src/cli/commands.ts";
import type { DrillHost } from "../../src/drill/verify.ts";
import { InputError } from "../../src/errors.ts";
import { parseCommonArgs } from "../../src/cli/options.ts";
import type { Host, Inventory } from "../../src/inventory/types.ts";
import type { JobRun } from "../../src/run/job.ts";

const host = (name: string, offsite: boolean) =>
  ({ name, groups: [], ssh: {}, vars: { environment: "staging", offsite: { enabled: offsite } } }) as unknown as Host;

function run(args: string[], hosts: Host[]): JobRun<undefined> {
  return {
    opts: parseCommonArgs(["staging", ...args], "usage"),
    inv: { file: "/inv/staging.yml", environment: "staging", knownHostsFile: "", hosts, secrets: [] } as Inventory,
    hosts,
    deps: { cwd: "/inv" },
    state: undefined,
    mask: (t) => t,
    log: () => {},
  };
}

// prepare may return its state or a promise of it: always a promise here.
const prepare = async (r: JobRun<undefined>) => drillJob.prepare!(r);

describe("drill prepare", () => {
  it("--from offsite refuses hosts without an off-site copy (exit 1, every one named)", async () => {
    const hosts = [host("stg1", true), host("stg2", false), host("stg3", false)];
    const e = await prepare(run(["--from", "offsite", "--force"], hosts)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).problems).toEqual([
      "staging.yml: --from offsite: hosts stg2, stg3 have no off-site copy (offsite.enabled is false)",
    ]);
    await expect(prepare(run(["--from", "offsite", "--force"], [host("stg1", true)]))).resolves.toBeUndefined();
    await expect(prepare(run(["--force"], hosts))).resolves.toBeUndefined();
  });
});

describe("drill --live confirmation", () => {
  const hosts = [host("stg1", true), host("stg2", true)];
  const withAnswer = (r: JobRun<undefined>, answer: string, asked: string[] = []): JobRun<undefined> => ({
    ...r,
    deps: { ...r.deps, ask: async (q: string) => (asked.push(q), answer) },
  });

  it("without --force and without a terminal it refuses (exit 1), saying what --live would replace", async () => {
    const e = await prepare(run(["--live"], hosts)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).problems).toHaveLength(1);
    expect((e as InputError).problems[0]).toMatch(
      /^drill: --live: refusing to run without --force: there is no terminal to confirm on\. LIVE restore drill on 2 host\(s\) of staging\.yml \(staging\): stg1, stg2\. Their live database, media and app config are REPLACED/,
    );
    await expect(prepare(run(["--live", "--force"], hosts))).resolves.toBeUndefined();
  });

  it("at a terminal a yes is not enough: the inventory's name must be typed", async () => {
    const asked: string[] = [];
    const e = await prepare(withAnswer(run(["--live"], hosts), "yes", asked)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).problems).toEqual(["drill: cancelled (the answer was not the inventory's name, staging)"]);
    expect(asked[0]).toMatch(/Type the inventory's name \(staging\) to run the live drill: $/);
    await expect(prepare(withAnswer(run(["--live"], hosts), " staging\n"))).resolves.toBeUndefined();
    // A scratch drill still takes a yes.
    await expect(prepare(withAnswer(run([], hosts), "yes"))).resolves.toBeUndefined();
    await expect(prepare(withAnswer(run(["--scratch"], hosts), "staging"))).rejects.toBeInstanceOf(InputError);
  });

  it("--live and --scratch together are bad input", () => {
    expect(() => parseCommonArgs(["staging", "--live", "--scratch"], "usage")).toThrow(
      /--live and --scratch: give one/,
    );
  });
});

describe("drill --live options and the host's last-drill.json", () => {
  it("--live and --scratch are the drill's; the other commands refuse them", () => {
    expect(parseJobArgs(["staging", "--live"], drillJob)).toMatchObject({ live: true, scratch: false });
    expect(parseJobArgs(["staging", "--scratch"], drillJob)).toMatchObject({ live: false, scratch: true });
    expect(() => parseJobArgs(["prod", "--live"], statusJob)).toThrow(/--live: not supported by status/);
  });

  it("last-drill.json records the mode and, for --live, where each pre-restore backup is", () => {
    const live = {
      verdict: "PASSED",
      mode: "live",
      rto_ms_total: 1200,
      rpo_seconds_max: 60,
      components: {
        database: { live: { pre_restore: "/b/database/pre-restore/pre-restore_app_x.dump" } },
        media: { live: { pre_restore: null } },
        config: { live: { pre_restore: "/b/config/pre-restore/pre-restore_config_x.tar.gz" } },
        monthly: {},
      },
    } as unknown as DrillHost;
    expect(lastDrill(live, "2026-12-01T17:00:00.000Z")).toEqual({
      finished_at: "2026-12-01T17:00:00.000Z",
      verdict: "PASSED",
      mode: "live",
      pre_restore: {
        database: "/b/database/pre-restore/pre-restore_app_x.dump",
        config: "/b/config/pre-restore/pre-restore_config_x.tar.gz",
      },
      rto_ms_total: 1200,
      rpo_seconds_max: 60,
    });
    const scratch = { ...live, mode: "scratch", components: {} } as unknown as DrillHost;
    expect(lastDrill(scratch, "2026-12-01T17:00:00.000Z")).toEqual({
      finished_at: "2026-12-01T17:00:00.000Z",
      verdict: "PASSED",
      mode: "scratch",
      rto_ms_total: 1200,
      rpo_seconds_max: 60,
    });
  });
});
