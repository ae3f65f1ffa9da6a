// What a lab host holds: a Payload-CMS-like database (14 collections plus Payload's own tables),
// an uploads folder and an app folder with the spec's config files. Everything is deterministic
// (same rows, same bytes on every host and every run), so backups can be verified byte for byte.
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { psqlSuper, sqlLiteral, type PgCluster } from "./postgres.ts";

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

const MIME: Record<string, string> = {
  jpg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  pdf: "application/pdf",
  mp4: "video/mp4",
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

/** The spec's config files (relative to app_dir), as the lab writes them: all match DEFAULT_VARS.config_files. */
export const CONFIG_FILES = [
  ".env",
  ".env.production",
  "docker-compose.yml",
  "docker-compose.prod.yml",
  "payload.config.ts",
  "next.config.ts",
  "nginx/default.conf",
  "Dockerfile",
  "migrations/001_init.sql",
  ".github/workflows/ci.yml",
] as const;

/** Files in the app folder that are not config: a config backup must not pick them up. */
export const APP_OTHER_FILES = ["package.json", "README.md", "src/collections/Courses.ts"] as const;

function appFiles(ctx: { host: string; pgPort: number }): Record<string, string> {
  const secret = (label: string) => deterministicBytes(`${ctx.host}:${label}`, 24).toString("hex");
  const dbUri = `postgresql://cepcomunicacion:lab-placeholder@127.0.0.1:${ctx.pgPort}/cepcomunicacion`;
  return {
    ".env": [
      "# Local development environment",
      "NODE_ENV=development",
      `DATABASE_URI=${dbUri}`,
      `PAYLOAD_SECRET=${secret("payload-dev")}`,
      "NEXT_PUBLIC_SERVER_URL=http://localhost:3000",
      "SMTP_HOST=localhost",
      "SMTP_PORT=1025",
      "",
    ].join("\n"),
    ".env.production": [
      "# Production environment (lab copy)",
      "NODE_ENV=production",
      `DATABASE_URI=${dbUri}`,
      `PAYLOAD_SECRET=${secret("payload-prod")}`,
      "NEXT_PUBLIC_SERVER_URL=https://cepcomunicacion.example",
      "SMTP_HOST=smtp.example.net",
      "SMTP_PORT=587",
      `SMTP_PASS=${secret("smtp")}`,
      `REVALIDATE_TOKEN=${secret("revalidate")}`,
      "",
    ].join("\n"),
    "docker-compose.yml": `services:
  app:
    build: .
    env_file: .env
    ports: ["3000:3000"]
    volumes:
      - ./uploads:/app/uploads
    depends_on: [postgres]
  postgres:
    image: postgres:15-alpine
    environment:
      POSTGRES_DB: cepcomunicacion
      POSTGRES_USER: cepcomunicacion
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}
    volumes:
      - pgdata:/var/lib/postgresql/data
volumes:
  pgdata: {}
`,
    "docker-compose.prod.yml": `services:
  app:
    image: ghcr.io/cepcomunicacion/web:latest
    env_file: .env.production
    restart: unless-stopped
    volumes:
      - /var/www/cepcomunicacion/uploads:/app/uploads
  nginx:
    image: nginx:1.25-alpine
    restart: unless-stopped
    ports: ["80:80", "443:443"]
    volumes:
      - ./nginx:/etc/nginx/conf.d:ro
      - /var/www/cepcomunicacion/uploads:/var/www/uploads:ro
    depends_on: [app]
`,
    "payload.config.ts": `import { buildConfig } from "payload";
import { postgresAdapter } from "@payloadcms/db-postgres";
import { lexicalEditor } from "@payloadcms/richtext-lexical";
import { Users, Media, Courses, CourseRuns, Cycles, Campuses, Leads, Enrollments, Students, BlogPosts, FAQs, Pages, Settings, AuditLogs } from "./src/collections";

export default buildConfig({
  serverURL: process.env.NEXT_PUBLIC_SERVER_URL,
  secret: process.env.PAYLOAD_SECRET || "",
  editor: lexicalEditor(),
  db: postgresAdapter({ pool: { connectionString: process.env.DATABASE_URI } }),
  collections: [Users, Media, Courses, CourseRuns, Cycles, Campuses, Leads, Enrollments, Students, BlogPosts, FAQs, Pages, Settings, AuditLogs],
  upload: { limits: { fileSize: 10_000_000 } },
});
`,
    "next.config.ts": `import type { NextConfig } from "next";
import { withPayload } from "@payloadcms/next/withPayload";

const nextConfig: NextConfig = {
  output: "standalone",
  images: { remotePatterns: [{ protocol: "https", hostname: "cepcomunicacion.example" }] },
};

export default withPayload(nextConfig);
`,
    "nginx/default.conf": `server {
    listen 80;
    server_name cepcomunicacion.example;
    client_max_body_size 20m;

    location /media/ {
        alias /var/www/uploads/;
        expires 30d;
    }

    location / {
        proxy_pass http://app:3000;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }
}
`,
    Dockerfile: `FROM node:20-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci

FROM node:20-alpine AS build
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
RUN npm run build

FROM node:20-alpine
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/.next/standalone ./
EXPOSE 3000
CMD ["node", "server.js"]
`,
    "migrations/001_init.sql": `-- Initial schema (see the Payload migrations table for what ran)
CREATE TABLE IF NOT EXISTS cycles (id serial PRIMARY KEY, name varchar NOT NULL, slug varchar UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS campuses (id serial PRIMARY KEY, name varchar NOT NULL, slug varchar UNIQUE NOT NULL);
`,
    ".github/workflows/ci.yml": `name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with: { node-version: 20, cache: npm }
      - run: npm ci
      - run: npm run lint && npm test
`,
    "package.json": `{\n  "name": "cepcomunicacion-web",\n  "private": true,\n  "scripts": { "dev": "next dev", "build": "next build" }\n}\n`,
    "README.md": "# CEPComunicacion web\n\nPayload CMS + Next.js.\n",
    "src/collections/Courses.ts": `import type { CollectionConfig } from "payload";\nexport const Courses: CollectionConfig = { slug: "courses", fields: [{ name: "title", type: "text", required: true }] };\n`,
  };
}

/** Write the app folder's files under `appDir`; the .env files are 0600 (they hold secrets). */
export function writeAppFiles(appDir: string, ctx: { host: string; pgPort: number }): void {
  for (const [rel, content] of Object.entries(appFiles(ctx))) {
    const file = join(appDir, rel);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    const mode = rel.startsWith(".env") ? 0o600 : 0o644;
    writeFileSync(file, content, { mode });
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

function mediaValues(): string {
  return mediaRows
    .map((f, i) => {
      const base = f.path.slice(f.path.lastIndexOf("/") + 1);
      const ext = base.slice(base.lastIndexOf(".") + 1);
      const mime = MIME[ext] ?? "application/octet-stream";
      const isImage = mime.startsWith("image/");
      const dims = isImage ? `${800 + (i % 5) * 160}, ${600 + (i % 3) * 120}` : "NULL, NULL";
      const sizes = isImage
        ? sqlLiteral(
            JSON.stringify({
              thumbnail: { width: 400, height: 300, filename: base.replace(/\.[^.]+$/, "-400x300.webp") },
            }),
          ) + "::jsonb"
        : "'{}'::jsonb";
      return `(${sqlLiteral(`Imagen ${i + 1}: ${base}`)}, ${sqlLiteral(base)}, ${sqlLiteral(f.path)}, ${sqlLiteral(mime)}, ${f.bytes}, ${dims}, ${sqlLiteral(`/media/${f.path}`)}, ${sizes}, ${1 + (i % 12)}, timestamptz '2025-01-01 09:00:00+00' + ${i} * interval '7 hours')`;
    })
    .join(",\n  ");
}

/**
 * The schema and rows, as one SQL script. It runs as the app role (SET ROLE), so every object is
 * owned by it, like a database Payload created. Text includes quotes, backslashes, non-ASCII and
 * newlines so dumps and restores are exercised on awkward data.
 */
export function seedSql(owner = "cepcomunicacion"): string {
  return `
SET ROLE "${owner}";
BEGIN;

CREATE TYPE enum_users_role AS ENUM ('admin', 'editor', 'advisor', 'student');

CREATE TABLE users (
  id serial PRIMARY KEY,
  email varchar NOT NULL UNIQUE,
  name varchar NOT NULL,
  role enum_users_role NOT NULL DEFAULT 'editor',
  hash varchar,
  salt varchar,
  login_attempts integer DEFAULT 0,
  preferences jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE media (
  id serial PRIMARY KEY,
  alt varchar,
  filename varchar NOT NULL,
  path varchar NOT NULL UNIQUE,
  mime_type varchar NOT NULL,
  filesize integer NOT NULL,
  width integer,
  height integer,
  url varchar NOT NULL,
  sizes jsonb NOT NULL DEFAULT '{}',
  created_by_id integer REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE campuses (
  id serial PRIMARY KEY,
  name varchar NOT NULL,
  slug varchar NOT NULL UNIQUE,
  city varchar NOT NULL,
  address jsonb NOT NULL,
  phone varchar,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE cycles (
  id serial PRIMARY KEY,
  name varchar NOT NULL,
  slug varchar NOT NULL UNIQUE,
  level varchar NOT NULL CHECK (level IN ('grado_medio', 'grado_superior', 'curso_especializacion')),
  description text,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE courses (
  id uuid PRIMARY KEY,
  title varchar NOT NULL,
  slug varchar NOT NULL UNIQUE,
  cycle_id integer NOT NULL REFERENCES cycles(id),
  cover_id integer REFERENCES media(id) ON DELETE SET NULL,
  modality varchar NOT NULL,
  price numeric(10,2) NOT NULL,
  duration_hours integer NOT NULL,
  syllabus jsonb NOT NULL,
  published boolean NOT NULL DEFAULT false,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX courses_cycle_idx ON courses (cycle_id);

CREATE TABLE course_runs (
  id serial PRIMARY KEY,
  course_id uuid NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
  campus_id integer NOT NULL REFERENCES campuses(id),
  starts_on date NOT NULL,
  ends_on date NOT NULL,
  seats integer NOT NULL CHECK (seats > 0),
  schedule jsonb NOT NULL,
  status varchar NOT NULL DEFAULT 'open',
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now(),
  CHECK (ends_on > starts_on)
);
CREATE INDEX course_runs_course_idx ON course_runs (course_id);

CREATE TABLE students (
  id uuid PRIMARY KEY,
  first_name varchar NOT NULL,
  last_name varchar NOT NULL,
  email varchar NOT NULL UNIQUE,
  phone varchar,
  dni varchar NOT NULL UNIQUE,
  birth_date date,
  address jsonb,
  user_id integer REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE enrollments (
  id serial PRIMARY KEY,
  student_id uuid NOT NULL REFERENCES students(id) ON DELETE CASCADE,
  course_run_id integer NOT NULL REFERENCES course_runs(id) ON DELETE CASCADE,
  status varchar NOT NULL,
  enrolled_at timestamptz(3) NOT NULL,
  payment jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (student_id, course_run_id)
);

CREATE TABLE leads (
  id serial PRIMARY KEY,
  name varchar NOT NULL,
  email varchar NOT NULL,
  phone varchar,
  course_id uuid REFERENCES courses(id) ON DELETE SET NULL,
  campus_id integer REFERENCES campuses(id) ON DELETE SET NULL,
  source varchar NOT NULL,
  utm jsonb NOT NULL DEFAULT '{}',
  gdpr_consent boolean NOT NULL,
  message text,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX leads_created_idx ON leads (created_at);

CREATE TABLE blog_posts (
  id serial PRIMARY KEY,
  title varchar NOT NULL,
  slug varchar NOT NULL UNIQUE,
  author_id integer REFERENCES users(id) ON DELETE SET NULL,
  hero_image_id integer REFERENCES media(id) ON DELETE SET NULL,
  content jsonb NOT NULL,
  status varchar NOT NULL DEFAULT 'draft',
  published_at timestamptz(3),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE faqs (
  id serial PRIMARY KEY,
  question varchar NOT NULL,
  answer jsonb NOT NULL,
  category varchar NOT NULL,
  sort_order integer NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE pages (
  id serial PRIMARY KEY,
  title varchar NOT NULL,
  slug varchar NOT NULL UNIQUE,
  layout jsonb NOT NULL,
  meta jsonb NOT NULL DEFAULT '{}',
  status varchar NOT NULL DEFAULT 'published',
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE settings (
  id serial PRIMARY KEY,
  global_slug varchar NOT NULL UNIQUE,
  data jsonb NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE audit_logs (
  id bigserial PRIMARY KEY,
  user_id integer REFERENCES users(id) ON DELETE SET NULL,
  action varchar NOT NULL,
  collection varchar NOT NULL,
  document_id varchar NOT NULL,
  diff jsonb,
  ip inet,
  created_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_collection_idx ON audit_logs (collection, created_at);

CREATE TABLE payload_migrations (
  id serial PRIMARY KEY,
  name varchar,
  batch numeric,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE payload_preferences (
  id serial PRIMARY KEY,
  key varchar,
  value jsonb,
  user_id integer REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

-- ---- rows ----------------------------------------------------------------------------------

INSERT INTO users (email, name, role, hash, salt, preferences, created_at, updated_at)
SELECT format('user%s@cepcomunicacion.example', i),
       (ARRAY['Ana García', 'José Muñoz', 'María Peña', 'Íñigo Ibáñez', 'Lucía O''Brien', 'Zoë Çelik'])[1 + i % 6] || ' ' || i,
       (ARRAY['admin', 'editor', 'advisor', 'student'])[1 + i % 4]::enum_users_role,
       md5('hash' || i), md5('salt' || i),
       jsonb_build_object('locale', 'es', 'theme', CASE WHEN i % 2 = 0 THEN 'dark' ELSE 'light' END),
       timestamptz '2024-09-01 08:00:00+00' + i * interval '1 day',
       timestamptz '2024-09-01 08:00:00+00' + i * interval '2 days'
FROM generate_series(1, 12) AS i;

INSERT INTO media (alt, filename, path, mime_type, filesize, width, height, url, sizes, created_by_id, created_at) VALUES
  ${mediaValues()};

INSERT INTO campuses (name, slug, city, address, phone) VALUES
  ('Sede Madrid', 'madrid', 'Madrid', '{"street": "Calle de Alcalá 100", "zip": "28009"}', '+34 910 000 001'),
  ('Sede Sevilla', 'sevilla', 'Sevilla', '{"street": "Avenida de la Constitución 5", "zip": "41004"}', '+34 954 000 002'),
  ('Sede Málaga', 'malaga', 'Málaga', '{"street": "Calle Larios 12", "zip": "29005"}', '+34 952 000 003'),
  ('Online', 'online', 'Internet', '{"street": null}', NULL);

INSERT INTO cycles (name, slug, level, description) VALUES
  ('Marketing y Publicidad', 'marketing-publicidad', 'grado_superior', 'Ciclo de grado superior.'),
  ('Producción Audiovisual', 'produccion-audiovisual', 'grado_superior', 'Cine, TV y "eventos".'),
  ('Diseño Gráfico', 'diseno-grafico', 'grado_superior', E'Tipografía, maquetación\\ny color.'),
  ('Vídeo Disc-Jockey y Sonido', 'video-dj-sonido', 'grado_medio', 'Sonido en directo.'),
  ('Comercio Internacional', 'comercio-internacional', 'grado_superior', NULL),
  ('Redes Sociales', 'redes-sociales', 'curso_especializacion', 'Community management & SEO.');

INSERT INTO courses (id, title, slug, cycle_id, cover_id, modality, price, duration_hours, syllabus, published, created_at, updated_at)
SELECT md5('course-' || i)::uuid,
       format('Curso %s: %s', i, (ARRAY['Fotografía digital', 'Edición de vídeo', 'SEO & SEM', 'Branding', 'Guion "de cine"', 'Locución'])[1 + i % 6]),
       format('curso-%s', i),
       1 + i % 6,
       1 + i % 16,
       (ARRAY['presencial', 'online', 'semipresencial'])[1 + i % 3],
       (150 + i * 37.5)::numeric(10,2),
       20 + (i % 8) * 10,
       jsonb_build_object('modules', jsonb_build_array(
         jsonb_build_object('title', 'Módulo 1', 'hours', 10),
         jsonb_build_object('title', 'Módulo 2', 'hours', 10 + i % 5)),
         'requirements', 'Ninguno \\ ninguno'),
       i % 5 <> 0,
       timestamptz '2024-10-01 10:00:00+00' + i * interval '3 hours',
       timestamptz '2024-10-01 10:00:00+00' + i * interval '5 hours'
FROM generate_series(1, 30) AS i;

INSERT INTO course_runs (course_id, campus_id, starts_on, ends_on, seats, schedule, status)
SELECT md5('course-' || (1 + i % 30))::uuid,
       1 + i % 4,
       date '2025-01-13' + (i % 20) * 7,
       date '2025-01-13' + (i % 20) * 7 + 30 + i % 60,
       15 + i % 15,
       jsonb_build_object('days', jsonb_build_array('lunes', 'miércoles'), 'from', '18:00', 'to', '21:00'),
       (ARRAY['open', 'full', 'closed'])[1 + i % 3]
FROM generate_series(1, 60) AS i;

INSERT INTO students (id, first_name, last_name, email, phone, dni, birth_date, address, user_id, created_at)
SELECT md5('student-' || i)::uuid,
       (ARRAY['Álvaro', 'Begoña', 'Carmen', 'Dolores', 'Esteban', 'Fátima', 'Gonzalo', 'Nuria'])[1 + i % 8],
       (ARRAY['Núñez', 'Gómez', 'D''Angelo', 'Martín', 'Sáenz', 'López'])[1 + i % 6],
       format('alumno%s@correo.example', i),
       format('+34 6%s', lpad((i * 7919 % 100000000)::text, 8, '0')),
       format('%s%s', lpad((i * 104729 % 100000000)::text, 8, '0'), substr('TRWAGMYFPDXBNJZSQVHLCKE', 1 + (i * 104729 % 100000000) % 23, 1)),
       date '1995-01-01' + i * 53,
       jsonb_build_object('city', (ARRAY['Madrid', 'Sevilla', 'Málaga', 'A Coruña'])[1 + i % 4], 'zip', lpad((28000 + i)::text, 5, '0')),
       CASE WHEN i <= 12 AND i % 4 = 3 THEN i ELSE NULL END,
       timestamptz '2024-11-01 12:00:00+00' + i * interval '11 hours'
FROM generate_series(1, 80) AS i;

INSERT INTO enrollments (student_id, course_run_id, status, enrolled_at, payment)
SELECT md5('student-' || (1 + i % 80))::uuid,
       1 + (i * 7) % 60,
       (ARRAY['pending', 'confirmed', 'cancelled', 'completed'])[1 + i % 4],
       timestamptz '2024-12-01 09:00:00+00' + i * interval '5 hours',
       jsonb_build_object('method', (ARRAY['card', 'transfer', 'installments'])[1 + i % 3], 'amount', 150 + i, 'currency', 'EUR')
FROM generate_series(1, 120) AS i;

INSERT INTO leads (name, email, phone, course_id, campus_id, source, utm, gdpr_consent, message, created_at)
SELECT format('Interesado %s', i),
       format('lead%s@correo.example', i),
       CASE WHEN i % 3 = 0 THEN NULL ELSE format('+34 7%s', lpad((i * 3571)::text, 8, '0')) END,
       CASE WHEN i % 4 = 0 THEN NULL ELSE md5('course-' || (1 + i % 30))::uuid END,
       1 + i % 4,
       (ARRAY['web', 'meta_ads', 'google_ads', 'feria'])[1 + i % 4],
       jsonb_build_object('utm_source', 'google', 'utm_campaign', format('campaña-%s', i % 5)),
       i % 10 <> 0,
       CASE WHEN i % 5 = 0 THEN E'Hola, ¿cuándo empieza?\\nGracias & "saludos"' ELSE NULL END,
       timestamptz '2025-02-01 00:00:00+00' + i * interval '13 hours'
FROM generate_series(1, 60) AS i;

INSERT INTO blog_posts (title, slug, author_id, hero_image_id, content, status, published_at, created_at)
SELECT format('Entrada %s: %s', i, (ARRAY['Tendencias en diseño', 'Cómo preparar tu portfolio', 'Entrevista: "El oficio"', 'Guía de becas'])[1 + i % 4]),
       format('entrada-%s', i),
       1 + i % 12,
       25 + i % 6,
       jsonb_build_object('root', jsonb_build_object('type', 'root', 'children', jsonb_build_array(
         jsonb_build_object('type', 'paragraph', 'children', jsonb_build_array(jsonb_build_object('type', 'text', 'text', format('Párrafo %s con «comillas» y \\barras\\.', i))))))),
       CASE WHEN i % 3 = 0 THEN 'draft' ELSE 'published' END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE timestamptz '2025-03-01 08:00:00+00' + i * interval '2 days' END,
       timestamptz '2025-02-20 08:00:00+00' + i * interval '2 days'
FROM generate_series(1, 15) AS i;

INSERT INTO faqs (question, answer, category, sort_order)
SELECT format('¿Pregunta frecuente número %s?', i),
       jsonb_build_object('text', format('Respuesta %s: sí, y también "no".', i)),
       (ARRAY['matrícula', 'becas', 'horarios', 'prácticas'])[1 + i % 4],
       i
FROM generate_series(1, 20) AS i;

INSERT INTO pages (title, slug, layout, meta) VALUES
  ('Inicio', 'inicio', '[{"blockType": "hero", "heading": "Fórmate en comunicación"}]', '{"title": "CEP Comunicación"}'),
  ('Cursos', 'cursos', '[{"blockType": "courseList", "limit": 12}]', '{}'),
  ('Sedes', 'sedes', '[{"blockType": "campusMap"}]', '{}'),
  ('Blog', 'blog', '[{"blockType": "postList"}]', '{}'),
  ('Contacto', 'contacto', '[{"blockType": "form", "form": "lead"}]', '{}'),
  ('Política de privacidad', 'politica-privacidad', '[{"blockType": "richText"}]', '{"noindex": true}'),
  ('Aviso legal', 'aviso-legal', '[{"blockType": "richText"}]', '{"noindex": true}'),
  ('Preguntas frecuentes', 'faq', '[{"blockType": "faqList"}]', '{}');

INSERT INTO settings (global_slug, data) VALUES
  ('site', '{"name": "CEP Comunicación", "email": "info@cepcomunicacion.example"}'),
  ('header', '{"nav": [{"label": "Cursos", "url": "/cursos"}, {"label": "Blog", "url": "/blog"}]}'),
  ('footer', '{"copyright": "© 2025 CEP Comunicación"}');

INSERT INTO audit_logs (user_id, action, collection, document_id, diff, ip, created_at)
SELECT 1 + i % 12,
       (ARRAY['create', 'update', 'delete', 'login'])[1 + i % 4],
       (ARRAY['courses', 'leads', 'enrollments', 'blog_posts', 'media'])[1 + i % 5],
       (1 + i % 30)::text,
       CASE WHEN i % 4 = 1 THEN jsonb_build_object('field', 'title', 'from', 'a', 'to', 'b') ELSE NULL END,
       format('10.0.%s.%s', i % 4, 1 + i % 250)::inet,
       timestamptz '2025-03-01 00:00:00+00' + i * interval '37 minutes'
FROM generate_series(1, 100) AS i;

INSERT INTO payload_migrations (name, batch, created_at) VALUES
  ('20250101_000000_init', 1, timestamptz '2025-01-01 00:00:00+00'),
  ('20250215_120000_leads_utm', 2, timestamptz '2025-02-15 12:00:00+00'),
  ('20250310_090000_audit_logs', 3, timestamptz '2025-03-10 09:00:00+00');

INSERT INTO payload_preferences (key, value, user_id)
SELECT format('collection-%s', (ARRAY['courses', 'leads', 'media', 'students', 'enrollments'])[1 + i % 5]),
       jsonb_build_object('limit', 25, 'sort', '-createdAt'),
       1 + i % 12
FROM generate_series(1, 10) AS i;

COMMIT;
RESET ROLE;
`;
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
