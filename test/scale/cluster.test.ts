// Beyond one machine: two API and two worker processes on a Redis Cluster (three masters, three
// replicas) and behind a PgBouncer in transaction mode, all on throwaway servers. The live flow
// crosses processes through the cluster, and so do the push fallback (the workers push to a fake
// FCM) and the per-user cap on subscriptions; the periodic jobs run once across the workers; the
// database timeouts fire through PgBouncer; and a kill -9 of the master holding the deployment
// queue's slot, with 200 deployments in flight, loses nothing and applies nothing twice.
import { createInterface } from 'node:readline';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cluster, destroyServers, directUrl, pgbouncer, scaleEnv } from './servers.ts';

const { prisma } = await import('../../src/platform/db.ts');
const { DEPLOYMENT_QUEUE } = await import('../../src/jobs/queues.ts');
const { newUserId, socketClient, sseSubscribe, subscribeOn, token, wsSubscribe } = await import('../support/client.ts');
const { FakeFcm } = await import('../support/fake-fcm.ts');
const { acceptOffer, issueOffer } = await import('../support/fixtures.ts');
const { firstOfKind, myNotifications, NOTIFICATIONS_SUBSCRIPTION, registerDevice } = await import('../support/notification-fixtures.ts');
const { freePort } = await import('../support/free-port.ts');
const { spawnPushWorker, spawnService, stopGracefully } = await import('../support/processes.ts');
const { waitUntil } = await import('../support/wait.ts');
const { loadConfig } = await import('../../src/platform/config.ts');
const { createLogger } = await import('../../src/platform/logger.ts');
const { closeRedis, createRedis } = await import('../../src/platform/redis.ts');
const { redisSettings } = await import('../../src/service.ts');
const { Presence } = await import('../../src/realtime/presence.ts');
const { SubscriptionQuota } = await import('../../src/realtime/subscription-quota.ts');
const { LEASE_GROUPS, UserLeases } = await import('../../src/realtime/user-leases.ts');

const config = loadConfig();
const presenceConnection = createRedis('publisher', redisSettings(config, createLogger('silent')));
const presence = new Presence(presenceConnection, { prefix: config.REDIS_PREFIX, ttlMs: config.PRESENCE_TTL_MS, cluster: true });
// The users' subscription slots as the API processes count them (this one takes none).
const slots = new SubscriptionQuota(presenceConnection, {
  prefix: config.REDIS_PREFIX,
  maxPerUser: config.MAX_SUBSCRIPTIONS_PER_USER,
  ttlMs: config.SUBSCRIPTION_SLOT_TTL_MS,
  cluster: true,
});
const fcm = new FakeFcm();

const STARTUP_MS = 180_000;
const STREAM = 'subscription W($id: ID!, $after: Int) { creditDeployment(id: $id, afterSequence: $after) { sequence type status } }';

interface PeriodicRun {
  worker: number;
  periodic: string;
  interval?: number;
  jobId?: string;
}
const runs: PeriodicRun[] = [];
const processes: ReturnType<typeof spawnService>[] = [];
let apis: string[] = [];

/** Debug logs of the workers: each periodic run says which one it is. */
const logsOf = (worker: number) => (line: string) => {
  try {
    const entry = JSON.parse(line);
    if (entry.msg === 'periodic run') runs.push({ worker, periodic: entry.periodic, interval: entry.interval, jobId: entry.jobId });
    // TEST_LOG_LEVEL=warn shows what went wrong in the workers.
    if (process.env.TEST_LOG_LEVEL && entry.level >= 40) console.error(`worker ${worker}: ${line}`);
  } catch {
    // not a log line
  }
};

beforeAll(async () => {
  const ports = [await freePort(), await freePort()];
  apis = ports.map((port) => `http://127.0.0.1:${port}`);
  for (const port of ports) processes.push(spawnService('api', { PORT: String(port), HOST: '127.0.0.1' }));
  await fcm.start();
  for (const worker of [1, 2]) {
    // The service's worker, with its pushes going to the fake FCM.
    const child = spawnPushWorker(fcm.listeningPort, { LOG_LEVEL: 'debug' }, { stdout: 'pipe' });
    createInterface({ input: child.stdout! }).on('line', logsOf(worker));
    processes.push(child);
  }
  for (const url of apis) {
    // Four processes compile and start together: minutes on a 2-core machine shared with others.
    await waitUntil(async () => (await fetch(`${url}/ready`).catch(() => null))?.ok, `the API at ${url}`, STARTUP_MS);
  }
  await waitUntil(async () => new Set(runs.map((r) => r.worker)).size === 2, 'both workers to run', STARTUP_MS);
});

