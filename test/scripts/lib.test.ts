// backup-lib.sh functions called directly from bash (the installed library with a rendered config).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdirSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { renderOnlyLab } from "./backup-harness.ts";

let lab: ReturnType<typeof renderOnlyLab>;
const lib = (body: string, args: string[] = []) =>
  execa(
    "bash",
    [
      "-c",
      `set -Eeuo pipefail; source "${lab.vars.paths.scripts_dir}/backup-lib.sh"; lib_init libtest; ${body}`,
      "libtest",
      ...args,
    ],
    {
      reject: false,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      extendEnv: false,
    },
  );

beforeAll(() => {
  lab = renderOnlyLab("lib");
});
afterAll(() => lab?.cleanup());

describe("backup-lib.sh", () => {
  it("json_str escapes quotes, backslashes and control characters", async () => {
    const r = await lib(`json_str "$1"`, ['a"b\\c\nd\te\x01f']);
    expect(JSON.parse(r.stdout)).toBe('a"b\\c\nd\te\x01f');
  });

  it("verify_checksum: OK, mismatch, and a checksum file naming another file", async () => {
    const d = join(lab.root, "sums");
    mkdirSync(d);
    writeFileSync(join(d, "a.dump"), "aaa");
    writeFileSync(join(d, "b.dump"), "aaa");
    // b.dump.sha256 names a.dump: `sha256sum -c` would check the wrong file, so it is not a valid sum.
    const r = await lib(
      `cd "$1"; write_checksum a.dump; checksum_status a.dump; cp a.dump.sha256 b.dump.sha256; checksum_status b.dump; echo more >> a.dump; checksum_status a.dump`,
      [d],
    );
    expect(r.stdout.split("\n")).toEqual(["OK", "MISSING_SUM", "MISMATCH"]);
  });

  it("verify_checksum_recorded trusts a match recorded at the file's mtime and size; any other change is re-hashed, and verify_checksum always hashes", async () => {
    const d = join(lab.root, "marks");
    mkdirSync(d);
    const r = await lib(
      `cd "$1"; st() { local rc=0; "$@" || rc=$?; echo "$rc"; }
       echo "some dump bytes" > a.dump; write_checksum a.dump
       st verify_checksum_recorded a.dump                       # no mark yet: hashed, matches, marked
       [[ "$(stat -c %.9Y a.dump)" == "$(stat -c %.9Y a.dump.sha256)" ]] && echo marked
       touch -r a.dump ref; printf X | dd of=a.dump bs=1 seek=2 conv=notrunc status=none; touch -r ref a.dump
       st verify_checksum_recorded a.dump                       # same size, mtime put back: trusted (no read)
       st verify_checksum a.dump                                # the real hash catches it, and unmarks
       st verify_checksum_recorded a.dump                       # so the mark is not trusted any more
       echo "fresh bytes" > b.dump; write_checksum b.dump; verify_checksum b.dump
       printf X | dd of=b.dump bs=1 seek=2 conv=notrunc status=none
       st verify_checksum_recorded b.dump                       # a new mtime: re-hashed
       echo "sized bytes" > c.dump; write_checksum c.dump; printf '{"size_bytes": 12}\\n' > c.dump.manifest.json
       verify_checksum c.dump; touch -r c.dump ref; echo more >> c.dump; touch -r ref c.dump
       st verify_checksum_recorded c.dump                       # the manifest's size differs: re-hashed
       SHA256_TOOL=sha256sum; [[ "$(sha256_stdin < a.dump)" == "$(openssl dgst -sha256 -r < a.dump | cut -c1-64)" ]] && echo same-hash`,
      [d],
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split("\n")).toEqual(["0", "marked", "0", "1", "1", "1", "1", "same-hash"]);
  });

  it("retention keeps the newest keep_min verified backups even when all are old, and never deletes unverified ones", async () => {
    const d = join(lab.root, "ret");
    mkdirSync(d);
    const r = await lib(
      `cd "$1"
       for i in 1 2 3 4 5 6; do echo "dump $i" > app_2020-01-0\${i}.dump; write_checksum app_2020-01-0\${i}.dump; touch -d "$((100 - i)) days ago" app_2020-01-0\${i}.dump; done
       echo bad > app_2020-02-01.dump; echo "$(printf '0%.0s' {1..64})  app_2020-02-01.dump" > app_2020-02-01.dump.sha256; touch -d "20 days ago" app_2020-02-01.dump
       echo nosum > app_2020-02-02.dump; touch -d "10 days ago" app_2020-02-02.dump
       echo x > app_orphan.dump.sha256
       retention_prune "$1" 'app_*.dump' 30 3`,
      [d],
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const left = readdirSync(d)
      .filter((f) => f.endsWith(".dump"))
      .sort();
    expect(left).toEqual([
      "app_2020-01-04.dump",
      "app_2020-01-05.dump",
      "app_2020-01-06.dump",
      "app_2020-02-01.dump",
      "app_2020-02-02.dump",
    ]);
    expect(readdirSync(d)).not.toContain("app_orphan.dump.sha256");
    expect(r.stderr).toMatch(/keeping unverified backup app_2020-02-01\.dump/);
  });

  it("media retention never counts an empty snapshot toward keep_min while snapshots with files exist", async () => {
    // Four real snapshots 40-43 days old, then a month of empty ones (an unmounted volume), the
    // newest today: keep_min 3 must keep three REAL ones, not three empty ones. Named and dated alike.
    const d = join(lab.root, "media-ret");
    mkdirSync(d);
    const stamp = async (daysAgo: number) =>
      (await execa("date", ["-d", `${daysAgo} days ago`, "+%Y-%m-%d_%H-%M-%S"])).stdout;
    const real = await Promise.all([40, 41, 42, 43].map(stamp));
    const empty = await Promise.all(Array.from({ length: 30 }, (_, i) => stamp(i)));
    const r = await lib(
      `cd "$1"
       snap() { # NAME DAYS_AGO FILES
         local i; mkdir "$1"; for ((i = 0; i < $3; i++)); do echo "$i" > "$1/f$i"; done
         (cd "$1" && find . -type f -printf '%P\\0' | xargs -0 -r sha256sum --) > "$1.sha256"
         printf '{"kind": "media", "files": %s, "bytes": 0}\\n' "$3" > "$1.manifest.json"
         touch -d "$2 days ago" "$1"
       }
       i=40; for n in $2; do snap "$n" $i 2; i=$((i + 1)); done
       i=0; for n in $3; do snap "$n" $i 0; i=$((i + 1)); done
       retention_prune "$1" '[0-9]*_[0-9]*' 30 3 media_retention_verdict`,
      [d, real.join(" "), empty.join(" ")],
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const left = readdirSync(d).filter((f) => /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/.test(f));
    expect(left.filter((f) => real.includes(f)).sort()).toEqual(real.slice(0, 3).sort());
    // The empty ones inside the window stay by age (none is older than 30 days).
    expect(left.filter((f) => empty.includes(f))).toHaveLength(30);
    // With no real snapshot at all, empty ones are all there is: the newest keep_min stay.
    const e = join(lab.root, "media-empty");
    mkdirSync(e);
    const old = await Promise.all([95, 96, 97, 98, 99].map(stamp));
    const r2 = await lib(
      `cd "$1"; i=95
       for n in $2; do mkdir "$n"; : > "$n.sha256"
         printf '{"kind": "media", "files": 0, "bytes": 0}\\n' > "$n.manifest.json"
         touch -d "$i days ago" "$n"; i=$((i + 1)); done
       retention_prune "$1" '[0-9]*_[0-9]*' 30 3 media_retention_verdict`,
      [e, old.join(" ")],
    );
    expect(r2.exitCode, r2.stderr).toBe(0);
    expect(
      readdirSync(e)
        .filter((f) => !f.includes("."))
        .sort(),
    ).toEqual(old.slice(0, 3).sort());
  });

  it("retention ages by the time in the names and holds the backups before a gap longer than the window until a window follows it", async () => {
    const d = join(lab.root, "gap");
    mkdirSync(d);
    const at = async (spec: string) => ({
      stamp: (await execa("date", ["-d", spec, "+%Y-%m-%d_%H-%M-%S"])).stdout,
      epoch: Number((await execa("date", ["-d", spec, "+%s"])).stdout),
    });
    // Old ones 100-104 days ago; after a gap, one 31 days ago, then 29 daily ones up to today. Each
    // file is touched NOW: only the names tell their ages.
    const old = await Promise.all([100, 101, 102, 103, 104].map((n) => at(`${n} days ago`)));
    const after = await Promise.all(Array.from({ length: 30 }, (_, i) => at(`${i === 29 ? 31 : i} days ago`)));
    const names = [...old, ...after].map((x) => `app_${x.stamp}.dump`);
    const prune = (hold?: string) =>
      lib(
        `cd "$1"; shift
         for n in "$@"; do [ -e "$n" ] || { echo "$n" > "$n"; write_checksum "$n"; }; done
         ${hold ? `echo '${hold}' > .retention-hold` : ""}
         retention_prune . 'app_*.dump' 30 3`,
        [d, ...names],
      );
    // A hold written when the gap was new (before: the newest old one, after: the first after it):
    // 31 days of backups after the gap cover the 30-day window, so it is released and the old go.
    const r = await prune(`${old[0]!.epoch} ${after[29]!.epoch}`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the hold on older ones is released/);
    // Everything older than the window went, the one 31 days ago too; the 29 of the window stay.
    const dumps = readdirSync(d).filter((f) => f.endsWith(".dump"));
    expect(dumps.sort()).toEqual(
      after
        .slice(0, 29)
        .map((x) => `app_${x.stamp}.dump`)
        .sort(),
    );
    expect(readdirSync(d)).not.toContain(".retention-hold");
    // The same store while the window after the gap is not full yet (the first after it 10 days ago).
    const r2 = await prune(`${old[0]!.epoch} ${after[10]!.epoch}`);
    expect(r2.exitCode, r2.stderr).toBe(0);
    expect(r2.stderr).toMatch(/retention on hold .*: 5 backup\(s\) older than 30 days kept/);
    for (const o of old) expect(readdirSync(d)).toContain(`app_${o.stamp}.dump`);
  });

  it("on_exit_remove removes partial files after a failure and a signal", async () => {
    const d = join(lab.root, "trap");
    mkdirSync(d);
    const r = await lib(`touch "$1/.x.partial"; on_exit_remove "$1/.x.partial"; false`, [d]);
    expect(r.exitCode).toBe(1);
    const s = await lib(`touch "$1/.y.partial"; on_exit_remove "$1/.y.partial"; kill -TERM $$; sleep 5`, [d]);
    expect(s.exitCode).toBe(143);
    expect(readdirSync(d)).toEqual([]);
  });

  it("parse_restore_args: one backup, --force, value options in both forms; every mistake is a usage error", async () => {
    // A script of its own, as the restore scripts use it: arguments parsed before lib_init.
    const script = join(lab.root, "restore-x.sh");
    writeFileSync(
      script,
      `#!/usr/bin/env bash
# Usage: restore-x.sh <dump> [--force] [--target-db NAME] [--jobs N]
set -Eeuo pipefail
source "${lab.vars.paths.scripts_dir}/backup-lib.sh"
parse_restore_args dump "give a .dump file" "--target-db:T:a database name" "--jobs:J:a number" -- "$@"
printf '%s|%s|%s|%s' "$RESTORE_ARG" "$FORCE" "$T" "$J"
`,
    );
    const parse = (args: string[]) => execa("bash", [script, ...args], { reject: false });
    expect((await parse(["a b.dump"])).stdout).toBe("a b.dump|0||");
    expect((await parse(["--force", "x.dump", "--target-db", "s p", "--jobs=3"])).stdout).toBe("x.dump|1|s p|3");
    expect((await parse(["-f", "--target-db=t", "x.dump"])).stdout).toBe("x.dump|1|t|");
    for (const [args, message] of [
      [[], "which dump? give a .dump file"],
      [["a", "b"], "only one dump can be restored at a time (got a and b)"],
      [["a", "--target-db"], "--target-db needs a database name"],
      [["a", "--target-db", ""], "--target-db needs a database name"],
      [["a", "--jobs="], "--jobs needs a number"],
      [["a", "--target"], "unknown option: --target"],
      [["a", "--target-dbx=y"], "unknown option: --target-dbx=y"],
    ] as [string[], string][]) {
      const r = await parse(args);
      expect(r.exitCode, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toContain(`restore-x.sh: error: ${message}`);
      expect(r.stderr).toContain("Usage: restore-x.sh <dump>");
    }
  });

  it("a missing configuration file exits 78 with a clear message", async () => {
    const r = await execa("bash", ["-c", `source "${lab.vars.paths.scripts_dir}/backup-lib.sh"; lib_init x`], {
      reject: false,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", BACKUP_CONF: "/nonexistent/backup.conf" },
      extendEnv: false,
    });
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(/configuration file \/nonexistent\/backup\.conf is missing/);
  });
});
