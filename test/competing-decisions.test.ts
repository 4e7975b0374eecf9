// One rule for competing decisions: the engine's (or the user's) latest decision wins. A decrease
// withdraws the offers issued before it; accepting an offer issued after a decrease cancels it
// (the user told); a decrease that comes due while a later acceptance is on its way waits for it
// and never undoes it; and with two worker processes applying changes while users accept, every
// user ends on their latest decision, each change applied at most once.
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueueDeployment } from '../src/jobs/producers.ts';
import { DEPLOYMENT_QUEUE, type DeploymentJob } from '../src/jobs/queues.ts';
import { loadConfig } from '../src/platform/config.ts';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, token } from './support/client.ts';
import { ACCEPT_OFFER, acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { killHard, spawnService } from './support/processes.ts';
import { serviceForTests, startServiceInTest } from './support/service.ts';
import { userWithProfile } from './support/users.ts';
import { waitUntil } from './support/wait.ts';

const config = { ...loadConfig(), LIMIT_CHANGE_INTERVAL_MS: 150 };
// The API only: each test decides which workers run.
const service = serviceForTests({ worker: false, config });
const { hostname, port } = new URL(config.REDIS_URL);
const queue = new Queue<DeploymentJob>(DEPLOYMENT_QUEUE, {
  connection: { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null },
  prefix: config.REDIS_PREFIX,
});
afterAll(() => queue.close());

const SCHEDULE = /* GraphQL */ `
  mutation Schedule($input: ScheduleLimitDecreaseInput!) {
    scheduleLimitDecrease(input: $input) { __typename ... on ScheduleLimitDecreaseSuccess { change { id status } } ... on Error { message } }
  }
`;

async function scheduleDecrease(userId: string, newLimitCents: number, reason = 'RISK_DETERIORATION', effectiveAt: Date | null = new Date()) {
  const input = { userId, newLimitCents, reason, ...(effectiveAt ? { effectiveAt: effectiveAt.toISOString() } : {}) };
  const result = await gql(service.url, SCHEDULE, { input }, await engineToken());
  expect(result.data.scheduleLimitDecrease.__typename).toBe('ScheduleLimitDecreaseSuccess');
  return result.data.scheduleLimitDecrease.change.id as string;
}

const profileOf = (userId: string) => prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
const changeOf = (id: string) => prisma.limitChange.findUniqueOrThrow({ where: { id } });

describe('scheduling a decrease', () => {
  it("withdraws the user's PENDING offers issued before it; an offer issued after stays open", async () => {
    const user = await userWithProfile('seeded', { limitCents: 800_000 });
    const before = await issueOffer(service.url, { userId: user.userId, limitCents: 900_000 });
    await scheduleDecrease(user.userId, 400_000, 'PORTFOLIO_REVIEW', null);
    const after = await issueOffer(service.url, { userId: user.userId, limitCents: 950_000 });
    const statuses = await prisma.creditOffer.findMany({ where: { userId: user.userId }, orderBy: { createdAt: 'asc' } });
    expect(statuses.map((o) => [o.id, o.status])).toEqual([[before.offerId, 'WITHDRAWN'], [after.offerId, 'PENDING']]);
    const refused = await gql(service.url, ACCEPT_OFFER, { offerId: before.offerId }, user.userToken);
    expect(refused.data.acceptOffer).toMatchObject({ __typename: 'OfferNotPendingError', status: 'WITHDRAWN' });
  });
});

describe('accepting an offer issued after a decrease was scheduled', () => {
  it('cancels that decrease once applied: the limit is the offer’s, the user told the decrease is off', { timeout: 30_000 }, async () => {
    await startServiceInTest({ api: false, config });
    const user = await userWithProfile('seeded', { limitCents: 800_000 });
    const decrease = await scheduleDecrease(user.userId, 300_000, 'INACTIVITY', null);
    const offer = await issueOffer(service.url, { userId: user.userId, limitCents: 1_200_000 });
    const accepted = await acceptOffer(service.url, offer.offerId, offer.userToken);
    expect((await waitForFinal(service.url, accepted.deployment.id, user.userToken)).status).toBe('DEPLOYED');
    expect(await changeOf(decrease)).toMatchObject({ status: 'CANCELLED' });
    expect((await profileOf(user.userId)).limitCents).toBe(1_200_000n);
    expect(await prisma.notification.count({ where: { userId: user.userId, kind: 'LIMIT_CHANGE_CANCELLED' } })).toBe(1);
    const trail = await prisma.limitChangeEvent.findMany({ where: { changeId: decrease }, orderBy: { id: 'asc' } });
    expect(trail.map((e) => [e.type, e.detail && (e.detail as any).because])).toEqual([['SCHEDULED', undefined], ['CANCELLED', 'SUPERSEDED']]);
  });
});

describe('a decrease due while a later acceptance is on its way', () => {
  it('waits for it and never undoes it: the acceptance applies, the decrease is cancelled', { timeout: 45_000 }, async () => {
    const user = await userWithProfile('seeded', { limitCents: 800_000 });
    const decrease = await scheduleDecrease(user.userId, 200_000);
    const offer = await issueOffer(service.url, { userId: user.userId, limitCents: 1_000_000 });
    const { deployment } = await acceptOffer(service.url, offer.offerId, offer.userToken);
    // Its job held back (a slow queue), and not re-enqueued by the reconciler meanwhile.
    await queue.remove(deployment.id);
    await prisma.creditDeployment.update({ where: { id: deployment.id }, data: { queuedAt: new Date(Date.now() + 3_600_000) } });

    await startServiceInTest({ api: false, config });
    const change = await changeOf(decrease);
    // The notice goes out; then the decrease is due, and passes after pass leave it waiting.
    await waitUntil(async () => (await prisma.notificationDelivery.count({ where: { notificationId: change.noticeNotificationId! } })) > 0, 'the notice delivered');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await changeOf(decrease)).toMatchObject({ status: 'SCHEDULED' });
    expect((await profileOf(user.userId)).limitCents).toBe(800_000n);

    await enqueueDeployment(queue, { deploymentId: deployment.id, correlationId: deployment.correlationId });
    expect((await waitForFinal(service.url, deployment.id, user.userToken)).status).toBe('DEPLOYED');
    await waitUntil(async () => (await changeOf(decrease)).status === 'CANCELLED', 'the decrease cancelled');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await profileOf(user.userId)).limitCents).toBe(1_000_000n);
    expect(await prisma.notification.count({ where: { userId: user.userId, kind: 'LIMIT_DECREASED' } })).toBe(0);
  });
});

