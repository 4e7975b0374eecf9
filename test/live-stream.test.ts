// Live delivery across processes' worth of parts: API instances and the worker each with their
// own Redis connections, as when they run as separate processes.
import { describe, expect, it } from 'vitest';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { LiveUpdates } from '../src/realtime/live-updates.ts';
import { gql, wsSubscribe, sseSubscribe } from './support/client.ts';
import { acceptOffer, DEPLOYMENT, issueOffer } from './support/fixtures.ts';
import { serviceForTests, startServiceInTest } from './support/service.ts';
import { testConfig, testRedis } from './support/settings.ts';
import { waitUntil } from './support/wait.ts';

const STREAM = /* GraphQL */ `
  subscription Watch($id: ID!) { creditDeployment(id: $id) { sequence type status deployment { status } } }
`;

// Two API instances; each test starts a worker when it wants the deployment to move.
const apiA = serviceForTests({ worker: false });
const apiB = serviceForTests({ worker: false });

/** Reads a subscription message by message, so a test can act between them. */
function reader<T>(stream: AsyncGenerator<T>) {
  return { next: async () => (await stream.next()).value as T, rest: async () => { const all: T[] = []; for await (const m of stream) all.push(m); return all; } };
}

describe('a subscriber that joins before the worker runs', () => {
  it.each([
    ['WebSocket', wsSubscribe],
    ['SSE', sseSubscribe],
  ])('gets QUEUED first, then every live event from another API instance, then completion (%s)', async (_t, subscribe) => {
    const { offerId, userToken } = await issueOffer(apiA.url);
    const accepted = await acceptOffer(apiA.url, offerId, userToken);
    const stream = reader(subscribe(apiB.url, STREAM, { id: accepted.deployment.id }, userToken));
    const first = await stream.next();
    expect(first.data.creditDeployment).toMatchObject({ sequence: 1, type: 'QUEUED', status: 'QUEUED' });

    // Nothing processes the job until a worker starts: what follows is live, not replayed.
    await startServiceInTest({ api: false });
    const rest = await stream.rest();
    expect(rest.map((m: any) => [m.data.creditDeployment.sequence, m.data.creditDeployment.type])).toEqual([
      [2, 'PROCESSING_STARTED'],
      [3, 'PROFILE_UPDATED'],
      [4, 'DEPLOYED'],
    ]);
    expect((rest.at(-1) as any).data.creditDeployment.deployment.status).toBe('DEPLOYED');
  });
});

describe('Redis subscriptions', () => {
  it('are all in place when many are opened at once on a fresh connection (ioredis#2037)', async () => {
    const liveUpdates = new LiveUpdates({ ...testRedis, prefix: testConfig.REDIS_PREFIX });
    const keys = Array.from({ length: 16 }, (_, i) => `race-${Date.now()}-${i}`);
    const received = new Set<string>();
    const all = new Promise<void>((resolve) => {
      void Promise.all(
        keys.map((key) =>
          liveUpdates.subscribe('deployment', key, () => {
            received.add(key);
            if (received.size === keys.length) resolve();
          }),
        ),
      ).then(async () => {
        for (const key of keys) await liveUpdates.publish('deployment', key, { deploymentId: key, sequence: 1, type: 'T', status: 'QUEUED' });
      });
    });
    await all;
    expect(received.size).toBe(keys.length);
    await liveUpdates.close();
  });
});

describe('a deployment not in the caller’s reach', () => {
  it('is a NOT_FOUND error on the subscription and null on the query', async () => {
    const { offerId, userToken } = await issueOffer(apiA.url);
    const accepted = await acceptOffer(apiA.url, offerId, userToken);
    const stranger = await (await import('./support/client.ts')).token('stranger');
    const messages = [];
    for await (const m of wsSubscribe(apiA.url, STREAM, { id: accepted.deployment.id }, stranger)) messages.push(m);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(apiA.url, DEPLOYMENT, { id: accepted.deployment.id }, stranger)).data.creditDeployment).toBeNull();
    // The API listened on the deployment's channel while it read who may see it: it let go of it.
    const redis = createRedis('publisher', testRedis);
    try {
      const channel = `${testConfig.REDIS_PREFIX}:deployment:${accepted.deployment.id}`;
      await waitUntil(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] === 0, `no subscriber left on ${channel}`, 5_000);
    } finally {
      await closeRedis(redis);
    }
  });
});
