// Before any test file runs: bring the CLI bundle up to date once (node bin/cep.mjs build), so
// that test files starting the CLI at the same time do not each rebuild it. They still run it
// through the launcher, which rebuilds if a source changes while the suite runs.
import { execa } from "execa";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../bin/cep.mjs", import.meta.url));

export default async function setup(): Promise<void> {
  const r = await execa(process.execPath, [CLI, "build"], { reject: false, stdin: "ignore" });
  if (r.exitCode !== 0) throw new Error(`node bin/cep.mjs build failed:\n${r.stderr}`);
}
