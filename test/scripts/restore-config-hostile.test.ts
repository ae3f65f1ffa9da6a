// restore-config.sh against archives crafted by whoever owns the backup tree (the backup user, when
// it is not root), each with a valid .sha256: nothing they hold may raise privileges when root
// restores them. No setuid/setgid files, no device nodes or FIFOs, no links, no archived owners,
// no member outside the target; and the archive is opened once (root's own copy), so swapping it
// while the restore waits for "yes" changes nothing.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import {
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  existsSync,
  lstatSync,
  rmSync,
  renameSync,
} from "node:fs";
import { join } from "node:path";
import { execa, type Result } from "execa";
import { renderOnlyLab } from "./backup-harness.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";

let lab: { root: string; vars: ResolvedVars; cleanup: () => void };
const cfg = () => join(lab.vars.paths.backup_dir, "config");

function run(args: string[]): Promise<Result> {
  return execa(join(lab.vars.paths.scripts_dir, "restore-config.sh"), args, {
    reject: false,
    stdin: "ignore",
    extendEnv: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" },
  });
}

interface Member {
  name: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "chardev" | "fifo";
  mode?: number;
  uid?: number;
  content?: string;
  link?: string;
}

// Debian's python3 writes the members exactly as given (GNU tar would refuse or rewrite some).
const CRAFT = `
import io, json, sys, tarfile
spec = json.loads(sys.argv[2])
kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE, "chardev": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT) as t:
    for m in spec:
        i = tarfile.TarInfo(m["name"])
        i.type = kinds[m.get("type", "file")]
        i.mode = m.get("mode", 0o644)
        i.uid = i.gid = m.get("uid", 0)
        i.mtime = 1700000000
        i.linkname = m.get("link", "")
        if i.type == tarfile.CHRTYPE:
            i.devmajor, i.devminor = 1, 3
        data = m.get("content", "").encode()
        i.size = len(data) if i.type == tarfile.REGTYPE else 0
        t.addfile(i, io.BytesIO(data) if i.type == tarfile.REGTYPE else None)
`;

/** A crafted archive with a valid checksum in $BACKUP_DIR/config; returns its path. */
async function craft(stamp: string, members: Member[]): Promise<string> {
  const name = `config_2001-01-01_00-00-${stamp}.tar.gz`;
  const file = join(cfg(), name);
  await execa("/usr/bin/python3", ["-c", CRAFT, file, JSON.stringify(members)]);
  const hash = (await execa("sha256sum", [file])).stdout.slice(0, 64);
  writeFileSync(`${file}.sha256`, `${hash}  ${name}\n`);
  return file;
}

/** Every path under dir with its type and mode, for "nothing changed" and "nothing dangerous" checks. */
async function listing(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const r = await execa("find", [dir, "-mindepth", "1", "-printf", "%P %y %m %u\\n"]);
  return r.stdout.split("\n").filter(Boolean).sort();
}

const TARGET = () => join(lab.root, "target");

beforeAll(() => {
  lab = renderOnlyLab("restore-config-hostile");
  mkdirSync(cfg(), { recursive: true });
});
afterAll(() => lab?.cleanup());

