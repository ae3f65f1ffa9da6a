// An S3-compatible server on loopback for the off-site tests: the s3rver npm package (it speaks the
// S3 protocol and rejects unknown access keys; it verifies V2 signatures only, so with rclone's V4
// a wrong *secret* is not caught: tests use a wrong access key id), on a free port with its own
// directory, stopped by its PID. restart() brings it back on the same port with the same data.
// Objects are listed with the real client (rclone), in an environment without AWS_CA_BUNDLE
// (rclone 1.60 fails with LoadCustomCABundleError when it is set).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { freePort } from "./ports.ts";
import { REPO } from "./lab.ts";

export const S3_KEY = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface S3Object {
  key: string;
  size: number;
}

export interface S3Server {
  endpoint: string;
  port: number;
  dir: string;
  bucket: string;
  pid(): number | undefined;
  stop(): Promise<void>;
  /** Start again on the same port with the same data directory. */
  restart(): Promise<void>;
  /** Every object below the folder `prefix` of the bucket ("" = all), key and size. */
  list(prefix?: string): Promise<S3Object[]>;
  /** Run rclone against the server (`s3:` is the remote; e.g. ["deletefile", "s3:bucket/key"]). */
  rclone(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Stop and remove the data directory. */
  destroy(): Promise<void>;
}

function waitPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection({ port, host: "127.0.0.1" });
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`s3rver did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** A clean environment for rclone: PATH and HOME only. */
export const rcloneEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() });

export async function startS3(opts: { bucket?: string } = {}): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), "cep-s3-"));
  const bucket = opts.bucket ?? "cep-offsite";
  const port = await freePort();
  const conf = join(dir, "rclone.conf");
  const data = join(dir, "data");
  writeFileSync(
    conf,
    `[s3]\ntype = s3\nprovider = Other\nenv_auth = false\naccess_key_id = ${S3_KEY.accessKeyId}\nsecret_access_key = ${S3_KEY.secretAccessKey}\nendpoint = http://127.0.0.1:${port}\nno_check_bucket = true\n`,
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      process.execPath,
      [
        join(REPO, "node_modules", "s3rver", "bin", "s3rver.js"),
        "-d",
        data,
        "-p",
        String(port),
        "-a",
        "127.0.0.1",
        "--silent",
        "--configure-bucket",
        bucket,
      ],
      { stdio: "ignore" },
    );
    await waitPort(port, 20_000);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.pid === undefined) return;
    const gone = new Promise<void>((r) => c.once("exit", () => r()));
    process.kill(c.pid, "SIGTERM");
    await gone;
  };
  const rclone = async (args: string[]) => {
    const r = await execa("rclone", ["--config", conf, "-q", ...args], {
      reject: false,
      env: rcloneEnv(),
      extendEnv: false,
    });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir,
    bucket,
    pid: () => child?.pid,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    async list(prefix = "") {
      const r = await rclone(["lsjson", "-R", "--files-only", `s3:${bucket}/${prefix}`]);
      if (r.code !== 0) {
        // A prefix nothing was written under yet.
        if (/directory not found/.test(r.stderr)) return [];
        throw new Error(`rclone lsjson failed: ${r.stderr}`);
      }
      const base = prefix.replace(/\/?$/, prefix ? "/" : "");
      return (JSON.parse(r.stdout) as { Path: string; Size: number }[])
        .map((o) => ({ key: `${base}${o.Path}`, size: o.Size }))
        .sort((a, b) => a.key.localeCompare(b.key));
    },
    rclone,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
