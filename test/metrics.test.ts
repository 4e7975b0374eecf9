// /metrics of the API and of the worker (separate processes, each on its own admin port) after a
// flow: a backlog while no worker runs, deployments DEPLOYED, one refused, one retried, pushes
// sent, failed and fallen back. Each series matches what the database holds.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { startService, type RunningService } from '../src/service.ts';
import { engineToken, gql, wsSubscribe } from './support/client.ts';
import { FakeFcm, UNREGISTERED } from './support/fake-fcm.ts';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { NOTIFICATIONS_SUBSCRIPTION, registerDevice, reader } from './support/notification-fixtures.ts';
import { scrapeMetrics, type Scrape } from './support/metrics.ts';
import { freePort, spawnService, stopGracefully } from './support/processes.ts';
import { testConfig } from './support/settings.ts';
import { waitUntil } from './support/wait.ts';
import { lockProfile } from './support/row-locks.ts';

const DEPLOYMENTS = 'credit-deployments';
const STREAM = 'subscription W($id: ID!) { creditDeployment(id: $id, afterSequence: 0) { sequence type status } }';
const SYNC = 'mutation S($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }';

const fcm = new FakeFcm();
const api = { url: '', adminUrl: '', process: null as ReturnType<typeof spawnService> | null };
let worker: RunningService | null = null;

beforeAll(async () => {
  await fcm.start();
  const [port, adminPort] = [await freePort(), await freePort()];
  api.process = spawnService('api', { PORT: String(port), API_ADMIN_PORT: String(adminPort) });
  api.url = `http://127.0.0.1:${port}`;
  api.adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitUntil(() => fetch(`${api.adminUrl}/health`).then((r) => r.ok, () => false), 'the API process', 60_000);
}, 90_000);

afterAll(async () => {
  await worker?.close();
  if (api.process) expect(await stopGracefully(api.process)).toBe(0);
  await fcm.close();
});

const countDeployments = (status: 'DEPLOYED' | 'FAILED' | 'QUEUED') => prisma.creditDeployment.count({ where: { status } });

describe('/metrics on the admin ports', () => {
  it('reports the flow as the database has it, in the API and in the worker', { timeout: 60_000 }, async () => {
    // Devices: A has a dead token and a good one, B a good one.
    const a = await issueOffer(api.url, { limitCents: 100_000 });
    const b = await issueOffer(api.url, { limitCents: 100_000 });
    await registerDevice(api.url, a.userToken, 'token-a-uninstalled');
    fcm.replyTo('token-a-uninstalled', UNREGISTERED);
    await registerDevice(api.url, a.userToken, 'token-a-phone');
    await registerDevice(api.url, b.userToken, 'token-b-phone');

    // No worker yet: the accepted deployments wait in the queue, and the API says so.
    const firstA = (await acceptOffer(api.url, a.offerId, a.userToken)).deployment.id;
    const firstB = (await acceptOffer(api.url, b.offerId, b.userToken)).deployment.id;
    const backlog = await scrapeMetrics(api.adminUrl);
    expect(backlog.value('credit_queue_jobs', { queue: DEPLOYMENTS, state: 'waiting' })).toBe(await countDeployments('QUEUED'));
    expect(backlog.value('credit_queue_jobs', { queue: DEPLOYMENTS, state: 'waiting' })).toBe(2);
    expect(backlog.value('credit_queue_workers', { queue: DEPLOYMENTS })).toBe(0);
    expect(backlog.value('credit_queue_oldest_waiting_job_age_seconds', { queue: DEPLOYMENTS })).toBeGreaterThan(0);

    worker = await startService({ api: false, worker: true, messaging: fcm.messaging(), adminPort: 0 });
    await waitForFinal(api.url, firstA, a.userToken);
    await waitForFinal(api.url, firstB, b.userToken);

    // A refusal: A's next offer is below the credit A uses.
    await gql(api.url, SYNC, { input: { userId: a.userId, usedCents: 90_000 } }, await engineToken());
    const refused = await issueOffer(api.url, { userId: a.userId, limitCents: 50_000 });
    await waitForFinal(api.url, (await acceptOffer(api.url, refused.offerId, a.userToken)).deployment.id, a.userToken);

    // A retry (B's profile row held by another transaction) while B watches live: B's notification
    // goes in-app, is not acknowledged, and falls back to a push.
    const live = reader(wsSubscribe(api.url, NOTIFICATIONS_SUBSCRIPTION, {}, b.userToken));
    const liveStarted = live.next();
    await waitUntil(async () => (await scrapeMetrics(api.adminUrl)).value('credit_live_streams', { stream: 'notifications' }) === 1, 'the live stream');
    const lock = await lockProfile(testConfig.DATABASE_URL, b.userId);
    const second = await issueOffer(api.url, { userId: b.userId, limitCents: 200_000 });
    const secondB = (await acceptOffer(api.url, second.offerId, b.userToken)).deployment.id;
    const stream = wsSubscribe(api.url, STREAM, { id: secondB }, b.userToken);
    let during: Scrape | null = null;
    for await (const message of stream) {
      if (message.data!.creditDeployment.status !== 'RETRYING' || during) continue;
      during = await scrapeMetrics(api.adminUrl);
      await lock.release();
    }
    expect(during!.value('credit_websocket_connections')).toBe(2);
    expect(during!.value('credit_live_streams', { stream: 'deployment' })).toBe(1);
    await liveStarted;
    await live.close();
    await waitUntil(async () => (await prisma.notification.count({ where: { pushSettledAt: null } })) === 0, 'every push settled');

    // One unauthenticated query: a GraphQL error.
    await gql(api.url, 'query Mine { me { id } }');

    const [apiScrape, workerScrape] = await Promise.all([scrapeMetrics(api.adminUrl), scrapeMetrics(worker.adminUrl)]);
    await expectDeployments(workerScrape);
    await expectNotifications(workerScrape);
    for (const scrape of [apiScrape, workerScrape]) {
      expect(scrape.value('credit_queue_jobs', { queue: DEPLOYMENTS, state: 'waiting' })).toBe(0);
      expect(scrape.value('credit_queue_jobs', { queue: DEPLOYMENTS, state: 'failed' })).toBe(1);
      expect(scrape.value('credit_queue_oldest_waiting_job_age_seconds', { queue: DEPLOYMENTS })).toBe(0);
      expect(scrape.value('credit_queue_workers', { queue: DEPLOYMENTS })).toBe(1);
      for (const queue of ['credit-notifications', 'credit-offer-expiry']) expect(scrape.has('credit_queue_jobs') && scrape.samples.some((s) => s.labels.queue === queue)).toBe(true);
      for (const name of ['nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds']) expect(scrape.has(name), name).toBe(true);
    }
    expectGraphql(apiScrape);
    expect(apiScrape.value('credit_websocket_connections')).toBe(0);
    expect(apiScrape.value('credit_live_streams')).toBe(0);
    expect(apiScrape.families).toContain('credit_rate_limit_refusals_total');

    // Every metric an alert rule names is really exported.
    const rules = readFileSync(new URL('../monitoring/alerts.yml', import.meta.url), 'utf8');
    const named = new Set([...rules.matchAll(/\b((?:credit|nodejs|graphql)_[a-z_]+)\b/g)].map((m) => m[1]!));
    for (const name of named) expect(apiScrape.has(name) || workerScrape.has(name), name).toBe(true);
  });
});

