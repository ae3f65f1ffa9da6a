// -e extra vars: key=value with dotted keys, @file.yml, flow maps; YAML scalar typing; bad input.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseExtraVars } from "../../src/inventory/extra-vars.ts";
import { problemsOf, tempProject } from "./helpers.ts";

let proj: Awaited<ReturnType<typeof tempProject>>;
beforeEach(async () => {
  proj = await tempProject();
});
afterEach(async () => {
  await proj.cleanup();
});

describe("parseExtraVars", () => {
  it("parses dotted keys and YAML scalar types", () => {
    expect(
      parseExtraVars([
        "retention.daily_days=7",
        "offsite.enabled=true",
        "check.disk_warning_percent=70.5",
        "app=myapp",
        "prefix=",
        'database.name="123"',
        "schedule.check=*/5 * * * *",
        "alerts.email=a@example.com",
        "media_excludes=[a, '*.tmp']",
        "database.password={ env: PW }",
        "retention.weekly_weeks=3",
        "x.y=a=b #c",
      ]),
    ).toEqual({
      retention: { daily_days: 7, weekly_weeks: 3 },
      offsite: { enabled: true },
      check: { disk_warning_percent: 70.5 },
      app: "myapp",
      prefix: "",
      database: { name: "123", password: { env: "PW" } },
      schedule: { check: "*/5 * * * *" },
      alerts: { email: "a@example.com" },
      media_excludes: ["a", "*.tmp"],
      x: { y: "a=b #c" },
    });
  });

  it("later -e args win; maps merge", () => {
    expect(parseExtraVars(["retention.daily_days=7", "retention.keep_min=2", "retention.daily_days=9"])).toEqual({
      retention: { daily_days: 9, keep_min: 2 },
    });
  });

  it("keeps special characters in values verbatim", () => {
    const v = `a:b\\c'd"e$f!g ñ`;
    expect(parseExtraVars([`prefix=${v}`])).toEqual({ prefix: v });
  });

  it("loads @file.yml relative to cwd", async () => {
    await proj.write("extra.yml", "retention:\n  daily_days: 3\nschedule: { check: '1 * * * *' }\n");
    expect(parseExtraVars(["@extra.yml", "retention.keep_min=1"], proj.dir)).toEqual({
      retention: { daily_days: 3, keep_min: 1 },
      schedule: { check: "1 * * * *" },
    });
  });

  it("rejects malformed args with an InputError", async () => {
    for (const bad of [
      "noequals",
      "=7",
      "a..b=1",
      ".a=1",
      "a b=1",
      "__proto__.x=1",
      "@",
      "@missing.yml",
      "x=[unclosed",
      "{a: [}",
    ]) {
      const problems = await problemsOf(() => parseExtraVars([bad], proj.dir));
      expect(problems, bad).toHaveLength(1);
      expect(problems[0], bad).toMatch(/^(-e |missing\.yml)/);
    }
    await proj.write("list.yml", "- a\n");
    expect(await problemsOf(() => parseExtraVars(["@list.yml"], proj.dir))).toEqual([
      "list.yml: expected a YAML map of vars",
    ]);
    await proj.write("broken.yml", "a: [\n");
    expect((await problemsOf(() => parseExtraVars(["@broken.yml"], proj.dir)))[0]).toMatch(
      /^broken\.yml: line \d+, column \d+: /,
    );
  });

  it("rejects prototype keys, also inside values and files", async () => {
    await problemsOf(() => parseExtraVars(["x={__proto__: {polluted: 1}}"]));
    await proj.write("evil.yml", "__proto__: { polluted: 1 }\n");
    await problemsOf(() => parseExtraVars(["@evil.yml"], proj.dir));
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });
});
