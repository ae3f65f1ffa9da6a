// A clock that is wrong for the scripts alone: a `date` first on PATH that adds an offset to "now"
// (dates given with -d/-r/-f/-s are passed through), as a host whose clock jumped would show it.
// Everything else (the kernel, touch, find -mmin) keeps the real time, as on such a host the files
// written before the jump do.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A directory with the shimmed `date`; put it first on PATH. */
export function skewedClockBin(dir: string, offsetSeconds: number): string {
  const bin = join(dir, `clock${offsetSeconds >= 0 ? "+" : ""}${offsetSeconds}`);
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, "date"),
    `#!/bin/bash
for a in "$@"; do
  case "$a" in -d* | --date* | -r* | --reference* | -f* | --file* | -s* | --set*) exec /bin/date "$@" ;; esac
done
now=$(/bin/date +%s.%N)
exec /bin/date -d "@$((\${now%.*} + ${offsetSeconds})).\${now#*.}" "$@"
`,
    { mode: 0o755 },
  );
  return bin;
}
