// BullMQ's keys must never be evicted: a Redis whose maxmemory-policy could evict them stops a
// production start, and is warned about elsewhere, with the fix in the message.
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/platform/config.ts';
import { checkEvictionPolicy } from '../src/platform/redis.ts';
import { redisSettings } from '../src/settings.ts';
import { captureLogs } from './support/logs.ts';
import { startServiceInTest } from './support/service.ts';
import { startThrowawayRedis, type ThrowawayRedis } from './support/throwaway-redis.ts';

const servers: ThrowawayRedis[] = [];
afterAll(() => Promise.all(servers.map((s) => s.destroy())));

async function redisWith(policy: string) {
  const server = await startThrowawayRedis(['--maxmemory-policy', policy]);
  servers.push(server);
  return server;
}

const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: 'a-real-secret-of-at-least-thirty-two-chars!', CONSENT_HMAC_KEY: 'a-real-consent-key-of-at-least-thirty-two-chars' };

describe("Redis's maxmemory-policy at start", () => {
  it('allkeys-lru stops a production start, naming the policy and the fix', async () => {
    const redis = await redisWith('allkeys-lru');
    const config = loadConfig({ ...process.env, ...PRODUCTION, REDIS_URL: redis.url });
    const { logger } = captureLogs('warn');
    await expect(startServiceInTest({ config, logger })).rejects.toThrow(
      /maxmemory-policy is "allkeys-lru".*CONFIG SET maxmemory-policy noeviction/,
    );
  });

  it('is a warning with the fix outside production', async () => {
    const redis = await redisWith('volatile-lru');
    const { logger, entries } = captureLogs('warn');
    await checkEvictionPolicy(redisSettings(loadConfig({ ...process.env, REDIS_URL: redis.url }), logger), false);
    expect(entries.map((l) => l.msg)).toEqual([expect.stringMatching(/"volatile-lru".*CONFIG SET maxmemory-policy noeviction/)]);
  });

  it('noeviction passes silently, in production too', async () => {
    const redis = await redisWith('noeviction');
    const { logger, entries } = captureLogs('warn');
    await checkEvictionPolicy(redisSettings(loadConfig({ ...process.env, ...PRODUCTION, REDIS_URL: redis.url }), logger), true);
    expect(entries).toEqual([]);
  });
});
