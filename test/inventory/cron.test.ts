// One cron grammar, Debian cron's: the inventory's schedules and the rendered cron.d file are checked
// by the same validator, and Debian's own cron daemon is the judge (test/helpers/cron.ts): whatever
// the validator accepts, cron loads; whatever cron would ignore, the validator refuses. A file cron
// refuses is skipped WHOLE (every job of it), so this is the difference between backups and none.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { cronExpressionProblem } from "../../src/inventory/cron.ts";
import { cronExpression } from "../../src/inventory/schema.ts";
import { cronFileProblems } from "../../src/backup/validate.ts";
import { cronVerdict } from "../helpers/cron.ts";

/** Accepted by Debian's cron 3.0pl1 (checked with the daemon below) and by the validator. */
const GOOD = [
  "* * * * *",
  "0 2 * * *",
  "30 2 * * *",
  "30 3 * * 0",
  "0 */6 * * *",
  "*/5 * * * *",
  "0-30/5 * * * *",
  "1,2,3 * * * *",
  "1-5/2,7 * * * *",
  "*/5,1 * * * *",
  "05 02 * * *",
  "007 * * * *",
  "0 2 * * 7",
  "0 2 * * 0-7",
  "0 2 * * 0-7/2",
  "0 2 * * mon-fri",
  "0 2 * * MON",
  "0 2 * * sun,sat",
  "0 2 * jan-mar *",
  "0 2 * jan,feb *",
  "0 2 * JAN-Mar/2 *",
  "0 2 * * mon-fri/2",
  "0 2 31 2 *",
  "0 0 1,* * *",
  "59 23 31 12 6",
];

/** Refused by the validator; the comment says why (cron's own complaint where it has one). */
const BAD: [string, RegExp][] = [
  ["? * * * *", /minute "\?"/], // Quartz's "no value": cron: bad minute
  ["H 2 * * *", /minute "H"/], // Jenkins' hash: cron: bad minute
  ["0 0 L * *", /day of month "L"/], // Quartz's last day: cron: bad day-of-month
  ["0 0 1W * *", /day of month "1W"/], // Quartz's weekday: cron: bad day-of-month
  ["0 0 * * 1#2", /day of week "1#2"/], // Quartz's nth weekday: cron reads it as something else
  ["0 0 * * 5L", /day of week "5L"/],
  ["0 0 2 * * *", /got 6/], // a seconds field: cron reads the 6th as the user
  ["0 2 * *", /got 4/],
  ["5/15 * * * *", /minute "5\/15"/], // a step after a single number: cron: bad minute
  ["0 02/3 * * *", /hour "02\/3"/],
  ["60 * * * *", /minute "60"/],
  ["0 24 * * *", /hour "24"/],
  ["0 0 0 * *", /day of month "0"/],
  ["0 0 32 * *", /day of month "32"/],
  ["0 0 * 0 *", /month "0"/],
  ["0 0 * 13 *", /month "13"/],
  ["0 2 * * 8", /day of week "8"/],
  ["*/0 * * * *", /minute "\*\/0"/],
  ["1,,2 * * * *", /minute "1,,2"/],
  ["1, * * * *", /minute "1,"/],
  ["-1 * * * *", /minute "-1"/],
  ["0 jan * * *", /hour "jan"/], // names only in month and day of week
  ["0 0 * * JAN", /day of week "JAN"/],
  ["0 2 * * monday", /day of week "monday"/],
  ["30-10 * * * *", /minute "30-10"/], // a reversed range (cron takes it and never runs it)
  ["1-2-3 * * * *", /minute "1-2-3"/],
  ["*/61 * * * *", /minute "\*\/61"/],
];