describe("restore-config.sh and hostile archives", () => {
  it("refuses a setuid root binary, a setgid file and a world-writable device node or FIFO: nothing lands", async () => {
    const cases: [string, Member[], RegExp][] = [
      [
        "01",
        [
          { name: ".env", content: "A=1\n" },
          { name: "bin/rootshell", mode: 0o4755, content: "#!/bin/sh\nexec /bin/sh -p\n" },
        ],
        /bin\/rootshell.*setuid/,
      ],
      ["02", [{ name: "tools/x", mode: 0o2755, content: "x" }], /tools\/x.*setgid/],
      [
        "03",
        [
          { name: ".env", content: "A=1\n" },
          { name: "nginx/null", type: "chardev", mode: 0o666 },
        ],
        /device/,
      ],
      ["04", [{ name: "pipe", type: "fifo", mode: 0o666 }], /FIFO/],
    ];
    for (const [stamp, members, why] of cases) {
      rmSync(TARGET(), { recursive: true, force: true });
      mkdirSync(TARGET());
      writeFileSync(join(TARGET(), ".env"), "LIVE=1\n");
      const before = await listing(TARGET());
      const r = await run([await craft(stamp, members), "--force", "--target", TARGET()]);
      expect(r.exitCode, stamp).toBe(1);
      expect(r.stderr, stamp).toMatch(why);
      expect(r.stderr, stamp).toMatch(/refusing to restore/);
      expect(await listing(TARGET()), stamp).toEqual(before);
      expect(readFileSync(join(TARGET(), ".env"), "utf8")).toBe("LIVE=1\n");
    }
  });

  it("refuses members outside the target (absolute, ..) and a hard link to a file outside the archive", async () => {
    const cases: [string, Member[], RegExp][] = [
      ["11", [{ name: "/etc/cep-pwned", content: "x" }], /outside the target/],
      ["12", [{ name: "../../cep-pwned", content: "x" }], /outside the target/],
      ["13", [{ name: "nginx/../../cep-pwned", content: "x" }], /outside the target/],
      ["14", [{ name: "shadow", type: "hardlink", link: "/etc/shadow" }], /refusing to restore/],
      ["15", [{ name: "passwd", type: "hardlink", link: "../../../../etc/passwd" }], /refusing to restore/],
    ];
    for (const [stamp, members, why] of cases) {
      rmSync(TARGET(), { recursive: true, force: true });
      mkdirSync(TARGET());
      const r = await run([await craft(stamp, members), "--force", "--target", TARGET()]);
      expect(r.exitCode, stamp).toBe(1);
      expect(r.stderr, stamp).toMatch(why);
      expect(await listing(TARGET()), stamp).toEqual([]);
    }
    expect(existsSync("/etc/cep-pwned")).toBe(false);
    expect(existsSync(join(lab.root, "cep-pwned"))).toBe(false);
  });

  it("restores the files of an archive with links, owners and odd modes: no link, no archived owner, no special bit", async () => {
    rmSync(TARGET(), { recursive: true, force: true });
    mkdirSync(join(TARGET(), "nginx"), { recursive: true });
    writeFileSync(join(TARGET(), "nginx", "site.conf"), "live\n");
    const archive = await craft("21", [
      { name: "nginx/", type: "dir", mode: 0o755, uid: 4242 },
      { name: "nginx/site.conf", content: "restored\n", uid: 4242, mode: 0o640 },
      { name: "nginx/same.conf", type: "hardlink", link: "nginx/site.conf" },
      { name: "passwd", type: "symlink", link: "/etc/passwd" },
      { name: "nginx/escape", type: "symlink", link: "../../.." },
      { name: "docker-compose.yml", content: "services: {}\n", uid: 4242, mode: 0o664 },
      // A name tar lists escaped (\303\261...) is restored under its real name.
      { name: "nginx/ñandú.conf", content: "ñ\n" },
    ]);
    const r = await run([archive, "--force", "--target", TARGET()]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    // Links are not restored (named in the log and the report); a hard link's content is a plain copy.
    expect(existsSync(join(TARGET(), "passwd"))).toBe(false);
    expect(() => lstatSync(join(TARGET(), "nginx", "escape"))).toThrow();
    const skipped = /^Skipped: 2 symbolic link\(s\) not restored: (.*)$/m.exec(String(r.stdout));
    expect(skipped?.[1]!.split(" ").sort()).toEqual(["nginx/escape", "passwd"]);
    expect(readFileSync(join(TARGET(), "nginx", "site.conf"), "utf8")).toBe("restored\n");
    expect(readFileSync(join(TARGET(), "nginx", "same.conf"), "utf8")).toBe("restored\n");
    expect(lstatSync(join(TARGET(), "nginx", "same.conf")).nlink).toBe(1);
    // Owners come from the target, never from the archive; the permission bits are the archive's.
    for (const line of await listing(TARGET())) expect(line, line).not.toMatch(/ 4242$/);
    expect(await listing(TARGET())).toEqual([
      "docker-compose.yml f 664 root",
      "nginx d 755 root",
      "nginx/same.conf f 640 root",
      "nginx/site.conf f 640 root",
      "nginx/ñandú.conf f 644 root",
    ]);
    expect(readFileSync(join(TARGET(), "nginx", "ñandú.conf"), "utf8")).toBe("ñ\n");
    // The pre-restore copy holds the replaced file.
    const pre = readdirSync(join(cfg(), "pre-restore")).filter((f) => f.endsWith(".tar.gz"));
    expect(pre.length).toBeGreaterThan(0);
  });

  it("opens the archive once: swapping it while the restore waits for 'yes' restores the verified one", async () => {
    rmSync(TARGET(), { recursive: true, force: true });
    mkdirSync(TARGET());
    writeFileSync(join(TARGET(), ".env"), "LIVE=1\n");
    const good = await craft("31", [{ name: ".env", content: "VERIFIED=1\n" }]);
    const evil = await craft("32", [
      { name: ".env", content: "SWAPPED=1\n" },
      { name: "rootshell", mode: 0o4755, content: "#!/bin/sh\n" },
    ]);
    // A terminal for the confirmation: script(1) gives the restore a pty; we answer on its stdin.
    const cmd = `${join(lab.vars.paths.scripts_dir, "restore-config.sh")} ${good} --target ${TARGET()}`;
    const p = execa("script", ["-qefc", cmd, "/dev/null"], {
      reject: false,
      stdin: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" },
      extendEnv: false,
    });
    let out = "";
    p.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    for (let i = 0; i < 200 && !out.includes('Type "yes"'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain('Type "yes"');
    // The backup tree's owner swaps the archive it was asked to restore (the checksum file stays).
    renameSync(evil, good);
    p.stdin!.write("yes\n");
    p.stdin!.end();
    const r = await p;
    expect(r.exitCode, out).toBe(0);
    expect(readFileSync(join(TARGET(), ".env"), "utf8")).toBe("VERIFIED=1\n");
    expect(existsSync(join(TARGET(), "rootshell"))).toBe(false);
  });
});
