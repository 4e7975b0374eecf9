// Prisma CLI configuration. The database URL comes from the service's own config module,
// so the CLI and the service always agree on it.
import { defineConfig } from 'prisma/config';
import { loadConfig } from './src/platform/config.ts';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: loadConfig().DATABASE_URL },
});