describe("cronExpressionProblem: Debian cron's grammar", () => {
  it("accepts numbers, ranges, steps, lists, names and *", () => {
    for (const e of GOOD) expect(cronExpressionProblem(e), e).toBeUndefined();
  });

  it("refuses Quartz/Jenkins syntax (?, H, L, W, #), a seconds field, out-of-range values and malformed fields", () => {
    for (const [e, why] of BAD) expect(cronExpressionProblem(e), e).toMatch(why);
    expect(cronExpressionProblem("? * * * *")).toBe(
      'minute "?": expected numbers 0-59, ranges (a-b), steps (*/n or a-b/n), lists (a,b) or *',
    );
    expect(cronExpressionProblem("0 0 2 * * *")).toBe(
      "expected 5 fields (minute hour day-of-month month day-of-week), got 6 (cron has no seconds field)",
    );
  });

  it("is the inventory's rule and the rendered file's rule", () => {
    for (const [e] of BAD.slice(0, 5)) {
      expect(cronExpression.safeParse(e).success, e).toBe(false);
      expect(cronFileProblems("/etc/cron.d/app-backup", `${e} root /x/backup-database.sh\n`), e).toEqual([
        `/etc/cron.d/app-backup:1: invalid cron expression "${e}": ${cronExpressionProblem(e)}`,
      ]);
    }
    for (const e of GOOD) {
      expect(cronExpression.safeParse(e).success, e).toBe(true);
      expect(cronFileProblems("/etc/cron.d/app-backup", `${e} root /x/backup-database.sh\n`), e).toEqual([]);
    }
  });
});

describe("Debian's cron daemon agrees", () => {
  it("loads every file the validator accepts and ignores every file with a line the validator refuses", async () => {
    // The fixed cases, and random expressions: items of cron's grammar with values in and out of
    // range, names, and now and then a foreign token (? H L W # or a stray separator).
    const n = fc
      .oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 12 }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 70 }) },
      )
      .map(String);
    const name = fc.constantFrom("mon", "FRI", "sun", "jan", "Dec", "may");
    const v = fc.oneof(n, n, name);
    const item = fc.oneof(
      fc.constant("*"),
      n.map((s) => `*/${s}`),
      v,
      fc.tuple(v, v).map(([a, b]) => `${a}-${b}`),
      fc.tuple(v, v, n).map(([a, b, s]) => `${a}-${b}/${s}`),
      fc.tuple(v, n).map(([a, s]) => `${a}/${s}`),
    );
    const foreign = fc.oneof(
      { weight: 5, arbitrary: fc.constant("") },
      { weight: 1, arbitrary: fc.constantFrom("?", "H", "L", "W", "#2", ",", "-", "/") },
    );
    const field = fc
      .tuple(fc.array(item, { minLength: 1, maxLength: 3 }), foreign)
      .map(([items, f]) => items.join(",") + f);
    // Mostly one random field in an otherwise plain line, so that many are valid and each verdict
    // is about that field; some lines random throughout.
    const line = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .tuple(fc.integer({ min: 0, max: 4 }), field)
          .map(([i, f]) => ["0", "2", "*", "*", "*"].map((x, j) => (j === i ? f : x)).join(" ")),
      },
      { weight: 1, arbitrary: fc.array(field, { minLength: 5, maxLength: 5 }).map((f) => f.join(" ")) },
    );
    const random = fc.sample(line, { numRuns: 400, seed: 11 });
    const exprs = [...new Set([...GOOD, ...BAD.map(([e]) => e), ...random])];
    const files: Record<string, string> = {};
    exprs.forEach((e, i) => (files[`e${i}`] = `SHELL=/bin/sh\n${e} root true\n`));
    const { ignored } = await cronVerdict(files);
    const accepted = exprs.filter((e) => cronExpressionProblem(e) === undefined);
    exprs.forEach((e, i) => {
      if (cronExpressionProblem(e) === undefined) expect(ignored.has(`e${i}`), `cron ignored "${e}"`).toBe(false);
      if (ignored.has(`e${i}`)) expect(cronExpressionProblem(e), `validator accepted "${e}"`).toBeDefined();
    });
    // Enough of both kinds to mean something.
    expect(accepted.length).toBeGreaterThan(GOOD.length + 30);
    expect(ignored.size).toBeGreaterThan(50);
    // The finding itself: a schedule cron-parser took ("?" and "H") made cron skip the whole file.
    for (const e of ["? * * * *", "H 2 * * *"]) expect(ignored.has(`e${exprs.indexOf(e)}`), e).toBe(true);
  });
});
