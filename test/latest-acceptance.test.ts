// The latest acceptance wins: accepting an offer supersedes the user's other pending offers, and
// an older acceptance that reaches the worker after a newer one was applied changes nothing.
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueueDeployment } from '../src/jobs/producers.ts';
import { DEPLOYMENT_QUEUE, type DeploymentJob } from '../src/jobs/queues.ts';
import { loadConfig } from '../src/platform/config.ts';
import { prisma } from '../src/platform/db.ts';
import { gql } from './support/client.ts';
import { ACCEPT_OFFER, acceptOffer, issueOffer, PROFILE, waitForFinal } from './support/fixtures.ts';
import { myNotifications } from './support/notification-fixtures.ts';
import { serviceForTests, startServiceInTest } from './support/service.ts';

// The API only: the test decides when a worker runs and in which order it sees the jobs.
const service = serviceForTests({ worker: false });
const config = loadConfig();
const { hostname, port } = new URL(config.REDIS_URL);
const queue = new Queue<DeploymentJob>(DEPLOYMENT_QUEUE, {
  connection: { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null },
  prefix: config.REDIS_PREFIX,
});
afterAll(() => queue.close());

describe('accepting an offer', () => {
  it("supersedes the user's other PENDING offers; accepting one of them answers OfferNotPendingError SUPERSEDED", async () => {
    const a = await issueOffer(service.url, { limitCents: 100_000 });
    const b = await issueOffer(service.url, { userId: a.userId, limitCents: 200_000 });
    const c = await issueOffer(service.url, { userId: a.userId, limitCents: 300_000 });
    const other = await issueOffer(service.url, { limitCents: 400_000 });

    expect((await acceptOffer(service.url, a.offerId, a.userToken)).__typename).toBe('AcceptOfferSuccess');
    const statuses = await prisma.creditOffer.findMany({ where: { id: { in: [b.offerId, c.offerId, other.offerId] } } });
    expect(Object.fromEntries(statuses.map((o) => [o.id, o.status]))).toEqual({
      [b.offerId]: 'SUPERSEDED',
      [c.offerId]: 'SUPERSEDED',
      [other.offerId]: 'PENDING', // another user's offer is untouched
    });

    const refused = await gql(service.url, ACCEPT_OFFER, { offerId: b.offerId }, a.userToken);
    expect(refused.data.acceptOffer).toMatchObject({ __typename: 'OfferNotPendingError', status: 'SUPERSEDED' });
    expect(await prisma.creditDeployment.count({ where: { offerId: b.offerId } })).toBe(0);
  });
});

describe('an older acceptance applied late', () => {
  it("ends FAILED with SUPERSEDED, its offer FAILED, the profile on the newer terms, the user told so", { timeout: 60_000 }, async () => {
    const a = await issueOffer(service.url, { limitCents: 500_000 });
    const older = (await acceptOffer(service.url, a.offerId, a.userToken)).deployment;
    // A's job is held back (as a slow queue or a retry would), and not re-enqueued by the reconciler meanwhile.
    await queue.remove(older.id);
    await prisma.creditDeployment.update({ where: { id: older.id }, data: { queuedAt: new Date(Date.now() + 3_600_000) } });

    const b = await issueOffer(service.url, { userId: a.userId, limitCents: 900_000 });
    const newer = (await acceptOffer(service.url, b.offerId, a.userToken)).deployment;
    const worker = await startServiceInTest({ api: false });
    expect((await waitForFinal(service.url, newer.id, a.userToken)).status).toBe('DEPLOYED');
    await enqueueDeployment(queue, { deploymentId: older.id, correlationId: older.correlationId });
    const late = await waitForFinal(service.url, older.id, a.userToken);
    expect(late).toMatchObject({ status: 'FAILED', offer: { status: 'FAILED' }, previousLimit: null });
    expect(late.failureReason).toBe('Você aceitou uma oferta mais recente; a oferta de R$ 5.000,00 não foi aplicada.');
    expect(late.events.at(-1)).toMatchObject({ type: 'FAILED', detail: { code: 'SUPERSEDED' } });
    await worker.close();

    const profile = (await gql(service.url, PROFILE, {}, a.userToken)).data.me.creditProfile;
    expect(profile).toMatchObject({ limit: { cents: 900_000 }, version: 1 });
    const notifications = await myNotifications(service.url, a.userToken);
    const told = notifications.filter((n) => n.kind === 'CREDIT_DEPLOYMENT_FAILED');
    expect(told).toHaveLength(1);
    expect(told[0].body).toMatch(/oferta mais recente/);
    expect(notifications.filter((n) => n.kind === 'CREDIT_DEPLOYED')).toHaveLength(1);
  });
});
