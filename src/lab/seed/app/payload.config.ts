import { buildConfig } from "payload";
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
