// The deployment reconciler settles every deployment it finds, even when what follows a commit
// fails for one of them: a publish that throws (Redis gone for the live updates) is logged by the
// after-commit step, and the reconciler goes on with the rest of its batch. The notification
// reconciler leaves a campaign batch's notifications to the batch's own job while it waits.
import { afterAll, describe, expect, it } from 'vitest';
import { createAfterCommit } from '../src/jobs/after-commit.ts';
import { closeQueue, createDeploymentQueue, createNotificationQueue, firstStepsJobId } from '../src/jobs/queues.ts';
import { createDeploymentReconciler, createNotificationReconciler } from '../src/jobs/reconciler.ts';
import { prisma } from '../src/platform/db.ts';
import type { Logger } from '../src/platform/logger.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { createPushSender } from '../src/push/push-sender.ts';
import { LiveUpdates } from '../src/realtime/live-updates.ts';
import { Presence } from '../src/realtime/presence.ts';
import { engineToken, gql, newUserId } from './support/client.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { giveUpDeploymentJobs } from './support/give-up-jobs.ts';
import { captureLogs } from './support/logs.ts';
import { serviceForTests } from './support/service.ts';
import { presenceOptions, testConfig as config, testRedis } from './support/settings.ts';

const service = serviceForTests({ worker: false });
const ISSUE_OFFERS = /* GraphQL */ `
  mutation IssueOffers($inputs: [IssueCreditOfferInput!]!) {
    issueCreditOffers(inputs: $inputs) { __typename }
  }
`;
const queues = { redis: testRedis, prefix: config.REDIS_PREFIX };
const deploymentQueue = createDeploymentQueue(queues, { backoffMs: 100, maxBackoffMs: 100, retryHorizonMs: 0 });
const notificationQueue = createNotificationQueue(queues, { attempts: 1, backoffMs: 100 });
const presenceConnection = createRedis('publisher', testRedis);
afterAll(async () => {
  await Promise.all([closeQueue(deploymentQueue), closeQueue(notificationQueue)]);
  await closeRedis(presenceConnection);
});

/** Delivery for the after-commit step: push off (a push is settled SKIPPED), presence from the test's Redis. */
const deliveryWith = (logger: Logger) => ({
  presence: new Presence(presenceConnection, presenceOptions()),
  push: createPushSender(null),
  fallbackMs: 1000,
  pushClaimMs: 2000,
  preferences: { offersPushDefault: true, releaseSpreadMs: 0 },
  logger,
});

describe('the deployment reconciler', () => {
  it('settles every deployment of its batch when publishing the first one fails', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { offerId, userToken } = await issueOffer(service.url);
      ids.push((await acceptOffer(service.url, offerId, userToken)).deployment.id);
    }
    await giveUpDeploymentJobs(ids);

    // Live updates whose Redis connection is gone: every publish throws.
    const liveUpdates = new LiveUpdates({ ...testRedis, prefix: config.REDIS_PREFIX });
    await liveUpdates.close();
    const { logger, entries } = captureLogs('warn');
    const delivery = deliveryWith(logger);
    const afterCommit = createAfterCommit({ liveUpdates, notificationQueue, deploymentQueue, delivery, logger });
    const reconcile = createDeploymentReconciler({ queue: deploymentQueue, afterCommit, logger, graceMs: 0, retryHorizonMs: 0 });

    await reconcile();

    const deployments = await prisma.creditDeployment.findMany({ where: { id: { in: ids } } });
    expect(deployments.map((d) => [d.status, d.failureCode])).toEqual(ids.map(() => ['FAILED', 'RETRIES_EXHAUSTED']));
    // Each one's publish failed, and each one's notification was still taken care of (push off: SKIPPED).
    expect(entries.filter((l) => /could not publish deployment events/.test(l.msg ?? ''))).toHaveLength(3);
    const notifications = await prisma.notification.findMany({ where: { deploymentId: { in: ids } }, include: { deliveries: true } });
    expect(notifications.map((n) => n.deliveries.map((d) => d.status))).toEqual(ids.map(() => ['SKIPPED']));
  });
});

describe('the notification reconciler', () => {
  it("leaves a campaign batch's notifications to its first-steps job while that waits; takes them over once it is gone", async () => {
    // No worker runs here: the batch's first-steps job waits in the queue, as behind a backlog.
    const inputs = Array.from({ length: 5 }, () => ({
      userId: newUserId(),
      limitCents: 100_000,
      interestRateBps: 150,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    }));
    const issued = await gql(service.url, ISSUE_OFFERS, { inputs }, await engineToken());
    expect(issued.errors).toBeUndefined();
    const received = await prisma.notification.findMany({ where: { userId: { in: inputs.map((i) => i.userId) }, kind: 'OFFER_RECEIVED' } });
    expect(received).toHaveLength(5);
    const batchJob = await notificationQueue.getJob(firstStepsJobId(received[0]!));
    expect(batchJob?.data).toMatchObject({ notificationIds: expect.arrayContaining(received.map((n) => n.id)) });

    const delivery = deliveryWith(captureLogs('warn').logger);
    const liveUpdates = new LiveUpdates({ ...testRedis, prefix: config.REDIS_PREFIX });
    try {
      const afterCommit = createAfterCommit({ liveUpdates, notificationQueue, deploymentQueue, delivery, logger: delivery.logger });
      const reconcile = createNotificationReconciler({ queue: notificationQueue, afterCommit, logger: delivery.logger, graceMs: 0 });
      const jobsOfReceived = async () => (await Promise.all(received.map((n) => notificationQueue.getJob(n.id)))).filter(Boolean);

      await reconcile();
      expect(await jobsOfReceived()).toEqual([]);

      // The batch's job lost (with Redis's data, say): each notification gets a job of its own.
      await batchJob!.remove();
      await reconcile();
      expect(await jobsOfReceived()).toHaveLength(5);
    } finally {
      await liveUpdates.close();
    }
  });
});
