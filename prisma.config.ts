// Prisma CLI configuration. The database URL comes from the service's own config module,
// so the CLI and the service always agree on it (the URL alone: generating a client at
// `npm ci` needs no secret).
import { defineConfig } from 'prisma/config';
import { loadDatabaseUrl } from './src/platform/config.ts';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: loadDatabaseUrl() },
});
