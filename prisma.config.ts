// Prisma CLI configuration (Prisma 7). The server does not use the CLI at run time: it
// applies prisma/migrations itself (server/src/db/migrate.ts). Where Prisma's schema
// engine is available, `npx prisma migrate status` / `migrate deploy` see the same state.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/meet' },
});