describe('an acceptance made before a decrease, reaching the worker after the decrease applied', () => {
  it('ends FAILED, SUPERSEDED: the later decision (the decrease) stays', { timeout: 45_000 }, async () => {
    const user = await userWithProfile('seeded', { limitCents: 800_000 });
    const offer = await issueOffer(service.url, { userId: user.userId, limitCents: 1_500_000 });
    const { deployment } = await acceptOffer(service.url, offer.offerId, offer.userToken);
    await queue.remove(deployment.id);
    await prisma.creditDeployment.update({ where: { id: deployment.id }, data: { queuedAt: new Date(Date.now() + 3_600_000) } });
    const decrease = await scheduleDecrease(user.userId, 200_000);

    await startServiceInTest({ api: false, config });
    await waitUntil(async () => (await changeOf(decrease)).status === 'APPLIED', 'the decrease applied');
    await enqueueDeployment(queue, { deploymentId: deployment.id, correlationId: deployment.correlationId });
    const late = await waitForFinal(service.url, deployment.id, user.userToken);
    expect(late).toMatchObject({ status: 'FAILED', failureCode: 'SUPERSEDED' });
    expect((await profileOf(user.userId)).limitCents).toBe(200_000n);
  });
});

describe('two worker processes, decreases coming due while users accept', () => {
  it('every user ends on their latest decision; each change applies at most once; event sequences have no gaps', { timeout: 90_000 }, async () => {
    const env = { LIMIT_CHANGE_INTERVAL_MS: '100', WORKER_ADMIN_PORT: '0' };
    const workers = [spawnService('worker', env), spawnService('worker', env)];
    try {
      const users = await Promise.all(Array.from({ length: 8 }, () => userWithProfile('seeded', { limitCents: 1_000_000 })));
      const decreases = await Promise.all(users.map((u) => scheduleDecrease(u.userId, 100_000)));
      // Half of them accept an offer issued after their decrease, while the workers apply the decreases.
      const accepting = users.filter((_, i) => i % 2 === 0);
      const deployments = await Promise.all(
        accepting.map(async (u) => {
          const offer = await issueOffer(service.url, { userId: u.userId, limitCents: 2_000_000 });
          return (await acceptOffer(service.url, offer.offerId, await token(u.userId))).deployment.id as string;
        }),
      );
      await Promise.all(deployments.map((id, i) => waitForFinal(service.url, id, accepting[i]!.userToken, 60_000)));
      await waitUntil(async () => (await prisma.limitChange.count({ where: { id: { in: decreases }, status: 'SCHEDULED' } })) === 0, 'every decrease settled', 60_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000));

      for (const [i, user] of users.entries()) {
        const change = await changeOf(decreases[i]!);
        const profile = await profileOf(user.userId);
        const accepted = i % 2 === 0;
        expect(profile.limitCents, user.userId).toBe(accepted ? 2_000_000n : 100_000n);
        if (!accepted) expect(change.status).toBe('APPLIED');
        const trail = await prisma.limitChangeEvent.findMany({ where: { changeId: change.id } });
        expect(trail.filter((e) => e.type === 'APPLIED' || e.type === 'CANCELLED')).toHaveLength(1);
        const decreased = await prisma.notification.count({ where: { userId: user.userId, kind: 'LIMIT_DECREASED' } });
        expect(decreased).toBe(change.status === 'APPLIED' ? 1 : 0);
        // One profile change per applied decision: the decrease (when it applied) and the deployment.
        expect(profile.version).toBe((change.status === 'APPLIED' ? 1 : 0) + (accepted ? 1 : 0));
        const events = await prisma.outboxEvent.findMany({ where: { userId: user.userId }, orderBy: { sequence: 'asc' } });
        expect(events.map((e) => e.sequence)).toEqual(events.map((_, k) => k + 1));
        expect(events.filter((e) => e.type === 'credit.limit.changed')).toHaveLength(profile.version);
      }
    } finally {
      await Promise.all(workers.map((w) => killHard(w)));
    }
  });
});
