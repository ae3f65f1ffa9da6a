import { describe, it, expect } from "vitest";
import { parseCommonArgs } from "../../src/cli/options.ts";
import { InputError } from "../../src/errors.ts";

const parse = (...a: string[]) => parseCommonArgs(a, "usage");
const problems = (...a: string[]) => {
  try {
    parse(...a);
  } catch (e) {
    return (e as InputError).problems;
  }
  throw new Error("expected an InputError");
};

describe("common options", () => {
  it("parses every option", () => {
    const o = parse(
      "prod",
      "--limit",
      "web*,!web3",
      "--tags",
      "config,cron",
      "--check",
      "--diff",
      "--forks",
      "4",
      "--serial",
      "25%",
      "--max-fail-percent",
      "0",
      "--json",
      "r.json",
      "-e",
      "a.b=1",
      "-e",
      "c=x",
      "--accept-new-host-keys",
      "--skip-smoke",
    );
    expect(o).toMatchObject({
      inventory: "prod",
      limit: "web*,!web3",
      tags: ["config", "cron"],
      check: true,
      diff: true,
      forks: 4,
      serial: { percent: 25 },
      maxFailPercent: 0,
      json: "r.json",
      extraVars: ["a.b=1", "c=x"],
      acceptNewHostKeys: true,
      skipSmoke: true,
    });
    expect(parse("lab").forks).toBe(10);
    expect(parse("lab", "--serial", "2").serial).toEqual({ count: 2 });
  });
  it("rejects bad input with a clear message", () => {
    expect(problems("prod", "--forks", "0")[0]).toBe('arguments: --forks: expected an integer >= 1, got "0"');
    expect(problems("prod", "--tags", "config,nope")[0]).toContain('unknown tag "nope"');
    expect(problems("prod", "--serial", "0%")[0]).toContain("--serial");
    expect(problems()[0]).toContain("expected an inventory");
    expect(problems("prod", "--bogus")[0]).toContain("bogus");
  });
  it("an unknown option close to a known one suggests it, with the usage", () => {
    expect(problems("prod", "--chek")).toEqual(["arguments: unknown option --chek (did you mean --check?)", "usage"]);
    expect(problems("prod", "--skip-smok")[0]).toBe(
      "arguments: unknown option --skip-smok (did you mean --skip-smoke?)",
    );
    expect(problems("prod", "--accept-new-hostkeys")[0]).toContain("did you mean --accept-new-host-keys?");
    expect(problems("prod", "--limt=web1")[0]).toBe("arguments: unknown option --limt (did you mean --limit?)");
    // Nothing close: no guess.
    expect(problems("prod", "--bogus")).toEqual(["arguments: unknown option --bogus", "usage"]);
  });
});
