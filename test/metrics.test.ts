// /metrics of the API and of the worker (separate processes, each on its own admin port) after a
// flow: a backlog while no worker runs, deployments DEPLOYED, one refused, one retried, pushes
// sent, failed and fallen back. Each series matches what the database holds. The flow runs once,
// in the hooks, and keeps its scrapes; each family of series is then a test of its own, so that
// one wrong series does not hide the others.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, wsSubscribe } from './support/client.ts';
import { FakeFcm, UNREGISTERED } from './support/fake-fcm.ts';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { NOTIFICATIONS_SUBSCRIPTION, registerDevice, reader } from './support/notification-fixtures.ts';
import { noQuietHours } from './support/notification-controls.ts';
import { scrapeMetrics, type Scrape } from './support/metrics.ts';
import { serviceForTests } from './support/service.ts';
import { freePort, spawnService, stopGracefully } from './support/processes.ts';
import { testConfig } from './support/settings.ts';
import { waitUntil } from './support/wait.ts';
import { lockProfile } from './support/row-locks.ts';

const DEPLOYMENTS = 'credit-deployments';
const STREAM = 'subscription W($id: ID!) { creditDeployment(id: $id, afterSequence: 0) { sequence type status } }';
const SYNC = 'mutation S($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }';

const fcm = new FakeFcm();
const api = { url: '', adminUrl: '', process: null as ReturnType<typeof spawnService> | null };

beforeAll(async () => {
  await fcm.start();
  const [port, adminPort] = [await freePort(), await freePort()];
  api.process = spawnService('api', { PORT: String(port), API_ADMIN_PORT: String(adminPort) });
  api.url = `http://127.0.0.1:${port}`;
  api.adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitUntil(() => fetch(`${api.adminUrl}/health`).then((r) => r.ok, () => false), 'the API process', 60_000);
}, 90_000);

afterAll(async () => {
  if (api.process) expect(await stopGracefully(api.process)).toBe(0);
  await fcm.close();
});

const countDeployments = (status: 'DEPLOYED' | 'FAILED' | 'QUEUED') => prisma.creditDeployment.count({ where: { status } });

// What the flow saw: the API's scrape during the backlog (with the QUEUED rows then), during a
// retry while two WebSockets were open, and both processes' scrapes at the end.
const seen = {} as { backlog: Scrape; queuedThen: number; during: Scrape; api: Scrape; worker: Scrape };
const users = {} as Record<'a' | 'b', Awaited<ReturnType<typeof issueOffer>>> & { firstA: string; firstB: string };

// Devices: A has a dead token and a good one, B a good one. No worker yet: the accepted
// deployments wait in the queue.
beforeAll(async () => {
  const a = await issueOffer(api.url, { limitCents: 100_000 });
  const b = await issueOffer(api.url, { limitCents: 100_000 });
  // Their offers' pushes go at any hour (quiet hours would hold them): the flow does not depend on the time of day.
  for (const user of [a, b]) await noQuietHours(api.url, user.userToken);
  await registerDevice(api.url, a.userToken, 'token-a-uninstalled');
  fcm.replyTo('token-a-uninstalled', UNREGISTERED);
  await registerDevice(api.url, a.userToken, 'token-a-phone');
  await registerDevice(api.url, b.userToken, 'token-b-phone');
  Object.assign(users, { a, b });
  users.firstA = (await acceptOffer(api.url, a.offerId, a.userToken)).deployment.id;
  users.firstB = (await acceptOffer(api.url, b.offerId, b.userToken)).deployment.id;
  seen.backlog = await scrapeMetrics(api.adminUrl);
  seen.queuedThen = await countDeployments('QUEUED');
});

// The worker, in this process, from here on.
const worker = serviceForTests(() => ({ api: false, messaging: fcm.messaging(), adminPort: 0 }));

beforeAll(async () => {
  const { a, b, firstA, firstB } = users;
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
  for await (const message of stream) {
    if (message.data!.creditDeployment.status !== 'RETRYING' || seen.during) continue;
    seen.during = await scrapeMetrics(api.adminUrl);
    await lock.release();
  }
  await liveStarted;
  await live.close();
  await waitUntil(async () => (await prisma.notification.count({ where: { pushSettledAt: null } })) === 0, 'every push settled');

  // One unauthenticated query: a GraphQL error.
  await gql(api.url, 'query Mine { me { id } }');

  [seen.api, seen.worker] = await Promise.all([scrapeMetrics(api.adminUrl), scrapeMetrics(worker.adminUrl)]);
}, 60_000);

describe('/metrics on the admin ports', () => {
  it('queue series: the backlog while no worker runs, as the database has it', () => {
    const { backlog } = seen;
    expect(backlog.value('credit_queue_jobs', { queue: DEPLOYMENTS, state: 'waiting' })).toBe(seen.queuedThen);
    expect(backlog.value('credit_queue_jobs', { queue: DEPLOYMENTS, state: 'waiting' })).toBe(2);
    expect(backlog.value('credit_queue_workers', { queue: DEPLOYMENTS })).toBe(0);
    expect(backlog.value('credit_queue_oldest_waiting_job_age_seconds', { queue: DEPLOYMENTS })).toBeGreaterThan(0);
  });

  it.each(['api', 'worker'] as const)('queue series after the flow, every queue, in the %s', (side) => {
    const scrape = seen[side];
    expect(scrape.value('credit_queue_jobs', { queue: DEPLOYMENTS, state: 'waiting' })).toBe(0);
    expect(scrape.value('credit_queue_jobs', { queue: DEPLOYMENTS, state: 'failed' })).toBe(1);
    expect(scrape.value('credit_queue_oldest_waiting_job_age_seconds', { queue: DEPLOYMENTS })).toBe(0);
    expect(scrape.value('credit_queue_workers', { queue: DEPLOYMENTS })).toBe(1);
    for (const queue of ['credit-notifications', 'credit-offer-expiry']) expect(scrape.has('credit_queue_jobs') && scrape.samples.some((s) => s.labels.queue === queue)).toBe(true);
  });

  it.each(['api', 'worker'] as const)('Node.js runtime series in the %s', (side) => {
    const scrape = seen[side];
    for (const name of ['nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds']) expect(scrape.has(name), name).toBe(true);
  });

  it('deployment series of the worker: ended by outcome and failure code, durations, retries', () => expectDeployments(seen.worker));

  it('notification series of the worker: deliveries by channel and outcome, push fallbacks and errors', () => expectNotifications(seen.worker));

  it('GraphQL series of the API: requests and errors by operation', () => expectGraphql(seen.api));

  it('live connection series of the API: open WebSockets and streams during the flow, none after', () => {
    expect(seen.during.value('credit_websocket_connections')).toBe(2);
    expect(seen.during.value('credit_live_streams', { stream: 'deployment' })).toBe(1);
    expect(seen.api.value('credit_websocket_connections')).toBe(0);
    expect(seen.api.value('credit_live_streams')).toBe(0);
  });

  it('rate-limit series of the API: exported', () => {
    expect(seen.api.families).toContain('credit_rate_limit_refusals_total');
  });

  it('every metric an alert rule names is really exported', () => {
    const rules = readFileSync(new URL('../monitoring/alerts.yml', import.meta.url), 'utf8');
    const named = new Set([...rules.matchAll(/\b((?:credit|nodejs|graphql)_[a-z_]+)\b/g)].map((m) => m[1]!));
    for (const name of named) expect(seen.api.has(name) || seen.worker.has(name), name).toBe(true);
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
