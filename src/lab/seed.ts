// What a lab host holds: a Payload-CMS-like database, an uploads folder and an app folder with the
// spec's config files. The data are files under src/lab/seed/: payload.sql (the schema and rows)
// and app/ (the app folder, as it lands on a host). This module writes them, and generates the
// uploads' bytes. Everything is deterministic (same rows, same bytes on every host and every run),
// so backups can be verified byte for byte.
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import picomatch from "picomatch";
import { DEFAULT_VARS } from "../inventory/defaults.ts";
import { psqlSuper, sqlLiteral, type PgCluster } from "./postgres.ts";

/** The seed's data files: payload.sql and app/. */
export const SEED_DIR = join(dirname(fileURLToPath(import.meta.url)), "seed");
const APP_SEED_DIR = join(SEED_DIR, "app");

// ---- deterministic bytes ---------------------------------------------------------------------

/** `n` pseudo-random bytes derived from `label` (sha256 in counter mode): the same on every run. */
export function deterministicBytes(label: string, n: number): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0, got = 0; got < n; i++) {
    const h = createHash("sha256").update(`${label}:${i}`).digest();
    chunks.push(h);
    got += h.length;
  }
  return Buffer.concat(chunks).subarray(0, n);
}

function sizeFor(label: string, min: number, max: number): number {
  return min + (deterministicBytes(`size:${label}`, 4).readUInt32BE(0) % (max - min + 1));
}

const MAGIC: Record<string, Buffer> = {
  jpg: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]),
  png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  webp: Buffer.from("RIFF\0\0\0\0WEBPVP8 ", "latin1"),
  pdf: Buffer.from("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "latin1"),
  mp4: Buffer.from([0x00, 0x00, 0x00, 0x18, 0x66, 0x74, 0x79, 0x70, 0x6d, 0x70, 0x34, 0x32]),
};

// ---- uploads ---------------------------------------------------------------------------------

export interface UploadFile {
  /** Path relative to the uploads folder (NFC UTF-8; may hold spaces and non-ASCII). */
  path: string;
  bytes: number;
  /** Matches the default media_excludes (.DS_Store, Thumbs.db, *.tmp): backups must leave it out. */
  excluded: boolean;
}

const pad = (n: number) => String(n).padStart(2, "0");

function uploadPaths(): { path: string; excluded: boolean }[] {
  const files: string[] = [];
  for (let i = 1; i <= 16; i++) files.push(`images/courses/curso-${pad(i)}.jpg`);
  for (let i = 1; i <= 8; i++) files.push(`images/courses/thumbnails/curso-${pad(i)}-400x300.webp`);
  for (let m = 1; m <= 6; m++) files.push(`images/blog/2025/${pad(m)}/post-${m}.png`);
  for (let i = 1; i <= 6; i++) files.push(`images/avatars/user-${pad(i)}.png`);
  for (const c of [
    "marketing-digital",
    "produccion-audiovisual",
    "diseno-grafico",
    "periodismo",
    "comunicacion-corporativa",
  ])
    files.push(`documents/brochures/folleto-${c}.pdf`);
  files.push("documents/legal/politica-privacidad.pdf", "documents/legal/aviso-legal.pdf");
  files.push("videos/intro-teaser.mp4");
  files.push("images/año-ñandú.jpg".normalize("NFC"));
  files.push("images/Foto de portada (final).png");
  files.push("campus/sede-madrid.jpg", "campus/sede-sevilla.jpg", "campus/sede-málaga.jpg".normalize("NFC"));
  const excluded = [".DS_Store", "images/.DS_Store", "images/avatars/Thumbs.db", "documents/x.tmp"];
  return [...files.map((path) => ({ path, excluded: false })), ...excluded.map((path) => ({ path, excluded: true }))];
}

function uploadContent(path: string): Buffer {
  const ext = path.slice(path.lastIndexOf(".") + 1);
  const n = path.endsWith(".mp4") ? 8192 : sizeFor(path, 300, 6000);
  if (path.endsWith(".DS_Store"))
    return Buffer.concat([Buffer.from("\0\0\0\x01Bud1", "latin1"), deterministicBytes(path, 120)]);
  if (path.endsWith("Thumbs.db")) return deterministicBytes(path, 512);
  if (path.endsWith(".tmp")) return Buffer.from("partial upload, never backed up\n");
  const magic = MAGIC[ext] ?? Buffer.alloc(0);
  return Buffer.concat([magic, deterministicBytes(path, n - magic.length)]);
}

/** Every file the uploads folder holds, with sizes; `excluded` ones are what backups must skip. */
export const UPLOAD_FILES: readonly UploadFile[] = uploadPaths().map(({ path, excluded }) => ({
  path,
  excluded,
  bytes: uploadContent(path).length,
}));

/** Write the uploads tree under `mediaDir` (files 0644, folders 0755). */
export function writeUploads(mediaDir: string): void {
  for (const f of UPLOAD_FILES) {
    const file = join(mediaDir, f.path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, uploadContent(f.path), { mode: 0o644 });
  }
}

// ---- the app folder ----------------------------------------------------------------------------

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((rel) => statSync(join(dir, rel)).isFile())
    .sort();
}

/** The app folder's files (relative to app_dir): every file under src/lab/seed/app. */
export const APP_FILES: readonly string[] = filesUnder(APP_SEED_DIR);

// The default config_files globs, as backup-config.sh expands them (bash, no dotglob, no globstar).
const isConfigFile = picomatch([...DEFAULT_VARS.config_files]);

