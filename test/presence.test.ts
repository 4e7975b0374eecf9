// Presence (who has a live notifications subscription) is shared by every API process through
// Redis, kept alive by a heartbeat, and gone after its TTL when the process holding it dies.
// Here the passage of time is what is tested, so these tests wait for it.
import { afterAll, describe, expect, it } from 'vitest';
import { Presence } from '../src/realtime/presence.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { newUserId } from './support/client.ts';
import { presenceOptions, testRedis } from './support/settings.ts';
import { waitUntil } from './support/wait.ts';

const TTL_MS = 400;
const observerConnection = createRedis('publisher', testRedis);
const observer = new Presence(observerConnection, presenceOptions());
afterAll(() => closeRedis(observerConnection));

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('presence', () => {
  it('lasts beyond the TTL while its process keeps the heartbeat, and ends at once when the subscription leaves', async () => {
    const connection = createRedis('publisher', testRedis);
    const api = new Presence(connection, presenceOptions(TTL_MS));
    const userId = newUserId();
    try {
      const member = await api.enter(userId);
      expect(await observer.isPresent(userId)).toBe(true);
      await pause(TTL_MS * 3);
      expect(await observer.isPresent(userId)).toBe(true);
      await api.leave(member);
      expect(await observer.isPresent(userId)).toBe(false);
    } finally {
      await api.close();
      await closeRedis(connection);
    }
  });

  it('counts each subscription: a user with two stays present until the last one leaves', async () => {
    const [a, b] = [createRedis('publisher', testRedis), createRedis('publisher', testRedis)];
    const [apiA, apiB] = [new Presence(a, presenceOptions(TTL_MS)), new Presence(b, presenceOptions(TTL_MS))];
    const userId = newUserId();
    try {
      const first = await apiA.enter(userId);
      const second = await apiB.enter(userId);
      await apiA.leave(first);
      expect(await observer.isPresent(userId)).toBe(true);
      await apiB.leave(second);
      expect(await observer.isPresent(userId)).toBe(false);
    } finally {
      await Promise.all([apiA.close(), apiB.close()]);
      await Promise.all([closeRedis(a), closeRedis(b)]);
    }
  });

  it('of a process that died without leaving ends after the TTL', async () => {
    const connection = createRedis('publisher', testRedis);
    const crashed = new Presence(connection, presenceOptions(TTL_MS));
    const userId = newUserId();
    await crashed.enter(userId);
    const since = Date.now();
    connection.disconnect(); // no leave, no more heartbeats: as a kill -9 would
    expect(await observer.isPresent(userId)).toBe(true);
    await waitUntil(async () => !(await observer.isPresent(userId)), 'the presence to expire', TTL_MS * 5);
    expect(Date.now() - since).toBeGreaterThanOrEqual(TTL_MS * 0.9);
    await crashed.close();
  });
});