afterAll(async () => {
  const exitCodes: (number | null)[] = [];
  try {
    for (const child of processes) exitCodes.push(await stopGracefully(child));
    await closeRedis(presenceConnection);
    await fcm.close();
  } finally {
    await destroyServers();
  }
  expect(exitCodes).toEqual(processes.map(() => 0));
});

describe('the service on a Redis Cluster and behind PgBouncer, in four processes', () => {
  it('streams a deployment opened on one API process, accepted on the other, over SSE and WebSocket, and notifies in-app', async () => {
    const [a, b] = apis as [string, string];
    const offer = await issueOffer(a, { limitCents: 70_000 });
    const pending = firstOfKind(wsSubscribe(b, NOTIFICATIONS_SUBSCRIPTION, {}, offer.userToken), 'CREDIT_DEPLOYED');
    await waitUntil(() => presence.isPresent(offer.userId), 'the user present through the cluster');
    const { deployment } = await acceptOffer(a, offer.offerId, offer.userToken);
    const [sse, ws] = await Promise.all(
      [sseSubscribe(b, STREAM, { id: deployment.id, after: 0 }, offer.userToken), wsSubscribe(a, STREAM, { id: deployment.id, after: 0 }, offer.userToken)].map(
        async (stream) => {
          const seen: { sequence: number; type: string }[] = [];
          for await (const message of stream) seen.push(message.data!.creditDeployment);
          return seen;
        },
      ),
    );
    for (const seen of [sse!, ws!]) {
      expect(seen.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
      expect(seen.at(-1)!.type).toBe('DEPLOYED');
    }
    expect(await pending).toMatchObject({ kind: 'CREDIT_DEPLOYED', status: 'DELIVERED' });
  });

  it('runs the reconcilers and offer expiry once per interval across both workers', async () => {
    const from = runs.length;
    await waitUntil(async () => runs.slice(from).filter((r) => r.periodic === 'expire-offers').length >= 5, 'five offer expiry runs', 30_000);
    const window = runs.slice(from);
    for (const name of ['reconcile-deployments', 'reconcile-notifications']) {
      const intervals = window.filter((r) => r.periodic === name).map((r) => r.interval);
      expect(intervals.length).toBeGreaterThanOrEqual(3);
      // Each interval run by one worker only: no interval twice.
      expect(new Set(intervals).size).toBe(intervals.length);
      // One run per interval: as many runs as intervals went by, give or take the edges.
      const span = Math.max(...(intervals as number[])) - Math.min(...(intervals as number[])) + 1;
      expect(intervals.length).toBeLessThanOrEqual(span);
    }
    const expiryJobs = window.filter((r) => r.periodic === 'expire-offers').map((r) => r.jobId);
    expect(new Set(expiryJobs).size).toBe(expiryJobs.length);
    // Both workers take part (the work is shared, not pinned to one process).
    expect(new Set(window.map((r) => r.worker))).toEqual(new Set([1, 2]));
  });

  it('has the lock timeout fire through PgBouncer, which refuses session options at startup', async () => {
    const refused = new pg.Client({ connectionString: pgbouncer.url('credit_scale'), options: '-c lock_timeout=1' });
    await expect(refused.connect()).rejects.toThrow(/unsupported startup parameter/);
    await refused.end().catch(() => undefined);

    const offer = await issueOffer(apis[0]!, { limitCents: 10_000 });
    const blocker = new pg.Client({ connectionString: directUrl });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM credit_offers WHERE id = $1 FOR UPDATE', [offer.offerId]);
      const started = Date.now();
      const waiting = prisma.$executeRaw`UPDATE credit_offers SET status = status WHERE id = ${offer.offerId}`;
      await expect(waiting).rejects.toThrow(/lock timeout/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
  });

  it('pushes through FCM, from a worker process, a notification delivered in-app on another API process and not acknowledged', async () => {
    const [a, b] = apis as [string, string];
    const offer = await issueOffer(a, { limitCents: 80_000 });
    const device = `scale-device-${offer.offerId}`;
    expect((await registerDevice(a, offer.userToken, device)).__typename).toBe('RegisterDeviceSuccess');
    const stream = sseSubscribe(b, NOTIFICATIONS_SUBSCRIPTION, {}, offer.userToken);
    try {
      const first = firstOfKind(stream, 'CREDIT_DEPLOYED');
      await waitUntil(() => presence.isPresent(offer.userId), 'the user present through the cluster');
      await acceptOffer(a, offer.offerId, offer.userToken);
      const delivered = await first;
      expect(delivered).toMatchObject({ status: 'DELIVERED', deliveries: [{ channel: 'IN_APP', status: 'SENT' }] });

      const push = await fcm.waitFor((r) => r.body?.message?.data?.notificationId === delivered.id, 30_000);
      expect(push.body.message.token).toBe(device);
      const stored = await waitUntil(async () => {
        const mine = (await myNotifications(a, offer.userToken)).find((n: { id: string }) => n.id === delivered.id);
        return mine?.deliveries.length === 2 && mine;
      }, 'the push delivery recorded');
      expect(stored.deliveries.map((d: { channel: string; status: string }) => [d.channel, d.status])).toEqual([
        ['IN_APP', 'SENT'],
        ['PUSH', 'SENT'],
      ]);
      const [inApp, pushed] = stored.deliveries;
      expect(Date.parse(pushed.at) - Date.parse(inApp.at)).toBeGreaterThanOrEqual(config.PUSH_FALLBACK_AFTER_MS);
      expect(fcm.requestsFor(delivered.id)).toHaveLength(1);
    } finally {
      await stream.return(undefined);
    }
  });

  it('holds a user to MAX_SUBSCRIPTIONS_PER_USER live subscriptions across both API processes, past the slots\' TTL, and gives a slot back when one ends', async () => {
    const [a, b] = apis as [string, string];
    const userId = newUserId();
    const jwt = await token(userId);
    const max = config.MAX_SUBSCRIPTIONS_PER_USER;
    const sockets = [socketClient(a, jwt), socketClient(b, jwt)] as const;
    const LIVE = 'subscription { notifications { id } }';
    const refusal = async (socket: (typeof sockets)[number]) => ((await subscribeOn(socket, LIVE).outcome) as { message: string }[])[0];
    const held = (count: number) => async () => (await slots.held(userId)) === count;
    try {
      const live = Array.from({ length: max }, (_, i) => subscribeOn(sockets[i % 2]!, LIVE));
      await waitUntil(held(max), `${max} slots held`);
      // Longer than a slot lasts without its heartbeat: the API processes renew theirs through the cluster.
      await new Promise((resolve) => setTimeout(resolve, config.SUBSCRIPTION_SLOT_TTL_MS * 1.5));
      expect(await slots.held(userId)).toBe(max);
      for (const socket of sockets) {
        expect(await refusal(socket)).toMatchObject({
          message: `At most ${max} live subscriptions per user: end one before starting another`,
          extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
        });
      }

      // One ends on the first API process: the second takes its slot, and the cap holds again.
      live[0]!.stop();
      await waitUntil(held(max - 1), 'the slot given back');
      live[0] = subscribeOn(sockets[1], LIVE);
      await waitUntil(held(max), 'the slot taken on the other process');
      expect(await refusal(sockets[0])).toMatchObject({ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } });

      for (const subscription of live) subscription.stop();
      await waitUntil(held(0), 'every slot given back');
    } finally {
      await Promise.all(sockets.map((socket) => socket.dispose()));
    }
  });

  it('renews the leases of 500 users (presence, subscription slots) with one script per hash-tagged group, not one per user', async () => {
    const leases = new UserLeases(presenceConnection, { prefix: config.REDIS_PREFIX, kind: 'lease-probe', ttlMs: 60_000, cluster: true });
    const users = Array.from({ length: 500 }, () => newUserId());
    try {
      await Promise.all(users.map((userId) => leases.take(userId)));
      const scripts = vi.spyOn(presenceConnection, 'eval');
      try {
        await leases.renew(); // each script on its group's master: a cross-slot one would be refused
        expect(scripts).toHaveBeenCalledTimes(LEASE_GROUPS);
      } finally {
        scripts.mockRestore();
      }
      expect(new Set(await Promise.all(users.map((userId) => leases.count(userId))))).toEqual(new Set([1]));
    } finally {
      await leases.close();
    }
  });

  it('loses nothing and applies nothing twice when the deployment queue master is killed with 200 deployments in flight', { timeout: 180_000 }, async () => {
    const COUNT = 200;
    const offers = await inBatches(Array.from({ length: COUNT }, (_, i) => i), 20, (i) => issueOffer(apis[i % 2]!, { limitCents: 10_000 + i }));
    const master = await cluster.masterOf(`{${scaleEnv.REDIS_PREFIX}:${DEPLOYMENT_QUEUE}}`);

    // Accept them all, 20 at a time; the master dies when a quarter are accepted.
    let accepted = 0;
    let killed: Promise<void> | null = null;
    const streams: ReturnType<typeof watch>[] = [];
    const deployments = await inBatches(offers, 20, async (offer, i) => {
      const { deployment } = await acceptOffer(apis[i % 2]!, offer.offerId, offer.userToken);
      accepted += 1;
      if (accepted === COUNT / 4) killed = cluster.kill(master);
      // Streams of the deployments around the kill, on both API processes.
      if (i >= COUNT / 4 - 10 && i < COUNT / 4 + 10) streams.push(watch(apis[(i + 1) % 2]!, deployment.id, offer.userToken, i % 2 === 0));
      return deployment.id as string;
    });
    await killed;
    const promoted = await cluster.waitForPromotion(`{${scaleEnv.REDIS_PREFIX}:${DEPLOYMENT_QUEUE}}`, master);
    const promotedAt = Date.now();
    expect(promoted.port).not.toBe(master.port);

    await waitUntil(
      async () => (await prisma.creditDeployment.count({ where: { id: { in: deployments }, status: 'DEPLOYED' } })) === COUNT,
      'every deployment DEPLOYED',
      90_000,
    );
    const events = await prisma.deploymentEvent.findMany({ where: { deploymentId: { in: deployments } }, orderBy: { sequence: 'asc' } });
    for (const id of deployments) {
      const trail = events.filter((e) => e.deploymentId === id);
      expect(trail.map((e) => e.sequence)).toEqual(trail.map((_, i) => i + 1));
      expect(trail.filter((e) => e.type === 'PROFILE_UPDATED')).toHaveLength(1);
      expect(trail.filter((e) => e.type === 'DEPLOYED')).toHaveLength(1);
    }
    const profiles = await prisma.creditProfile.findMany({ where: { userId: { in: offers.map((o) => o.userId) } } });
    expect(profiles.map((p) => Number(p.limitCents)).sort((x, y) => x - y)).toEqual(offers.map((_, i) => 10_000 + i));

    // Every stream delivered each event of its deployment, in order, once, within 15 s of the
    // promotion (or of the event, for those that happened after it).
    expect(streams).toHaveLength(20);
    for (const stream of await Promise.all(streams)) {
      expect(stream.seen.map((e) => e.sequence)).toEqual(stream.seen.map((_, i) => i + 1));
      expect(stream.seen.at(-1)!.type).toBe('DEPLOYED');
      for (const event of stream.seen) {
        const happened = events.find((e) => e.deploymentId === stream.id && e.sequence === event.sequence)!.at.getTime();
        expect(event.receivedAt - Math.max(promotedAt, happened)).toBeLessThan(15_000);
      }
    }
  });
});

/** A deployment's stream until it completes (resuming after the last event if the stream drops). */
async function watch(url: string, id: string, userToken: string, overSse: boolean) {
  const seen: { sequence: number; type: string; receivedAt: number }[] = [];
  for (let attempt = 0; attempt < 5 && seen.at(-1)?.type !== 'DEPLOYED'; attempt += 1) {
    const after = seen.at(-1)?.sequence ?? 0;
    const stream = (overSse ? sseSubscribe : wsSubscribe)(url, STREAM, { id, after }, userToken);
    try {
      for await (const message of stream) seen.push({ ...message.data!.creditDeployment, receivedAt: Date.now() });
    } catch {
      // dropped: resume with afterSequence
    }
  }
  return { id, seen };
}

async function inBatches<T, R>(items: T[], size: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    results.push(...(await Promise.all(items.slice(start, start + size).map((item, i) => fn(item, start + i)))));
  }
  return results;
}
