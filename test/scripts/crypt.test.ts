// lib/crypt.sh called from bash with real age: the identity read once and handed down to a re-run
// as another user on a pipe (never a file), the unlinked plaintext a root restore's backup-user
// step reopens through its inherited descriptor, and the errors a wrong or missing identity gives.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { chmodSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { renderOnlyLab } from "./backup-harness.ts";

let lab: ReturnType<typeof renderOnlyLab>;
let identity = "";
let other = "";
const key = async () => {
  const id = (await execa("age-keygen")).stdout.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  return { id, pub: (await execa("age-keygen", ["-y"], { input: id })).stdout.trim() };
};
const lib = (body: string, opts: { input?: string; args?: string[] } = {}) =>
  execa(
    "bash",
    [
      "-c",
      `set -Eeuo pipefail; source "${lab.vars.paths.scripts_dir}/backup-lib.sh"; lib_init crypttest; ${body}`,
      "crypttest",
      ...(opts.args ?? []),
    ],
    {
      reject: false,
      input: opts.input,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", BACKUP_USER: "nobody" },
      extendEnv: false,
    },
  );

beforeAll(async () => {
  const k = await key();
  identity = k.id;
  other = (await key()).id;
  lab = renderOnlyLab("crypt", (v) => (v.encryption = { recipients: [k.pub], scope: ["database"] }));
  // The other user ("nobody") reads the installed library too.
  chmodSync(lab.root, 0o755);
  const file = join(lab.root, "secret.txt.age");
  await execa("age", ["-r", k.pub, "-o", file], { input: "the plaintext\n" });
});
afterAll(() => lab?.cleanup());

describe("lib/crypt.sh", () => {
  it("crypt_for: config whenever recipients are set, database when in scope, media not", async () => {
    const r = await lib(`for k in config database media; do crypt_for "$k" && echo "$k yes" || echo "$k no"; done`);
    expect(r.stdout.split("\n")).toEqual(["config yes", "database yes", "media no"]);
  });

  it("reads the identity once from stdin; hands it to a re-run as another user on an inherited pipe", async () => {
    const r = await lib(
      `crypt_init_identity -
       crypt_hand_down
       # What lib_init's exec runuser does: the new process inherits the descriptor, not a file.
       /usr/sbin/runuser -u nobody -- env -i PATH="$PATH" CEP_IDENTITY_FD="$CEP_IDENTITY_FD" bash -c '
         set -e; source "$1/backup-lib.sh"; BACKUP_CONF=/dev/null
         crypt_init_identity /root/not-readable-by-nobody
         age -d -i <(printf "%s\\n" "$CRYPT_IDENTITY") -- "$2"' - "${lab.vars.paths.scripts_dir}" "$1"`,
      { input: `# created: today\n${identity}\n`, args: [join(lab.root, "secret.txt.age")] },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe("the plaintext");
    expect(r.stderr).not.toContain(identity);
  });

  it("crypt_open: the plaintext has no name; a backup-user child reopens it through /proc/self/fd", async () => {
    const r = await lib(
      `crypt_init_identity -
       BACKUP_USER=nobody
       crypt_open "$1"
       ls -A "$(dirname -- "$1")"
       /usr/sbin/runuser -u nobody -- env -i CEP_PLAIN_FD="$CEP_PLAIN_FD" bash -c 'cat "/proc/self/fd/$CEP_PLAIN_FD"'
       stat -L -c %U "$CRYPT_PLAIN"`,
      { input: identity, args: [join(lab.root, "secret.txt.age")] },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    // Nothing but the encrypted file beside it (the temporary file was unlinked as it was opened).
    expect(r.stdout.split("\n")).toEqual(["host", "secret.txt.age", "the plaintext", "nobody"]);
    expect(readdirSync(lab.root).sort()).toEqual(["host", "secret.txt.age"]);
    expect(readdirSync("/tmp").filter((f) => f.startsWith(".cep-plain."))).toEqual([]);
  });

  it("a wrong identity, a missing one and one without a key are clear errors", async () => {
    const f = join(lab.root, "secret.txt.age");
    const wrong = await lib(`crypt_init_identity -; crypt_open "$1"`, { input: other, args: [f] });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toMatch(
      /the identity given does not decrypt secret\.txt\.age: it was encrypted for other recipients \(wrong key\?\); nothing was changed/,
    );
    const none = await lib(`crypt_open "$1"`, { args: [f] });
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toMatch(
      /secret\.txt\.age is encrypted \(age\): give the identity that decrypts it with --identity FILE/,
    );
    writeFileSync(join(lab.root, "not-a-key"), "hello\n");
    // Through a script (the identity is read before anything else, a usage error: exit 1).
    const bad = await execa(
      join(lab.vars.paths.scripts_dir, "fetch-offsite.sh"),
      ["--list", "--identity", join(lab.root, "not-a-key")],
      {
        reject: false,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        extendEnv: false,
      },
    );
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/holds no age identity \(a line AGE-SECRET-KEY-1\.\.\.\)/);
    for (const r of [wrong, none, bad]) expect(r.stdout + r.stderr).not.toContain(identity);
  });
});
