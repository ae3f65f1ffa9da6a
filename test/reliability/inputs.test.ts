// Bad input, generated: fast-check over inventories, -e values and CLI arguments (in process, with
// the loader and the argument parser the CLI uses), a few real CLI runs, and hostile strings in the
// string vars that reach a host (refused by the schema, or arriving intact through backup.conf,
// read back with bash's own `source`). Seeds and run counts are fixed and printed.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fc from "fast-check";
import { execa } from "execa";
import YAML from "yaml";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../../src/errors.ts";
import { loadInventory } from "../../src/inventory/load.ts";
import { parseExtraVars } from "../../src/inventory/vars.ts";
import { parseCommonArgs } from "../../src/cli/options.ts";
import { desiredState } from "../../src/backup/desired.ts";
import { createRenderer } from "../../src/render/render.ts";
import { cli } from "../helpers/lab.ts";
import { connectionCounter } from "../helpers/ports.ts";

const SEED = 20261201;
const RUNS = Number(process.env.CEP_FC_RUNS ?? 120);
const figures: string[] = [];
let dir: string;
const ENV = { DB_PW: "pw" };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cep-inputs-"));
});
afterAll(() => {
  console.log(`[reliability] inputs (seed ${SEED}): ${figures.join("; ")}`);
  rmSync(dir, { recursive: true, force: true });
});

/** A valid inventory as data (what the properties mutate). */
function base(): any {
  return {
    environment: "staging",
    vars: {
      database: { password: { env: "DB_PW" } },
      retention: { daily_days: 30, keep_min: 3 },
      schedule: { database: "0 2 * * *" },
    },
    hosts: { h1: { ssh: { host: "198.51.100.1", port: 22 } }, h2: { ssh: { host: "198.51.100.2" } } },
  };
}

let n = 0;
function write(doc: unknown): { file: string; shown: string } {
  const file = join(dir, `inv-${++n}.yml`);
  const shown = file; // as the loader names a file given by its absolute path
  writeFileSync(file, typeof doc === "string" ? doc : YAML.stringify(doc));
  return { file, shown };
}

/** Every problem line is `<file or -e ...>: <key.path or nothing>: <message>`, one line, no stack. */
function wellFormed(problems: string[], prefixes: string[]): void {
  expect(problems.length).toBeGreaterThan(0);
  for (const p of problems) {
    expect(
      prefixes.some((x) => p.startsWith(x)),
      `${p} starts with one of ${prefixes.join(", ")}`,
    ).toBe(true);
    expect(p).toMatch(/^[^\n]+: [^\n]+$/);
    expect(p).not.toMatch(/\bat .*\.(ts|js):\d+/);
  }
}

/** Loads, or fails with InputError only; returns the problems (undefined: it loaded). */
async function outcome(
  file: string,
  extraVars?: Record<string, unknown>,
  env: Record<string, string> = ENV,
): Promise<string[] | undefined> {
  try {
    await loadInventory(file, { cwd: dir, env, extraVars });
    return undefined;
  } catch (e) {
    if (e instanceof InputError) return e.problems;
    throw e; // a TypeError or the like: a crash, not bad input
  }
}

// Keys the schema gives meaning to, and values of the wrong kind for them.
const NUMERIC = [
  "vars.retention.daily_days",
  "vars.retention.keep_min",
  "vars.retention.media_days",
  "vars.database.port",
  "hosts.h1.ssh.port",
  "hosts.h1.ssh.connect_timeout_s",
];
const NAMES = ["vars.database.name", "vars.database.user", "vars.app", "vars.backup_user", "environment"];
const SCHEDULES = ["vars.schedule.database", "vars.schedule.media", "vars.schedule.check"];
const hostile = fc.oneof(
  fc.constantFrom(
    "a'b",
    'a"b',
    "$(id)",
    "`id`",
    "a\nb",
    "a;rm -rf /",
    "..",
    "../etc",
    "ñandú",
    "a b",
    "",
    " ",
    "-rf",
    "\u0000",
    "\u202e",
    "a\\b",
    "*",
    "${HOME}",
  ),
  fc.string({ unit: "grapheme", maxLength: 12 }),
);
const wrongNumber = fc.oneof(
  fc.constantFrom(-1, 0.5, 1e12, "thirty", "", null, true, [], {}, "1e3", "0x10", Number.NaN),
  fc.string({ maxLength: 6 }),
);
const badCron = fc.oneof(
  fc.constantFrom("? * * * *", "H 2 * * *", "61 * * * *", "* * * *", "0 2 * * * *", "@hourly; id", "0 2 L * *"),
  fc.string({ maxLength: 15 }),
);

function setAt(doc: any, path: string, v: unknown): void {
  const keys = path.split(".");
  let o = doc;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  o[keys.at(-1)!] = v;
}

