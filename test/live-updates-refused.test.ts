// A SUBSCRIBE that Redis refuses must reach the stream that asked for it as an error, and nothing
// else: graphql-redis-subscriptions also rejects a pending promise of its own that nobody awaits,
// and an unhandled rejection ends a Node process (an API process died of it when a Redis Cluster
// master was killed under the scale suite). Redis refuses here by ACL, on a throwaway server whose
// only user may use the channels starting "allowed:".
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LiveUpdates } from '../src/realtime/live-updates.ts';
import { testRedis } from './support/settings.ts';
import { startThrowawayRedis, type ThrowawayRedis } from './support/throwaway-redis.ts';

let redis: ThrowawayRedis;
beforeAll(async () => {
  redis = await startThrowawayRedis(['--user', 'default', 'on', 'nopass', '~*', '&allowed:*', '+@all']);
});
afterAll(() => redis?.destroy());

it('answers a refused subscription with its error, keeps the process alive, and still serves the channels allowed', { timeout: 20_000 }, async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const refused = new LiveUpdates({ ...testRedis, url: redis.url, prefix: 'refused' });
  const allowed = new LiveUpdates({ ...testRedis, url: redis.url, prefix: 'allowed' });
  try {
    // One stream alone, then two of one user at once (the second joins the first's pending SUBSCRIBE).
    await expect(refused.subscribe('notifications', 'u0', () => undefined)).rejects.toThrow(/NOPERM/);
    const both = await Promise.allSettled([refused.subscribe('notifications', 'u1', () => undefined), refused.subscribe('notifications', 'u1', () => undefined)]);
    for (const outcome of both) {
      expect(outcome.status).toBe('rejected');
      expect(String((outcome as PromiseRejectedResult).reason)).toMatch(/NOPERM/);
    }
    // Long enough for a rejection to be reported as unhandled.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(unhandled).toEqual([]);

    const received: unknown[] = [];
    await allowed.subscribe('notifications', 'u1', (message) => received.push(message));
    await allowed.publishNotification('u1', 'n1');
    await expect.poll(() => received.length).toBe(1);
    expect(received[0]).toMatchObject({ notificationId: 'n1', userId: 'u1' });
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await Promise.all([refused.close(), allowed.close()]);
  }
});
