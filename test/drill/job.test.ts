// The drill job's checks before any host is contacted (pure: a run's options, inventory and hosts).
import { describe, it, expect } from "vitest";
import { drillJob } from "../../src/drill/job.ts";
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