describe("inventories (fast-check)", () => {
  it("a wrong value at a key the schema knows: exit-1 problems naming the file and the key, never a crash", async () => {
    let refused = 0;
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ key: fc.constantFrom(...NUMERIC), v: wrongNumber as fc.Arbitrary<unknown> }),
          fc.record({ key: fc.constantFrom(...NAMES), v: hostile as fc.Arbitrary<unknown> }),
          fc.record({ key: fc.constantFrom(...SCHEDULES), v: badCron as fc.Arbitrary<unknown> }),
        ),
        async ({ key, v }) => {
          const doc = base();
          setAt(doc, key, v);
          const { file, shown } = write(doc);
          const problems = await outcome(file);
          if (problems === undefined) {
            loaded++;
            return; // a value that happens to be valid (a plain name, a real schedule)
          }
          refused++;
          wellFormed(problems, [`${shown}: `]);
          expect(problems.join("\n")).toContain(key.replace(/^hosts\.h1\./, "hosts.h1."));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    figures.push(`keyed inventory values: ${refused + loaded} tried, ${refused} refused, ${loaded} valid`);
    expect(refused).toBeGreaterThan(RUNS / 2);
  });

  it("any YAML document at all: it loads, or fails with problem lines naming the file; never a crash", async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything({ maxDepth: 3 }).map((x) => {
            const d = base();
            (d as any)[
              ["vars", "hosts", "groups", "environment", "extra"][Math.abs(JSON.stringify(x)?.length ?? 0) % 5]!
            ] = x;
            return d;
          }),
          fc.string({ maxLength: 60 }),
          fc.constantFrom("{", "hosts: [", "- a\n- b", "a: &x\n  b: *x", "!!js/function 'x'", "\t\tvars:"),
        ),
        async (doc) => {
          const { file, shown } = write(doc);
          const problems = await outcome(file);
          if (problems === undefined) return;
          refused++;
          wellFormed(problems, [`${shown}: `]);
        },
      ),
      { seed: SEED + 1, numRuns: RUNS },
    );
    figures.push(`arbitrary inventory documents: ${RUNS} tried, ${refused} refused, ${RUNS - refused} loaded`);
    expect(refused).toBeGreaterThan(0);
  });
});

describe("-e values (fast-check)", () => {
  it("key=value with any key and value: parsed and validated, or problem lines naming -e or the key; never a crash", async () => {
    const { file, shown } = write(base());
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(
            fc.constantFrom(...NUMERIC, ...NAMES, ...SCHEDULES).map((k) => k.replace(/^vars\./, "")),
            hostile,
          ),
          fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })),
        ),
        async ([k, v]) => {
          let problems: string[] | undefined;
          try {
            const extra = parseExtraVars([`${k}=${v}`], dir);
            problems = await outcome(file, extra);
          } catch (e) {
            if (!(e instanceof InputError)) throw e;
            problems = e.problems;
          }
          if (problems === undefined) return;
          refused++;
          wellFormed(problems, [`${shown}: `, "-e: ", "-e "]);
        },
      ),
      { seed: SEED + 2, numRuns: RUNS },
    );
    figures.push(`-e values: ${RUNS} tried, ${refused} refused`);
    expect(refused).toBeGreaterThan(RUNS / 4);
  });
});

