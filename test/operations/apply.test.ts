// The apply script runs for real with bash: files land atomically with mode and owner, the old
// file is kept as <path>.<timestamp>~, a failing validation leaves the old file and no temp file.
import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyScript, applyOutcome, failedStep } from "../../src/operations/apply.ts";
import { planFile, sha256 } from "../../src/operations/file.ts";
import { planDirectory } from "../../src/operations/directory.ts";

const run = (script: string) => execa("bash", ["-s"], { input: script, reject: false });
const file = (path: string, content: string, validate?: string) => ({
  path,
  content,
  mode: 0o640,
  owner: "root",
  group: "root",
  tags: ["scripts" as const],
  template: "t",
  validate,
});

describe("apply script", () => {
  it("creates dirs and files, keeps the replaced file, reports success", async () => {
    const d = mkdtempSync(join(tmpdir(), "apply-"));
    const dir = join(d, "a b", "ñ");
    const target = join(dir, "x.sh");
    const plan = [
      planDirectory({ path: dir, mode: 0o750, owner: "root", group: "root", tags: ["dirs"] }, { exists: false }),
      planFile(file(target, "echo one\n", "bash -n {}"), { exists: false }),
    ];
    const r1 = await run(applyScript(plan));
    expect(r1.exitCode).toBe(0);
    expect(failedStep(r1.stdout)).toBeUndefined();
    expect(readFileSync(target, "utf8")).toBe("echo one\n");
    expect(statSync(target).mode & 0o7777).toBe(0o640);
    expect(statSync(dir).mode & 0o7777).toBe(0o750);

    const r2 = await run(
      applyScript([
        planFile(file(target, "echo two\n", "bash -n {}"), {
          exists: true,
          type: "file",
          mode: 0o640,
          owner: "root",
          group: "root",
          sha256: sha256("echo one\n"),
        }),
      ]),
    );
    expect(r2.exitCode).toBe(0);
    expect(readFileSync(target, "utf8")).toBe("echo two\n");
    const kept = readdirSync(dir).filter((f) => /^x\.sh\.\d{14}~$/.test(f));
    expect(kept).toHaveLength(1);
    expect(readFileSync(join(dir, kept[0]!), "utf8")).toBe("echo one\n");
  });

  it("keeps only the newest 3 copies of a replaced file", async () => {
    const d = mkdtempSync(join(tmpdir(), "apply-"));
    const target = join(d, "z.conf");
    writeFileSync(target, "v0\n");
    for (const old of ["20200101000001", "20200101000002", "20200101000003", "20200101000004"])
      writeFileSync(`${target}.${old}~`, old);
    const r = await run(
      applyScript([
        planFile(file(target, "v1\n"), {
          exists: true,
          type: "file",
          mode: 0o640,
          owner: "root",
          group: "root",
          sha256: sha256("v0\n"),
        }),
      ]),
    );
    expect(r.exitCode).toBe(0);
    const kept = readdirSync(d)
      .filter((f) => f.endsWith("~"))
      .sort();
    expect(kept).toHaveLength(3);
    expect(kept.slice(0, 2)).toEqual(["z.conf.20200101000003~", "z.conf.20200101000004~"]);
    expect(readFileSync(join(d, kept[2]!), "utf8")).toBe("v0\n");
  });

  it("an owner change of a directory that is a symlink (a backup dir on another disk) reaches its target and contents", async () => {
    const d = mkdtempSync(join(tmpdir(), "apply-"));
    const real = join(d, "disk2");
    const { mkdirSync, symlinkSync, statSync: st } = await import("node:fs");
    mkdirSync(real, { mode: 0o700 });
    writeFileSync(join(real, "old.dump"), "x");
    symlinkSync(real, join(d, "backups"));
    const plan = planDirectory(
      { path: join(d, "backups"), mode: 0o700, owner: "nobody", group: "nogroup", tags: ["dirs"], recurse: true },
      { exists: true, type: "directory", mode: 0o700, owner: "root", group: "root" },
    );
    const r = await run(applyScript([plan]));
    expect(r.exitCode, r.stderr).toBe(0);
    const nobody = Number((await execa("id", ["-u", "nobody"])).stdout);
    expect(st(real).uid).toBe(nobody);
    expect(st(join(real, "old.dump")).uid).toBe(nobody);
  });

  it("a secret file keeps no copy, and old copies left by earlier versions go", async () => {
    const d = mkdtempSync(join(tmpdir(), "apply-"));
    const target = join(d, "backup.pgpass");
    writeFileSync(target, "h:1:*:u:old\n");
    writeFileSync(`${target}.20200101000001~`, "h:1:*:u:older\n");
    const r = await run(
      applyScript([
        planFile(
          { ...file(target, "h:1:*:u:new\n"), secret: true },
          { exists: true, type: "file", mode: 0o640, owner: "root", group: "root", sha256: sha256("h:1:*:u:old\n") },
        ),
      ]),
    );
    expect(r.exitCode).toBe(0);
    expect(readdirSync(d)).toEqual(["backup.pgpass"]);
  });

  it("a failing validation keeps the old file, leaves no temp file and names the step", async () => {
    const d = mkdtempSync(join(tmpdir(), "apply-"));
    const target = join(d, "y.sh");
    writeFileSync(target, "echo good\n");
    const bad = planFile(file(target, "if then fi (\n", "bash -n {}"), {
      exists: true,
      type: "file",
      mode: 0o640,
      owner: "root",
      group: "root",
      sha256: sha256("echo good\n"),
    });
    const r = await run(applyScript([bad]));
    expect(r.exitCode).not.toBe(0);
    expect(failedStep(r.stdout)).toBe(`file:${target}`);
    expect(r.stderr).toContain("validation of");
    expect(readFileSync(target, "utf8")).toBe("echo good\n");
    expect(readdirSync(d)).toEqual(["y.sh"]);
  });
});

