// Prisma CLI configuration. The database URL comes from the service's own config module,
// so the CLI and the service always agree on it (the URL alone: generating a client at
// `npm ci` needs no secret). Migrations go to PostgreSQL itself (DIRECT_DATABASE_URL) when
// DATABASE_URL is a PgBouncer: they hold a session advisory lock.
import { defineConfig } from 'prisma/config';
import { loadMigrationDatabaseUrl } from './src/platform/config.ts';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: loadMigrationDatabaseUrl() },
});
