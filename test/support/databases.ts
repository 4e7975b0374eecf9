// Test databases: one migrated template per run, one copy of it per test file.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEMPLATE_DB = 'credit_test_template';
export const TEST_DB_PREFIX = 'credit_test_';

export function databaseUrl(name: string): string {
  return Object.assign(new URL(SERVER_URL), { pathname: `/${name}` }).toString();
}

async function onServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops the test databases a run leaves behind (and any from an interrupted run). */
export function dropTestDatabases(): Promise<void> {
  return onServer(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE '${TEST_DB_PREFIX}%'`,
    );
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  });
}

/** Creates the template with the project's migrations, applied by the real `prisma migrate deploy`. */
export function createTemplate(): void {
  const run = spawnSync(process.execPath, ['scripts/prisma.mjs', 'migrate', 'deploy'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl(TEMPLATE_DB) },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`migrating the test template failed:\n${run.stdout}\n${run.stderr}`);
}

export function copyTemplate(name: string): Promise<void> {
  return onServer(async (client) => {
    await client.query(`CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE_DB}"`);
  });
}
