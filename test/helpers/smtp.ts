// A real SMTP server on loopback for the mail tests (test/helpers/smtp-server.py: Debian's
// aiosmtpd with TLS and AUTH), its certificate authority, and the messages it accepted.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { freePort } from "./ports.ts";

const SERVER = join(dirname(fileURLToPath(import.meta.url)), "smtp-server.py");

export interface Mail {
  mail_from: string;
  rcpt_tos: string[];
  auth_user: string | null;
  tls: boolean;
  /** The raw message (headers and body, CRLF). */
  content: string;
  /** The Subject header, RFC 2047 words decoded. */
  subject: string;
}

export interface SmtpServer {
  url: string;
  port: number;
  /** PEM of the self-signed certificate (for CURL_CA_BUNDLE). */
  caFile: string;
  mails(): Mail[];
  /** One line per AUTH attempt: "<mechanism> tls=<True|False>". */
  authAttempts(): string[];
  stop(): Promise<void>;
}

function decodeSubject(content: string): string {
  const m = /^Subject: (.*)$/im.exec(content.split(/\r?\n\r?\n/)[0] ?? "");
  const raw = (m?.[1] ?? "").trim();
  return raw.replace(/=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=/gi, (_, b64: string) =>
    Buffer.from(b64, "base64").toString("utf8"),
  );
}

/**
 * Start the server: `mode` starttls (smtp://, STARTTLS required), smtps (TLS from the start) or
 * plain (no TLS, AUTH offered anyway) or open (no TLS, no AUTH).
 */
export async function startSmtpServer(opts: {
  user: string;
  password: string;
  mode?: "starttls" | "smtps" | "plain" | "open";
  delayMs?: number;
}): Promise<SmtpServer> {
  const dir = mkdtempSync(join(tmpdir(), "cep-smtp-"));
  const out = join(dir, "mail");
  await execa("mkdir", [out]);
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  await execa("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  const credentials = join(dir, "credentials");
  writeFileSync(credentials, `${opts.user}\n${opts.password}\n`, { mode: 0o600 });
  const port = await freePort();
  const mode = opts.mode ?? "starttls";
  const proc: ResultPromise = execa(
    "/usr/bin/python3",
    [SERVER, String(port), cert, key, credentials, out, String(opts.delayMs ?? 0), mode],
    { reject: false, stdin: "ignore", buffer: false },
  );
  await new Promise<void>((resolve, reject) => {
    let err = "";
    const t = setTimeout(() => reject(new Error(`SMTP server did not start: ${err}`)), 15_000);
    proc.stderr?.on("data", (b: Buffer) => (err += b.toString()));
    proc.stdout?.on("data", (b: Buffer) => {
      if (b.toString().includes("ready")) {
        clearTimeout(t);
        resolve();
      }
    });
    void proc.then(() => reject(new Error(`SMTP server exited: ${err}`)));
  });
  return {
    port,
    url: `${mode === "smtps" ? "smtps" : "smtp"}://127.0.0.1:${port}`,
    caFile: cert,
    mails: () =>
      readdirSync(out)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => {
          const m = JSON.parse(readFileSync(join(out, f), "utf8")) as Omit<Mail, "subject">;
          return { ...m, subject: decodeSubject(m.content) };
        }),
    authAttempts: () => {
      try {
        return readFileSync(join(out, "auth-attempts"), "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
