// The provision job's local checks, before any host is contacted: two inventory hosts that are one
// machine (the same ssh host and port) and would write the same path are bad input. Two apps on one
// host otherwise overwrite each other's scripts directory: the last writer's lib/host.sh names its
// backup.conf, and app A's cron backs up app B.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { runFleetJob } from "../../src/run/job.ts";
import { provisionJob, configJob } from "../../src/run/provision.ts";
import { parseCommonArgs } from "../../src/cli/options.ts";
import { InputError } from "../../src/errors.ts";
import { connectionCounter } from "../helpers/ports.ts";
import { ensureKeyPair } from "../../src/lab/sshd.ts";

let dir: string;
let counter: Awaited<ReturnType<typeof connectionCounter>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cep-provision-"));
  counter = await connectionCounter();
  await ensureKeyPair(join(dir, "key"));
});
afterAll(() => {
  counter?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function inventory(name: string, hosts: Record<string, { host?: string; port?: number; vars?: object }>): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(
    file,
    YAML.stringify({
      environment: "staging",
      known_hosts: join(dir, "known_hosts"),
      vars: { database: { password: { env: "PROV_TEST_PW" } } },
      hosts: Object.fromEntries(
        Object.entries(hosts).map(([n, h]) => [
          n,
          {
            ssh: {
              host: h.host ?? "127.0.0.1",
              port: h.port ?? counter.port,
              private_key: join(dir, "key"),
              connect_timeout_s: 2,
            },
            vars: h.vars ?? {},
          },
        ]),
      ),
    }),
  );
  return file;
}

async function outcome(job: typeof provisionJob, file: string, args: string[] = []) {
  try {
    await runFleetJob(job, parseCommonArgs([file, "--skip-smoke", ...args], "u"), {
      cwd: dir,
      env: { PROV_TEST_PW: "pw" },
      out: () => undefined,
    });
    return { problems: undefined };
  } catch (e) {
    if (e instanceof InputError) return { problems: e.problems };
    throw e;
  }
}

describe("provision: hosts that are one machine", () => {
  it("two inventory hosts on one host:port writing the same paths are bad input: exit 1, no host contacted", async () => {
    const before = counter.count();
    const file = inventory("same-host", {
      shop: { vars: { app: "shop", paths: { scripts_dir: "/srv/scripts" } } },
      blog: { host: "LOCALHOST", vars: { app: "blog", paths: { scripts_dir: "/srv/scripts" } } },
      web: { vars: { app: "web" } },
    });
    // Even when only one of them is selected: the next full run would collide.
    for (const job of [provisionJob, configJob]) {
      const { problems } = await outcome(job, file, ["--limit", "blog"]);
      expect(problems).toEqual([
        "same-host.yml: hosts.blog.vars.paths.scripts_dir: expected a path that hosts.shop does not write too (both are 127.0.0.1:" +
          `${counter.port}, and both write /srv/scripts)`,
      ]);
    }
    // The same app twice on one machine: every path collides; each is named once.
    const twice = inventory("twice", { a: {}, b: { host: "127.0.0.1" } });
    const { problems } = await outcome(provisionJob, twice);
    expect(problems!.length).toBeGreaterThanOrEqual(5);
    for (const key of ["backup_dir", "log_dir", "scripts_dir", "config_file", "pgpass_file", "cron_file"])
      expect(
        problems!.some((p) => p.startsWith(`twice.yml: hosts.b.vars.paths.${key}: `)),
        key,
      ).toBe(true);
    expect(counter.count()).toBe(before);
  });

  it("two apps on one machine with the defaults are fine: each app has its own scripts directory", async () => {
    const before = counter.count();
    const file = inventory("two-apps", { shop: { vars: { app: "shop" } }, blog: { vars: { app: "blog" } } });
    const { problems } = await outcome(provisionJob, file);
    expect(problems).toBeUndefined();
    // Both were tried (the counter only counts connections: they then fail, which is not the point).
    expect(counter.count()).toBe(before + 2);
  });

  it("the same paths on different machines (or ports) are fine", async () => {
    const file = inventory("fleet", { a: { host: "198.51.100.7" }, b: { port: 2 } });
    const { problems } = await outcome(provisionJob, file, ["--check", "--limit", "b"]);
    expect(problems).toBeUndefined();
  });
});
