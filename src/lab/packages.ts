// The Debian packages the lab needs (sshd, ssh-keygen, PostgreSQL 15, rsync): installed with
// apt-get when we are root, otherwise named in the error.
import { execa } from "execa";
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { PG_BIN } from "./postgres.ts";
import { LabError } from "./state.ts";

const REQUIRED: { pkg: string; path: string }[] = [
  { pkg: "openssh-server", path: "/usr/sbin/sshd" },
  { pkg: "openssh-client", path: "/usr/bin/ssh-keygen" },
  { pkg: "postgresql-15", path: join(PG_BIN, "initdb") },
  { pkg: "rsync", path: "/usr/bin/rsync" },
];

function missingPackages(): { pkg: string; path: string }[] {
  return REQUIRED.filter((r) => !existsSync(r.path));
}

/**
 * Make sure sshd, ssh-keygen, PostgreSQL 15 and rsync are installed: as root, apt-get installs what
 * is missing (after an apt-get update when the first attempt fails); otherwise a LabError names it.
 */
export async function ensureLabPackages(log: (line: string) => void = () => {}): Promise<void> {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const names = [...new Set(missing.map((m) => m.pkg))];
  const what = missing.map((m) => `${m.pkg} (${m.path} is missing)`).join(", ");
  if (userInfo().uid !== 0) {
    throw new LabError(
      `The lab needs Debian packages that are not installed: ${what}.\nInstall them as root:\n  sudo apt-get install -y ${names.join(" ")}`,
    );
  }
  if (!existsSync("/usr/bin/apt-get"))
    throw new LabError(
      `The lab needs ${what}, and there is no apt-get to install them with: install ${names.join(" ")}.`,
    );
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    execa("apt-get", ["install", "-y", "--no-install-recommends", ...names], { env, stdin: "ignore" });
  log(`installing ${names.join(" ")}`);
  try {
    await install();
  } catch {
    log("apt-get install failed; running apt-get update and retrying");
    await execa("apt-get", ["update"], { env, stdin: "ignore" });
    await install();
  }
  const still = missingPackages();
  if (still.length)
    throw new LabError(`Installed ${names.join(" ")} but still missing: ${still.map((m) => m.path).join(", ")}`);
}
