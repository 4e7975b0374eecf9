// The bench's own database: created fresh, migrated with the real `prisma migrate deploy`,
// dropped at the end. Same server as DATABASE_URL, which must be on this machine.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/platform/config.ts';

const config = loadConfig();

const root = fileURLToPath(new URL('..', import.meta.url));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The bench sends traffic only to this machine: refuse a remote server rather than load it. */
export function assertLoopback(url: string, what: string): void {
  const host = new URL(url).hostname;
  if (!LOOPBACK.has(host)) throw new Error(`${what} must be on 127.0.0.1 for the bench, got ${host}`);
}

export function databaseUrl(name: string): string {
  return Object.assign(new URL(config.DATABASE_URL), { pathname: `/${name}` }).toString();
}

async function onServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabase(name: string): Promise<string> {
  assertLoopback(config.DATABASE_URL, 'DATABASE_URL');
  await onServer((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = databaseUrl(name);
  const run = spawnSync(process.execPath, ['scripts/prisma.mjs', 'migrate', 'deploy'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`migrating ${name} failed:\n${run.stdout}\n${run.stderr}`);
  return url;
}

export async function dropBenchDatabase(name: string): Promise<void> {
  await onServer((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
