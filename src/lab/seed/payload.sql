-- The lab's app database: a Payload-CMS-like schema (14 collections plus Payload's own tables,
-- with foreign keys, enums and jsonb) and deterministic rows. Text holds quotes, backslashes,
-- non-ASCII and newlines, so dumps and restores are exercised on awkward data.
--
-- Run by src/lab/seed.ts as the app role (SET ROLE, so the app role owns every object, as in a
-- database Payload created), after it has filled the temporary table seed_uploads (n, path, bytes)
-- with the uploads folder's files. The row counts are SEED_ROW_COUNTS in seed.ts.
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

-- One row per file of the uploads folder, from seed_uploads (n, path, bytes), which seed.ts fills
-- from the files it writes: the sizes are those of the generated bytes.
INSERT INTO media (alt, filename, path, mime_type, filesize, width, height, url, sizes, created_by_id, created_at)
SELECT format('Imagen %s: %s', n, base), base, path, mime, bytes,
       CASE WHEN mime LIKE 'image/%' THEN 800 + ((n - 1) % 5) * 160 END,
       CASE WHEN mime LIKE 'image/%' THEN 600 + ((n - 1) % 3) * 120 END,
       '/media/' || path,
       CASE WHEN mime LIKE 'image/%'
            THEN jsonb_build_object('thumbnail', jsonb_build_object('width', 400, 'height', 300,
                   'filename', regexp_replace(base, '\.[^.]+$', '-400x300.webp')))
            ELSE '{}'::jsonb END,
       1 + (n - 1) % 12,
       timestamptz '2025-01-01 09:00:00+00' + (n - 1) * interval '7 hours'
FROM (SELECT n, path, bytes, base,
             CASE substring(base FROM '[^.]*$')
               WHEN 'jpg' THEN 'image/jpeg' WHEN 'png' THEN 'image/png' WHEN 'webp' THEN 'image/webp'
               WHEN 'pdf' THEN 'application/pdf' WHEN 'mp4' THEN 'video/mp4'
               ELSE 'application/octet-stream' END AS mime
      FROM (SELECT n, path, bytes, substring(path FROM '[^/]*$') AS base FROM seed_uploads) AS u) AS m
ORDER BY n;

INSERT INTO campuses (name, slug, city, address, phone) VALUES
  ('Sede Madrid', 'madrid', 'Madrid', '{"street": "Calle de Alcalá 100", "zip": "28009"}', '+34 910 000 001'),
  ('Sede Sevilla', 'sevilla', 'Sevilla', '{"street": "Avenida de la Constitución 5", "zip": "41004"}', '+34 954 000 002'),
  ('Sede Málaga', 'malaga', 'Málaga', '{"street": "Calle Larios 12", "zip": "29005"}', '+34 952 000 003'),
  ('Online', 'online', 'Internet', '{"street": null}', NULL);

INSERT INTO cycles (name, slug, level, description) VALUES
  ('Marketing y Publicidad', 'marketing-publicidad', 'grado_superior', 'Ciclo de grado superior.'),
  ('Producción Audiovisual', 'produccion-audiovisual', 'grado_superior', 'Cine, TV y "eventos".'),
  ('Diseño Gráfico', 'diseno-grafico', 'grado_superior', E'Tipografía, maquetación\ny color.'),
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
         'requirements', 'Ninguno \ ninguno'),
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
       CASE WHEN i % 5 = 0 THEN E'Hola, ¿cuándo empieza?\nGracias & "saludos"' ELSE NULL END,
       timestamptz '2025-02-01 00:00:00+00' + i * interval '13 hours'
FROM generate_series(1, 60) AS i;

INSERT INTO blog_posts (title, slug, author_id, hero_image_id, content, status, published_at, created_at)
SELECT format('Entrada %s: %s', i, (ARRAY['Tendencias en diseño', 'Cómo preparar tu portfolio', 'Entrevista: "El oficio"', 'Guía de becas'])[1 + i % 4]),
       format('entrada-%s', i),
       1 + i % 12,
       25 + i % 6,
       jsonb_build_object('root', jsonb_build_object('type', 'root', 'children', jsonb_build_array(
         jsonb_build_object('type', 'paragraph', 'children', jsonb_build_array(jsonb_build_object('type', 'text', 'text', format('Párrafo %s con «comillas» y \barras\.', i))))))),
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
