import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for the dependencies (yoga, graphql-ws); without this,
    // vite would give the project's own code the .mjs build, and `instanceof GraphQLError` would
    // fail between the two copies. Production runs on Node alone and has one copy.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    // Two files at a time fit two cores.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        // Pure functions and the layer rule: no database, no Redis.
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        // Each file gets its own database and Redis prefix.
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/unit/**', 'test/fault/**', 'test/scale/**'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/test-env.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The fault suites start their own PostgreSQL and Redis, stop and kill them, and time
        // outages by the wall clock: one file at a time, after the other projects.
        extends: true,
        test: {
          name: 'fault',
          include: ['test/fault/**/*.test.ts'],
          setupFiles: ['test/fault/fault-env.ts'],
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // A Redis Cluster, a PostgreSQL and a PgBouncer of its own, four service processes, a
        // master killed: one file at a time, after every other suite (alone on the machine's cores).
        extends: true,
        test: {
          name: 'scale',
          include: ['test/scale/**/*.test.ts'],
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
          testTimeout: 240_000,
          hookTimeout: 420_000,
        },
      },
    ],
  },
});