/** The spec's config files the lab writes: the app files that DEFAULT_VARS.config_files match. */
export const CONFIG_FILES: readonly string[] = APP_FILES.filter((f) => isConfigFile(f));

/** Files in the app folder that are not config: a config backup must not pick them up. */
export const APP_OTHER_FILES: readonly string[] = APP_FILES.filter((f) => !isConfigFile(f));

/**
 * An app file's content for one host. The .env files hold `{{pg_port}}` (the host's PostgreSQL
 * port) and `{{secret label}}` (a secret of its own per host and label); nothing else is filled.
 */
export function appFileContent(rel: string, ctx: { host: string; pgPort: number }): string {
  const text = readFileSync(join(APP_SEED_DIR, rel), "utf8");
  return text.replace(/\{\{(pg_port|secret ([a-z-]+))\}\}/g, (_, _what: string, label?: string) =>
    label === undefined ? String(ctx.pgPort) : deterministicBytes(`${ctx.host}:${label}`, 24).toString("hex"),
  );
}

/** Write the app folder's files under `appDir`; the .env files are 0600 (they hold secrets). */
export function writeAppFiles(appDir: string, ctx: { host: string; pgPort: number }): void {
  for (const rel of APP_FILES) {
    const file = join(appDir, rel);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    const mode = rel.startsWith(".env") ? 0o600 : 0o644;
    writeFileSync(file, appFileContent(rel, ctx), { mode });
    chmodSync(file, mode);
  }
}

/**
 * A host's root tree: `<prefix>/var/www/<app>` with the config files and the uploads folder.
 * Written once: when `marker` (a file outside the tree; default: the app folder itself) exists,
 * the tree is left as it is, since tests and restores may have changed it on purpose.
 */
export function seedHostTree(
  prefix: string,
  ctx: { host: string; pgPort: number; app?: string; marker?: string },
): { appDir: string; mediaDir: string; created: boolean } {
  const appDir = join(prefix, "var/www", ctx.app ?? "cepcomunicacion");
  const mediaDir = join(appDir, "uploads");
  if (existsSync(ctx.marker ?? appDir)) return { appDir, mediaDir, created: false };
  mkdirSync(mediaDir, { recursive: true, mode: 0o755 });
  writeAppFiles(appDir, ctx);
  writeUploads(mediaDir);
  if (ctx.marker)
    writeFileSync(ctx.marker, `app folder written ${new Date().toISOString()} by src/lab/seed.ts\n`, { mode: 0o644 });
  return { appDir, mediaDir, created: true };
}

// ---- the database ----------------------------------------------------------------------------

/** The 14 Payload collections, in creation order. */
export const COLLECTIONS = [
  "users",
  "media",
  "campuses",
  "cycles",
  "courses",
  "course_runs",
  "students",
  "enrollments",
  "leads",
  "blog_posts",
  "faqs",
  "pages",
  "settings",
  "audit_logs",
] as const;

/** Payload's own bookkeeping tables, also seeded. */
export const PAYLOAD_TABLES = ["payload_migrations", "payload_preferences"] as const;

const mediaRows = UPLOAD_FILES.filter((f) => !f.excluded);

/** Rows per table after seeding. */
export const SEED_ROW_COUNTS: Readonly<Record<(typeof COLLECTIONS)[number] | (typeof PAYLOAD_TABLES)[number], number>> =
  {
    users: 12,
    media: mediaRows.length,
    campuses: 4,
    cycles: 6,
    courses: 30,
    course_runs: 60,
    students: 80,
    enrollments: 120,
    leads: 60,
    blog_posts: 15,
    faqs: 20,
    pages: 8,
    settings: 3,
    audit_logs: 100,
    payload_migrations: 3,
    payload_preferences: 10,
  };

/**
 * The schema and rows, as one SQL script: src/lab/seed/payload.sql, run as the app role (so every
 * object is owned by it, like a database Payload created) after the uploads' files are put in the
 * temporary table it reads the media rows from.
 */
export function seedSql(owner = "cepcomunicacion"): string {
  const uploads = mediaRows.map((f, i) => `(${i + 1}, ${sqlLiteral(f.path)}, ${f.bytes})`).join(",\n  ");
  return [
    `SET ROLE "${owner}";`,
    "CREATE TEMPORARY TABLE seed_uploads (n integer PRIMARY KEY, path text NOT NULL, bytes integer NOT NULL);",
    `INSERT INTO seed_uploads (n, path, bytes) VALUES\n  ${uploads};`,
    readFileSync(join(SEED_DIR, "payload.sql"), "utf8").trimEnd(),
    "DROP TABLE seed_uploads;",
    "RESET ROLE;",
    "",
  ].join("\n");
}

/** Whether the app database already holds the seeded schema. */
export async function isSeeded(c: PgCluster, dbName = "cepcomunicacion"): Promise<boolean> {
  const r = await psqlSuper(c, "SELECT to_regclass('public.payload_preferences') IS NOT NULL;", dbName);
  return r.trim() === "t";
}

/** Create and fill the schema in the app database unless it is there already. Returns whether it seeded. */
export async function seedDatabase(
  c: PgCluster,
  db: { name: string; user: string } = { name: "cepcomunicacion", user: "cepcomunicacion" },
): Promise<boolean> {
  if (await isSeeded(c, db.name)) return false;
  await psqlSuper(c, seedSql(db.user), db.name);
  return true;
}
