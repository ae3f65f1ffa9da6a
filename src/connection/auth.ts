// The credentials of a connection, read before any network traffic: a private key file (checked
// with ssh2's parser) or the SSH agent. The same credentials serve every jump host and the target.
import ssh2 from "ssh2"; // CJS: named value imports fail under plain Node ESM
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { HostFailure } from "../errors.ts";

export interface Credentials {
  privateKey?: string;
  agent?: string;
  /** For messages: "private key /path" or "keys of the SSH agent at …". */
  describe: string;
}

function expandHome(p: string): string {
  return p === "~" ? homedir() : p.startsWith("~/") ? `${homedir()}${p.slice(1)}` : p;
}

/** The key at `privateKey` (~ expands), or the agent of SSH_AUTH_SOCK; `name` is the host for messages. */
export async function loadCredentials(privateKey: string | undefined, name: string): Promise<Credentials> {
  if (privateKey) {
    const keyPath = expandHome(privateKey);
    let text: string;
    try {
      text = await readFile(keyPath, "utf8");
    } catch (e) {
      throw new HostFailure(`cannot read private key ${keyPath} for host ${name}: ${(e as Error).message}`);
    }
    const parsed = ssh2.utils.parseKey(text);
    if (parsed instanceof Error)
      throw new HostFailure(
        `cannot use private key ${keyPath} for host ${name}: ${parsed.message}` +
          (/passphrase/i.test(parsed.message)
            ? " (load an encrypted key into the SSH agent and leave private_key unset)"
            : ""),
      );
    return { privateKey: text, describe: `private key ${keyPath}` };
  }
  const agent = process.env.SSH_AUTH_SOCK;
  if (!agent)
    throw new HostFailure(
      `host ${name} has no ssh.private_key and SSH_AUTH_SOCK is not set: configure a private key or start an SSH agent`,
    );
  return { agent, describe: `keys of the SSH agent at ${agent}` };
}