describe("CLI arguments (fast-check)", () => {
  it("any argv: parsed, or an InputError whose lines start with 'arguments:' or are the usage; never a crash", () => {
    let refused = 0;
    const word = fc.oneof(
      fc.constantFrom(
        "--check",
        "--diff",
        "--limit",
        "--serial",
        "-e",
        "--chek",
        "--json",
        "--",
        "-",
        "--serial=0",
        "--max-fail-percent",
        "-x",
      ),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 6 }), (argv) => {
        try {
          parseCommonArgs(argv, "Usage: test");
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          refused++;
          for (const p of e.problems)
            expect(p === "Usage: test" || /^arguments: /.test(p) || /^-e /.test(p), p).toBe(true);
        }
      }),
      { seed: SEED + 3, numRuns: RUNS * 2 },
    );
    figures.push(`CLI argument vectors: ${RUNS * 2} tried, ${refused} refused`);
    expect(refused).toBeGreaterThan(0);
  });

  it("real runs of the CLI with bad inventories, -e values and options: exit 1, problem lines, no stack trace, no host contacted", async () => {
    const counter = await connectionCounter();
    try {
      const doc = base();
      doc.hosts.h1.ssh = { host: "127.0.0.1", port: counter.port };
      doc.hosts.h2.ssh = { host: "127.0.0.1", port: counter.port };
      const good = write(doc).file;
      const bad = base();
      bad.hosts.h1.ssh = { host: "127.0.0.1", port: counter.port };
      bad.vars.database.name = "x'; DROP DATABASE y; --";
      const cases: { args: string[]; key: RegExp }[] = [
        { args: [write(bad).file], key: /vars\.database\.name: / },
        { args: [good, "-e", "retention.daily_days=$(id)"], key: /retention\.daily_days/ },
        { args: [good, "-e", "paths.backup_dir=relative/dir"], key: /paths\.backup_dir/ },
        { args: [good, "--serial", "zero"], key: /--serial/ },
        { args: [good, "--chek"], key: /did you mean --check/ },
        { args: [write("hosts: [").file], key: /inv-\d+\.yml: / },
      ];
      for (const c of cases) {
        const r = await cli("provision", c.args, { env: ENV });
        expect(r.code, `${c.args.join(" ")}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toMatch(c.key);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      figures.push(`real CLI runs with bad input: ${cases.length}, all exit 1, ${counter.count()} connections`);
      expect(counter.count()).toBe(0);
    } finally {
      counter.close();
    }
  });
});

// String vars that reach a host through backup.conf, with the shell variable each becomes.
const REACHES_HOST: { key: string; at?: string; shell: string; array?: boolean }[] = [
  { key: "alerts.smtp.password", shell: "SMTP_PASSWORD" },
  { key: "alerts.smtp.user", shell: "SMTP_USER" },
  { key: "alerts.smtp.from", shell: "SMTP_FROM" },
  { key: "alerts.email", shell: "ALERT_EMAIL" },
  { key: "alerts.slack_webhook", shell: "SLACK_WEBHOOK" },
  { key: "alerts.healthcheck_url", shell: "HEALTHCHECK_URL" },
  { key: "database.host", shell: "DB_HOST" },
  { key: "database.name", shell: "DB_NAME" },
  { key: "database.user", shell: "DB_USER" },
  { key: "media_owner", shell: "MEDIA_OWNER" },
  { key: "paths.app_dir", shell: "APP_DIR" },
  { key: "paths.media_dir", shell: "MEDIA_DIR" },
  { key: "paths.backup_dir", shell: "BACKUP_DIR" },
  { key: "paths.log_dir", shell: "LOG_DIR" },
  { key: "metrics.textfile_dir", shell: "METRICS_TEXTFILE_DIR" },
  { key: "media_volume", at: "docker.media_volume", shell: "MEDIA_VOLUME" },
  { key: "docker_host", at: "docker.host", shell: "DOCKER_HOST" },
  { key: "media_excludes", shell: "MEDIA_EXCLUDES", array: true },
  { key: "config_files", shell: "CONFIG_FILES", array: true },
];

describe("hostile strings in every string var that reaches a host", () => {
  it("refused by the schema (a problem naming the key), or arriving intact: backup.conf read back by bash `source` gives the same value", async () => {
    const { file, shown } = write(base());
    const tally: Record<string, { refused: number; intact: number }> = {};
    const shape = fc.oneof(
      hostile,
      hostile.map((h) => `/srv/${h}`),
      hostile.map((h) => `https://hooks.example.com/${h}`),
      hostile.map((h) => `ops${h}@example.com`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...REACHES_HOST), shape, async (target, v) => {
        const extra: any = {
          alerts: {
            smtp: {
              url: "smtps://smtp.example.com:465",
              user: "u",
              password: { env: "SMTP_PW" },
              from: "b@example.com",
            },
          },
        };
        // A secret var takes a reference: the hostile value comes through the environment.
        const secret = target.key === "alerts.smtp.password";
        if (secret && v.includes("\0")) return;
        setAt(extra, target.key, secret ? { env: "HOSTILE_SECRET" } : target.array ? [v, "plain"] : v);
        if (target.key !== "alerts.email") extra.alerts.email = "ops@example.com";
        const t = (tally[target.key] ??= { refused: 0, intact: 0 });
        let inv;
        try {
          inv = await loadInventory(file, {
            cwd: dir,
            env: { ...ENV, SMTP_PW: "p", HOSTILE_SECRET: v },
            extraVars: extra,
          });
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          wellFormed(e.problems, [`${shown}: `, "-e: "]);
          // Refused for this value, by the key's own rule.
          expect(e.problems.join("\n"), JSON.stringify(v)).toContain(
            target.key.replace("alerts.smtp.password", "HOSTILE_SECRET"),
          );
          t.refused++;
          return;
        }
        const vars = inv.hosts[0]!.vars as any;
        const get = (path: string) => path.split(".").reduce((o: any, k) => o?.[k], vars);
        const want = get(target.key) ?? (target.at ? get(target.at) : undefined);
        const conf = desiredState(vars, createRenderer()).files.find((f) => f.path === vars.paths.config_file)!;
        const f = join(dir, `conf-${++n}`);
        writeFileSync(f, conf.content);
        const read = target.array ? `printf '%s\\0' "\${${target.shell}[@]}"` : `printf '%s' "$${target.shell}"`;
        const r = await execa("bash", ["-c", `set -eu; source "$1"; ${read}`, "bash", f], {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
          extendEnv: false,
          stripFinalNewline: false,
          encoding: "utf8",
        });
        const got = target.array ? r.stdout.split("\0").slice(0, -1) : r.stdout;
        expect(got, `${target.key}=${JSON.stringify(v)}`).toEqual(target.array ? want : (want ?? ""));
        t.intact++;
      }),
      { seed: SEED + 4, numRuns: RUNS },
    );
    const refused = Object.values(tally).reduce((s, t) => s + t.refused, 0);
    figures.push(
      `hostile strings in ${Object.keys(tally).length} host-bound vars: ${RUNS} tried, ${refused} refused, ${RUNS - refused} arrived intact through bash source (intact per var: ${Object.entries(
        tally,
      )
        .map(([k, t]) => `${k} ${t.intact}/${t.intact + t.refused}`)
        .join(", ")})`,
    );
  });
});
