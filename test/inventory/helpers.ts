// Temporary project trees with inventory files, for the loader tests.
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { InputError } from "../../src/errors.ts";

export async function tempProject(
  name = "inv-",
): Promise<{ dir: string; write: (rel: string, text: string) => Promise<string>; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), name));
  return {
    dir,
    async write(rel, text) {
      const f = path.join(dir, rel);
      await mkdir(path.dirname(f), { recursive: true });
      await writeFile(f, text);
      return f;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The problems of the InputError `p` rejects with (fails the test if it resolves or throws something else). */
export async function problemsOf(p: Promise<unknown> | (() => unknown)): Promise<string[]> {
  try {
    if (typeof p === "function") p();
    else await p;
  } catch (e) {
    if (e instanceof InputError) return e.problems;
    throw e;
  }
  throw new Error("expected an InputError, but it succeeded");
}

/** A minimal valid inventory body; `extra` is appended under the top level. */
export const MINIMAL = `environment: staging
vars:
  database:
    password: { env: DB_PW }
hosts:
  h1:
    ssh: { host: 198.51.100.1 }
`;