describe("two provisions of one host", () => {
  const existing = (content: string) => ({
    exists: true,
    type: "file" as const,
    mode: 0o640,
    owner: "root",
    group: "root",
    sha256: sha256(content),
  });

  it("a file changed after the facts were read is not overwritten (the step fails naming it); its own new content is fine", async () => {
    const d = mkdtempSync(join(tmpdir(), "apply-"));
    const target = join(d, "backup.conf");
    writeFileSync(target, "A=old\n");
    const stale = applyScript([planFile(file(target, "A=mine\n"), existing("A=old\n"))]);
    writeFileSync(target, "A=other\n"); // another provision wrote it meanwhile
    const r = await run(stale);
    expect(r.exitCode).not.toBe(0);
    expect(failedStep(r.stdout)).toBe(`file:${target}`);
    expect(r.stderr).toContain(`${target} changed on the host after this run read it`);
    expect(readFileSync(target, "utf8")).toBe("A=other\n");
    expect(readdirSync(d)).toEqual(["backup.conf"]);
    // The same content already there (both runs wanted it): applied as a no-op write.
    writeFileSync(target, "A=mine\n");
    const same = await run(stale);
    expect(same.exitCode, same.stderr).toBe(0);
    expect(readFileSync(target, "utf8")).toBe("A=mine\n");
  });

  it("the lock: a second apply waits for the first, and gives up clearly after its wait", async () => {
    const d = mkdtempSync(join(tmpdir(), "apply-"));
    const etc = join(d, "etc");
    const target = join(etc, "x.conf");
    // Another apply holds the lock on the config directory for 1.5 s.
    const { mkdirSync } = await import("node:fs");
    mkdirSync(etc);
    const holder = execa("flock", [etc, "sleep", "1.5"]);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const waited = await run(
      applyScript([planFile(file(target, "v\n"), { exists: false })], { lock: etc, lockWaitS: 10 }),
    );
    expect(waited.exitCode, waited.stderr).toBe(0);
    expect(Date.now() - t0).toBeGreaterThan(900);
    await holder;
    const holder2 = execa("flock", [etc, "sleep", "2"]);
    await new Promise((r) => setTimeout(r, 300));
    const gaveUp = await run(
      applyScript([planFile(file(target, "w\n"), existing("v\n"))], { lock: etc, lockWaitS: 1 }),
    );
    expect(gaveUp.exitCode).not.toBe(0);
    expect(failedStep(gaveUp.stdout)).toBe("");
    expect(gaveUp.stderr).toContain(`another provision of this host is applying changes (lock on ${etc} held for 1 s)`);
    expect(readFileSync(target, "utf8")).toBe("v\n");
    holder2.kill();
    await holder2.catch(() => undefined);
  });
});

describe("applyOutcome", () => {
  const op = (id: string, changed = true, error?: string) => ({
    id,
    name: id,
    tags: ["dirs" as const],
    changed,
    reason: `r-${id}`,
    script: changed ? ":" : "",
    error,
  });
  const plan = [op("a"), op("b", false), op("c"), op("d")];
  const status = (o: ReturnType<typeof applyOutcome>) => o.steps.map((s) => `${s.plan.id}:${s.status}`).join(" ");

  it("success: changed ops changed, the rest ok", () => {
    const o = applyOutcome(plan, { code: 0, stdout: "STEP|a\nSTEP|c\nSTEP|d\nAPPLY|ok\n", stderr: "" });
    expect(status(o)).toBe("a:changed b:ok c:changed d:changed");
    expect(o.error).toBeUndefined();
  });
  it("a failed step: earlier ones applied, later ones skipped", () => {
    const o = applyOutcome(plan, { code: 1, stdout: "STEP|a\nSTEP|c\n", stderr: "boom" });
    expect(status(o)).toBe("a:changed b:ok c:failed d:skipped");
    expect(o.steps[2]!.message).toBe("r-c: boom");
  });
  it("a script that dies before its first step, or fails after its last, is never a success", () => {
    expect(status(applyOutcome(plan, { code: 2, stdout: "", stderr: "syntax error" }))).toBe(
      "a:skipped b:ok c:skipped d:skipped",
    );
    expect(applyOutcome(plan, { code: 2, stdout: "", stderr: "syntax error" }).error).toContain("syntax error");
    const late = applyOutcome(plan, { code: 1, stdout: "STEP|a\nSTEP|c\nSTEP|d\nAPPLY|ok\n", stderr: "late" });
    expect(late.error).toContain("late");
    expect(status(late)).toBe("a:changed b:ok c:changed d:changed");
  });
  it("check mode says would change; a planning error skips the host's other changes", () => {
    expect(applyOutcome(plan, undefined, { check: true }).steps[0]!.message).toBe("would change: r-a");
    expect(status(applyOutcome([op("a"), op("x", false, "bad")], undefined))).toBe("a:skipped x:failed");
  });
});
