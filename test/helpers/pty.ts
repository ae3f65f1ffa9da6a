// Run the CLI at a terminal: a pseudo-terminal from Debian's python3 (pty.fork), answering the
// first "Type the host name" prompt with `answer`. Returns the exit code and everything the
// terminal showed (stdout and stderr together), and the --json report.
import { execa } from "execa";
import { CLI, REPO, readReport, reportPath } from "./lab.ts";

const PTY = String.raw`
import os, pty, select, sys
answer, prompt, argv = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf, sent = b"", False
while True:
    r, _, _ = select.select([fd], [], [], 120)
    if not r:
        break
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    buf += data
    if not sent and prompt in buf:
        os.write(fd, answer.encode() + b"\r")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(buf)
sys.exit(os.waitstatus_to_exitcode(status))
`;

export async function cliAtTerminal(
  playbook: string,
  args: string[],
  answer: string,
  prompt = "Type the host name",
): Promise<{ code: number; output: string; report?: any }> {
  const json = reportPath();
  const r = await execa(
    "/usr/bin/python3",
    ["-c", PTY, answer, prompt, process.execPath, CLI, playbook, ...args, "--json", json],
    {
      cwd: REPO,
      reject: false,
      stdin: "ignore",
    },
  );
  return { code: r.exitCode ?? -1, output: r.stdout + r.stderr, report: readReport(json) };
}
