// FCM's Retry-After on a project-level 429 is honoured, though firebase-admin drops it from its
// errors: the firebase-admin app's agent sees it, and the paced sender pauses the bucket for it
// (not for the configured fallback), then sends the push again, not failed.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { deleteApp, initializeApp, type Credential } from 'firebase-admin/app';
import { getMessaging } from 'firebase-admin/messaging';
import { afterAll, describe, expect, it } from 'vitest';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { pacedPushSender } from '../src/push/paced-sender.ts';
import { PushBucket } from '../src/push/push-bucket.ts';
import { createPushSender } from '../src/push/push-sender.ts';
import { RetryAfterAgent, retryAfterMs } from '../src/push/retry-after.ts';
import { testConfig, testRedis } from './support/settings.ts';

const arrivals: number[] = [];
// The first send gets the project's quota answer with Retry-After: 2; the others, 200.
const fcm = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    arrivals.push(Date.now());
    if (arrivals.length === 1) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
      return res.end(JSON.stringify({ error: { code: 429, message: "Quota exceeded for quota metric 'Send requests' for consumer 'project_number:1'.", status: 'RESOURCE_EXHAUSTED' } }));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name: `projects/p/messages/${arrivals.length}` }));
  });
});
await new Promise<void>((resolve) => fcm.listen(0, '127.0.0.1', resolve));
const port = (fcm.address() as AddressInfo).port;

class ToFake extends RetryAfterAgent {
  override createConnection(): net.Socket {
    return net.connect(port, '127.0.0.1');
  }
}
const agent = new ToFake();
const credential: Credential = { getAccessToken: async () => ({ access_token: 'token', expires_in: 3600 }) };
const app = initializeApp({ credential, projectId: 'p', httpAgent: agent }, `retry-after-${randomUUID()}`);
const redis = createRedis('publisher', testRedis);
afterAll(async () => {
  await deleteApp(app);
  await closeRedis(redis);
  fcm.closeAllConnections();
  fcm.close();
});

describe("FCM's Retry-After", () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(retryAfterMs('3')).toBe(3_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs(undefined)).toBeNull();
    expect(retryAfterMs('soon')).toBeNull();
  });

  it('pauses the bucket for as long as FCM asked, then sends the push again', { timeout: 30_000 }, async () => {
    const bucket = new PushBucket(redis, { maxPerMinute: 60_000, prefix: `${testConfig.REDIS_PREFIX}:${randomUUID()}` });
    // A fallback pause far longer than the test: only FCM's Retry-After can make it pass.
    const sender = pacedPushSender(createPushSender(getMessaging(app)), bucket, { quotaPauseMs: 60_000, devicePauseMs: 1_000, maxQuotaAnswers: 3 }, agent.retryAfter);
    const message = { notificationId: randomUUID(), kind: 'OFFER_EXPIRED', title: 't', body: 'b', deepLink: 'app://x', collapseKey: 'k', badge: 1, timeSensitive: false, expiresAt: null };
    const result = await sender.send('device-token', message);
    expect(result).toMatchObject({ ok: true });
    expect(arrivals).toHaveLength(2);
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(1_900);
    expect(arrivals[1]! - arrivals[0]!).toBeLessThan(10_000);
  });
});
