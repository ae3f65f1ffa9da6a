#!/usr/bin/env node
// The one entry point of every command: `node bin/cep.mjs <command> [args]` is what `npm run
// provision|config|status|drill|backups|restore|lab|bench` and the tests run. It runs the esbuild bundle of
// playbooks/<command>.ts, after building it again when any file it was built from changed (see
// bin/bundle.mjs), so what runs is always the code in the working tree, without TypeScript being
// compiled at every start. `node bin/cep.mjs build` only brings the bundle up to date.
import { pathToFileURL } from "node:url";
import { ensureBuild, entryOf, REPO } from "./bundle.mjs";

const USAGE = "Usage: node bin/cep.mjs <provision|config|status|drill|backups|restore|lab|bench|build> [arguments]";

const [command, ...args] = process.argv.slice(2);
if (command === undefined || command === "-h" || command === "--help") {
  process.stdout.write(`${USAGE}\n`);
  process.exit(command === undefined ? 1 : 0);
}

let dir;
try {
  // Rebuilding is silent except at a terminal: output meant for pipes stays the command's own.
  const note = process.stderr.isTTY ? (why) => process.stderr.write(`(building the CLI: ${why})\n`) : undefined;
  dir = await ensureBuild(REPO, note);
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}
if (command === "build") process.exit(0);
const entry = entryOf(dir, command);
if (!entry) {
  process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
  process.exit(1);
}
// The playbook reads its arguments from process.argv.slice(2), as when it is run directly.
process.argv = [process.argv[0], entry, ...args];
await import(pathToFileURL(entry).href);
