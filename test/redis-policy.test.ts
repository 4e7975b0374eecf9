// BullMQ's keys must never be evicted: a Redis whose maxmemory-policy could evict them stops a
// production start, and is warned about elsewhere, with the fix in the message.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/platform/config.ts';
import type { Logger } from '../src/platform/logger.ts';
import { checkRedisEvictionPolicy, startService } from '../src/service.ts';
import { startThrowawayRedis, type ThrowawayRedis } from './support/throwaway-redis.ts';

const servers: ThrowawayRedis[] = [];
afterAll(() => Promise.all(servers.map((s) => s.destroy())));

async function redisWith(policy: string) {
  const server = await startThrowawayRedis(['--maxmemory-policy', policy]);
  servers.push(server);
  return server;
}

function capturingLogger() {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream) as unknown as Logger, lines };
}

const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: 'a-real-secret-of-at-least-thirty-two-chars!', CONSENT_HMAC_KEY: 'a-real-consent-key-of-at-least-thirty-two-chars' };

describe("Redis's maxmemory-policy at start", () => {
  it('allkeys-lru stops a production start, naming the policy and the fix', async () => {
    const redis = await redisWith('allkeys-lru');
    const config = loadConfig({ ...process.env, ...PRODUCTION, REDIS_URL: redis.url });
    const { logger } = capturingLogger();
    await expect(startService({ api: true, worker: true, port: 0, config, logger })).rejects.toThrow(
      /maxmemory-policy is "allkeys-lru".*CONFIG SET maxmemory-policy noeviction/,
    );
  });

  it('is a warning with the fix outside production', async () => {
    const redis = await redisWith('volatile-lru');
    const { logger, lines } = capturingLogger();
    await checkRedisEvictionPolicy(loadConfig({ ...process.env, REDIS_URL: redis.url }), logger);
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/"volatile-lru".*CONFIG SET maxmemory-policy noeviction/)]);
  });

  it('noeviction passes silently, in production too', async () => {
    const redis = await redisWith('noeviction');
    const { logger, lines } = capturingLogger();
    await checkRedisEvictionPolicy(loadConfig({ ...process.env, ...PRODUCTION, REDIS_URL: redis.url }), logger);
    expect(lines).toEqual([]);
  });
});
