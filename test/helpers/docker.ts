// A real Docker engine for the tests: a private dockerd (its own data root, exec root, socket and
// pidfile; no bridge, no iptables; no image needed: volumes only), stopped by its own PID.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { pidFromFile, signal, waitGone } from "../../src/lab/process.ts";

export interface Dockerd {
  /** DOCKER_HOST for it: unix:///…/docker.sock */
  host: string;
  dir: string;
  /** Run the docker CLI against it. */
  docker(args: string[]): Promise<string>;
  /** A new volume's mountpoint. */
  createVolume(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startDockerd(): Promise<Dockerd> {
  // Short paths: the engine's and containerd's sockets must fit in sun_path (108 bytes).
  const dir = mkdtempSync(join(tmpdir(), "cep-dk-"));
  const sock = join(dir, "docker.sock");
  const pidfile = join(dir, "docker.pid");
  const host = `unix://${sock}`;
  const proc = execa(
    "dockerd",
    [
      "--data-root",
      join(dir, "data"),
      "--exec-root",
      join(dir, "exec"),
      "--host",
      host,
      "--pidfile",
      pidfile,
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      // vfs works on any filesystem (overlay2 on overlay, as in CI containers, may not).
      "--storage-driver=vfs",
    ],
    { reject: false, stdin: "ignore", stdout: "ignore", stderr: { file: join(dir, "dockerd.log") } },
  );
  proc.catch(() => undefined);
  const docker = async (args: string[]) =>
    (await execa("docker", args, { env: { DOCKER_HOST: host }, extendEnv: true })).stdout;
  const stop = async () => {
    // By its own PID (its pidfile, else the child we started); its containerd ends with it.
    const pid = pidFromFile(pidfile) ?? proc.pid;
    if (pid !== undefined) {
      signal(pid, "SIGTERM");
      await waitGone([pid], 15_000);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 60_000;
  for (;;) {
    const r = await execa("docker", ["version", "--format", "{{.Server.Version}}"], {
      env: { DOCKER_HOST: host },
      reject: false,
    });
    if (r.exitCode === 0) break;
    if (proc.exitCode !== null || Date.now() > end) {
      let log = "";
      try {
        log = readFileSync(join(dir, "dockerd.log"), "utf8").split("\n").slice(-15).join("\n");
      } catch {
        /* none */
      }
      await stop();
      throw new Error(`dockerd did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    host,
    dir,
    docker,
    async createVolume(name) {
      await docker(["volume", "create", name]);
      return docker(["volume", "inspect", "--format", "{{.Mountpoint}}", name]);
    },
    stop,
  };
}
