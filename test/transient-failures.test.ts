// Transient or permanent, by cause: the errors real clients raise when PostgreSQL or Redis is
// unreachable, restarting or busy get public codes; nothing unclassified is ever permanent.
import { PrismaPg } from '@prisma/adapter-pg';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.ts';
import { classifyTransient } from '../src/domain/transient-failures.ts';
import { prisma } from '../src/platform/db.ts';
import { freePort } from './support/free-port.ts';
import { testConfig as config } from './support/settings.ts';

async function errorOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected it to fail');
}

describe('classifyTransient', () => {
  it('a database that refuses connections is DATABASE_UNAVAILABLE', async () => {
    const down = new PrismaClient({ adapter: new PrismaPg({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/x` }) });
    expect(classifyTransient(await errorOf(() => down.$queryRaw`SELECT 1`)).code).toBe('DATABASE_UNAVAILABLE');
    expect(classifyTransient(await errorOf(() => down.$transaction(async (tx) => tx.$queryRaw`SELECT 1`))).code).toBe('DATABASE_UNAVAILABLE');
  });

  it('a session ended by the server (shutdown, failover) is DATABASE_UNAVAILABLE', async () => {
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: config.DATABASE_URL, max: 1 }) });
    try {
      const error = await errorOf(() => client.$queryRaw`SELECT pg_terminate_backend(pg_backend_pid())`);
      expect(classifyTransient(error)).toEqual({ code: 'DATABASE_UNAVAILABLE', cause: 'SQLSTATE 57P01' });
    } finally {
      await client.$disconnect();
    }
  });

  it('a statement timeout and a lock timeout are DATABASE_BUSY', async () => {
    const slow = await errorOf(() =>
      prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SET LOCAL statement_timeout = 50`;
        await tx.$queryRaw`SELECT pg_sleep(1)`;
      }),
    );
    expect(classifyTransient(slow)).toEqual({ code: 'DATABASE_BUSY', cause: 'SQLSTATE 57014' });

    await prisma.$executeRaw`INSERT INTO users (id) VALUES ('lock-timeout-probe') ON CONFLICT DO NOTHING`;
    const locked = await prisma.$transaction(async (holder) => {
      await holder.$queryRaw`SELECT 1 FROM users WHERE id = 'lock-timeout-probe' FOR UPDATE`;
      return errorOf(() =>
        prisma.$transaction(async (tx) => {
          await tx.$executeRaw`SET LOCAL lock_timeout = 50`;
          await tx.$queryRaw`SELECT 1 FROM users WHERE id = 'lock-timeout-probe' FOR UPDATE`;
        }),
      );
    });
    expect(classifyTransient(locked)).toEqual({ code: 'DATABASE_BUSY', cause: 'SQLSTATE 55P03' });
  });

  it('Redis unreachable is QUEUE_UNAVAILABLE', async () => {
    const redis = new Redis(`redis://127.0.0.1:${await freePort()}`, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      expect(classifyTransient(await errorOf(() => redis.get('k'))).code).toBe('QUEUE_UNAVAILABLE');
    } finally {
      redis.disconnect();
    }
  });

  it('anything unclassified (a bug, a new driver error) is TEMPORARY_FAILURE: retried, never FAILED at once', () => {
    expect(classifyTransient(new TypeError("Cannot read properties of undefined (reading 'x')"))).toEqual({
      code: 'TEMPORARY_FAILURE',
      cause: 'TypeError',
    });
    expect(classifyTransient('a string').code).toBe('TEMPORARY_FAILURE');
  });
});

describe('database sessions', () => {
  it('carry the configured statement, lock and idle-in-transaction timeouts', async () => {
    // pg_settings gives these in milliseconds.
    const rows = await prisma.$queryRaw<{ name: string; setting: string }[]>`
      SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')`;
    expect(Object.fromEntries(rows.map((r) => [r.name, Number(r.setting)]))).toEqual({
      statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
      lock_timeout: config.DATABASE_LOCK_TIMEOUT_MS,
      idle_in_transaction_session_timeout: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    });
  });

  it('never compile a statement with JIT, however high its estimated cost', async () => {
    // Estimated at 9 million rows: past jit_above_cost (100,000 by default), so a session with the
    // server's default would compile it. The plan says so (EXPLAIN, not run).
    const costly = 'EXPLAIN (FORMAT JSON) SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b';
    const jitOf = (rows: { 'QUERY PLAN': unknown }[]) => (rows[0]!['QUERY PLAN'] as { JIT?: unknown }[])[0]!.JIT;
    const plain = new pg.Client({ connectionString: config.DATABASE_URL });
    await plain.connect();
    try {
      const { rows } = await plain.query<{ 'QUERY PLAN': unknown }>(costly);
      expect(jitOf(rows), 'the server compiles this statement by default (without JIT on the server, this test shows nothing)').toBeDefined();
    } finally {
      await plain.end();
    }
    expect(jitOf(await prisma.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(costly))).toBeUndefined();
  });
});
