// The CLI bundle (every playbook bundled by esbuild, bin/build.mjs) and whether it is stale. Plain
// JavaScript, loaded by the launcher before anything else: it may import nothing heavier than
// node:fs, since it runs at every start.
//
// Staleness: the build records every file it read (each source, each bundled file of
// node_modules, the build script, package.json, tsconfig.json, esbuild's package.json) with its
// size, mtime, ctime and inode. The bundle is fresh when every one of them still has the same four
// (one stat per file, no reading): an edit changes the ctime even when it keeps the size and puts
// the mtime back, and a file replaced by a checkout, a move or an npm install is a new inode. A
// new file can only change what runs through an edit of a file that imports it, which is recorded,
// or as a new playbook, which changes the recorded playbooks/ directory.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's root: this file is bin/bundle.mjs. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where builds go: <repo>/.build/<build>/, and .build/current, a symlink to the newest one. */
export const buildRoot = (repo = REPO) => join(repo, ".build");

/** A file's signature: what changes when its content can have changed. Null when it is gone. */
export function signature(path) {
  try {
    const s = statSync(path, { bigint: true, throwIfNoEntry: false });
    return s ? `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}` : null;
  } catch {
    return null;
  }
}

/**
 * The current build, if it is fresh: `{ dir, stamp }` with `dir` its real path (the chunks a run
 * loads later come from the same build, even if another run swaps `current` meanwhile); else
 * `{ stale: reason }`.
 */
export function currentBuild(repo = REPO) {
  const link = join(buildRoot(repo), "current");
  let dir;
  let stamp;
  try {
    dir = realpathSync(link);
    stamp = JSON.parse(readFileSync(join(dir, "stamp.json"), "utf8"));
  } catch {
    return { stale: "no build yet" };
  }
  if (stamp.format !== 1 || stamp.repo !== repo) return { stale: "built by another version or for another checkout" };
  // About 600 files: one stat each, ~10 ms (path.resolve per file would double it).
  for (const [file, sig] of Object.entries(stamp.files)) {
    if (signature(`${repo}/${file}`) !== sig) return { stale: `${file} changed since the build` };
  }
  return { dir, stamp };
}

/**
 * A fresh build's directory: the current one when nothing changed, else a new build (esbuild loads
 * only then). `note` hears why a build was needed.
 */
export async function ensureBuild(repo = REPO, note = () => undefined) {
  const c = currentBuild(repo);
  if (c.dir) return c.dir;
  note(c.stale);
  const { build } = await import("./build.mjs");
  return build(repo);
}

/** The bundle of a command in a build directory, or undefined when the build has no such command. */
export function entryOf(dir, command) {
  const f = join(dir, `${command}.mjs`);
  return /^[a-z][a-z0-9-]*$/.test(command) && existsSync(f) ? f : undefined;
}
