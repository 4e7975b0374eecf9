// What the figures were measured on: they mean little without it.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  redis: string;
  openFilesLimit: number;
}

/** The soft limit on open files, which caps WebSocket connections per process. */
export function openFilesLimit(): number {
  const out = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(out);
}

async function postgresInfo(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const names = ['server_version', 'shared_buffers', 'synchronous_commit', 'max_connections'];
    const { rows } = await client.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1)`,
      [names],
    );
    const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
    return { version: settings.server_version ?? '?', settings };
  } finally {
    await client.end();
  }
}

async function redisVersion(redisUrl: string): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  } finally {
    redis.disconnect();
  }
}

export async function describeMachine(databaseUrl: string, redisUrl: string): Promise<Machine> {
  const postgres = await postgresInfo(databaseUrl);
  return {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? '?',
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: os.release(),
    node: process.version,
    postgres: postgres.version,
    postgresSettings: postgres.settings,
    redis: await redisVersion(redisUrl),
    openFilesLimit: openFilesLimit(),
  };
}
