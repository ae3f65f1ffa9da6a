// Debian's own cron daemon as the judge of cron.d files: `cron -f` in a private mount namespace
// whose /etc/cron.d, /etc/crontab, crontab spool, /run and /dev/log are temp folders and files, so
// it reads only the files given here, runs nothing of the machine's and logs to a socket we read.
// Needs root (unshare -m, mount). Debian's python3 receives the syslog datagrams (Node has no
// unix datagram sockets).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";

const RECEIVER = `
import os, socket, sys, time
path, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
s.settimeout(0.2)
open(out + ".ready", "w").close()
with open(out, "a") as f:
    while not os.path.exists(stop):
        try:
            f.write(s.recv(65536).decode(errors="replace") + "\\n")
            f.flush()
        except socket.timeout:
            pass
`;

export interface CronVerdict {
  /** The cron.d files cron refused ("Syntax error, this crontab file will be ignored"). */
  ignored: Set<string>;
  /** Every line cron logged. */
  log: string[];
}

/** Start Debian's cron on these cron.d files (name → content), wait until it has read them, stop it. */
export async function cronVerdict(files: Record<string, string>): Promise<CronVerdict> {
  const t = mkdtempSync(join(tmpdir(), "cep-cron-"));
  try {
    for (const d of ["crond", "spool", "run", "realdev"]) mkdirSync(join(t, d));
    writeFileSync(join(t, "crontab"), "");
    for (const [name, content] of Object.entries(files))
      writeFileSync(join(t, "crond", name), content, { mode: 0o644 });
    const log = join(t, "syslog");
    const sock = join(t, "log.sock");
    const stop = join(t, "stop");
    const rx = execa("/usr/bin/python3", ["-c", RECEIVER, sock, log, stop], { reject: false });
    for (let i = 0; i < 100 && !existsSync(`${log}.ready`); i++) await new Promise((r) => setTimeout(r, 50));
    // /dev is replaced by a tmpfs inside the namespace (with the real /dev/null), so /dev/log can be
    // the socket without creating anything in the machine's /dev.
    const mounts = [
      "mount --make-rprivate /",
      `mount --bind /dev ${t}/realdev`,
      "mount -t tmpfs tmpfs /dev",
      "touch /dev/null /dev/log",
      `mount --bind ${t}/realdev/null /dev/null`,
      `mount --bind ${sock} /dev/log`,
      `mount --bind ${t}/crond /etc/cron.d`,
      `mount --bind ${t}/crontab /etc/crontab`,
      `mount --bind ${t}/spool /var/spool/cron/crontabs`,
      `mount --bind ${t}/run /run`,
      "exec cron -f -L 0",
    ].join(" && ");
    const cron = execa("unshare", ["-m", "bash", "-c", mounts], { reject: false });
    // cron logs "Running @reboot jobs" once it has read every file.
    const read = () => (existsSync(log) ? readFileSync(log, "utf8") : "");
    for (let i = 0; i < 200 && !read().includes("Running @reboot jobs"); i++) {
      if (cron.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    cron.kill("SIGTERM");
    const done = await cron;
    writeFileSync(stop, "");
    await rx;
    const lines = read().split("\n").filter(Boolean);
    if (!lines.some((l) => l.includes("Running @reboot jobs")))
      throw new Error(`cron did not start: ${String(done.stderr)} ${lines.join("\n")}`);
    const ignored = new Set<string>();
    for (const l of lines) {
      const m = /\(\*system\*([^)]+)\) ERROR \(Syntax error, this crontab file will be ignored\)/.exec(l);
      if (m) ignored.add(m[1]!);
    }
    return { ignored, log: lines };
  } finally {
    rmSync(t, { recursive: true, force: true });
  }
}
