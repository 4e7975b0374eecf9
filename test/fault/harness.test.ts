// The throwaway servers the fault suites stand on: they really stop, lose their data, and come back.
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.ts';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.ts';

let postgres: ThrowawayPostgres | undefined;
let redis: ThrowawayRedis | undefined;
afterAll(async () => {
  postgres?.destroy();
  await redis?.destroy();
});

async function count(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SELECT count(*)::int AS n FROM credit_offers')).rows[0].n;
  } finally {
    await client.end();
  }
}

describe('the throwaway servers', () => {
  it('PostgreSQL: migrated, refuses connections when stopped or killed, keeps its data across both', async () => {
    postgres = await startThrowawayPostgres();
    const url = await postgres.createMigratedDatabase('harness');
    expect(await count(url)).toBe(0);
    postgres.stop('fast');
    await expect(count(url)).rejects.toThrow(/ECONNREFUSED/);
    await postgres.start();
    postgres.kill();
    await expect(count(url)).rejects.toThrow(/ECONNREFUSED/);
    await postgres.start();
    expect(await count(url)).toBe(0);
  });

  it('Redis: a restart loses every key', async () => {
    redis = await startThrowawayRedis();
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    await client.set('k', 'v');
    await redis.restart();
    expect(await client.get('k')).toBeNull();
    client.disconnect();
  });
});
