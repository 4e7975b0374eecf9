// Test databases: one migrated template per run, one copy of it per test file. Names carry the
// run's start time, so runs side by side (a developer's and a benchmark's, say) never touch
// each other's databases, and leftovers of interrupted runs are recognised and dropped.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const PREFIX = 'credit_test_';
/** A run's databases older than this are an interrupted run's leftovers. */
const STALE_AFTER_MS = 3 * 3600_000;

export function newRunId(): string {
  return Date.now().toString(36);
}

export const templateName = (runId: string) => `${PREFIX}${runId}_template`;
export const fileDatabaseName = (runId: string, fileId: string) => `${PREFIX}${runId}_${fileId}`;

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

async function dropWhere(keep: (runId: string) => boolean): Promise<void> {
  await onServer(async (client) => {
    const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${PREFIX}%'`);
    for (const { datname } of rows) {
      const runId = datname.slice(PREFIX.length).split('_')[0]!;
      if (!keep(runId)) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  });
}

/** Drops this run's databases. */
export const dropRunDatabases = (runId: string) => dropWhere((id) => id !== runId);

/** Drops what interrupted runs left behind, never a database of a run that may still be going. */
export const dropStaleDatabases = () =>
  dropWhere((id) => {
    const startedAt = parseInt(id, 36);
    return Number.isFinite(startedAt) && Date.now() - startedAt < STALE_AFTER_MS;
  });

/** Creates the template with the project's migrations, applied by the real `prisma migrate deploy`. */
export function createTemplate(runId: string): void {
  const run = spawnSync(process.execPath, ['scripts/prisma.mjs', 'migrate', 'deploy'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl(templateName(runId)) },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`migrating the test template failed:\n${run.stdout}\n${run.stderr}`);
}

export function copyTemplate(runId: string, name: string): Promise<void> {
  return onServer(async (client) => {
    await client.query(`CREATE DATABASE "${name}" TEMPLATE "${templateName(runId)}"`);
  });
}