async function expectDeployments(scrape: Scrape) {
  const deployed = await countDeployments('DEPLOYED');
  expect(deployed).toBe(3);
  expect(scrape.value('credit_deployments_ended_total', { outcome: 'DEPLOYED' })).toBe(deployed);
  const failed = await prisma.creditDeployment.groupBy({ by: ['failureCode'], where: { status: 'FAILED' }, _count: true });
  expect(failed).toEqual([{ failureCode: 'LIMIT_BELOW_USAGE', _count: 1 }]);
  expect(scrape.value('credit_deployments_ended_total', { outcome: 'FAILED', failure_code: 'LIMIT_BELOW_USAGE' })).toBe(1);
  expect(scrape.value('credit_deployments_ended_total', { outcome: 'FAILED' })).toBe(1);
  expect(scrape.value('credit_deployment_duration_seconds_count')).toBe(deployed);
  const processing = await prisma.creditDeployment.aggregate({ where: { status: 'DEPLOYED' }, _sum: { processingMs: true } });
  expect(scrape.value('credit_deployment_duration_seconds_sum')).toBeCloseTo(Number(processing._sum.processingMs) / 1000, 3);
  const retries = await prisma.deploymentEvent.count({ where: { type: 'RETRY_SCHEDULED' } });
  expect(retries).toBeGreaterThan(0);
  expect(scrape.value('credit_deployment_retries_total', { cause: 'DATABASE_BUSY' })).toBe(retries);
}

async function expectNotifications(scrape: Scrape) {
  const recorded = await prisma.notificationDelivery.groupBy({ by: ['channel', 'status'], _count: true });
  expect(recorded.length).toBeGreaterThanOrEqual(3);
  for (const row of recorded) {
    expect(scrape.value('credit_notification_deliveries_total', { channel: row.channel, outcome: row.status }), `${row.channel} ${row.status}`).toBe(row._count);
  }
  expect(scrape.value('credit_notification_deliveries_total')).toBe(await prisma.notificationDelivery.count());
  // Push fallbacks settled: notifications delivered in-app whose push was then settled (the offers' too).
  const fallbacks = await prisma.notification.count({ where: { pushSettledAt: { not: null }, deliveries: { some: { channel: 'IN_APP' } } } });
  expect(fallbacks).toBeGreaterThanOrEqual(1);
  expect(scrape.value('credit_push_fallbacks_total')).toBe(fallbacks);
  expect(scrape.value('credit_push_errors_total', { code: 'messaging/registration-token-not-registered' })).toBe(1);
}

function expectGraphql(scrape: Scrape) {
  const accepts = { operationName: 'Accept', operationType: 'mutation' };
  expect(scrape.value('graphql_request_duration_seconds_count', accepts)).toBe(4);
  expect(scrape.value('graphql_requests_total', accepts)).toBe(4);
  expect(scrape.value('graphql_errors_total', { operationName: 'Mine', operationType: 'query' })).toBe(1);
}
