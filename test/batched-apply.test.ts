// The worker applies the deployments that are ready together, several per transaction: what each
// customer sees must be exactly what applying them one by one gives, whatever their batch-mates do.
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/platform/config.ts';
import { prisma } from '../src/platform/db.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { scrapeMetrics } from './support/metrics.ts';
import { lockProfile } from './support/row-locks.ts';
import { serviceForTests, startServiceInTest } from './support/service.ts';
import { waitUntil } from './support/wait.ts';

const config = loadConfig();
// The API alone: the backlog builds up first, then a worker drains it (as after a worker restart).
const api = serviceForTests({ worker: false });

const startWorker = () => startServiceInTest({ api: false, config });

interface Accepted {
  userId: string;
  deploymentId: string;
  limitCents: number;
}

/** A user's offers of these limits, each accepted in turn (before any is applied). */
async function acceptInTurn(limits: number[], userId?: string): Promise<Accepted[]> {
  const accepted: Accepted[] = [];
  for (const limitCents of limits) {
    const owner = userId ?? accepted[0]?.userId;
    const offer = await issueOffer(api.url, { limitCents, ...(owner ? { userId: owner } : {}) });
    const result = await acceptOffer(api.url, offer.offerId, offer.userToken);
    accepted.push({ userId: offer.userId, deploymentId: result.deployment.id, limitCents });
  }
  return accepted;
}

const statusOf = async (deploymentId: string) => (await prisma.creditDeployment.findUniqueOrThrow({ where: { id: deploymentId } })).status;
const allFinal = async (ids: string[]) =>
  (await prisma.creditDeployment.count({ where: { id: { in: ids }, status: { in: ['DEPLOYED', 'FAILED'] } } })) === ids.length;

const typesOf = async (deploymentId: string) =>
  (await prisma.deploymentEvent.findMany({ where: { deploymentId }, orderBy: { sequence: 'asc' } })).map((e) => `${e.sequence}:${e.type}`);

describe('applying deployments in batches', () => {
  it('gives each deployment its own trail, notification and downstream event, one user in acceptance order, a refusal alone', async () => {
    const singles = (await Promise.all(Array.from({ length: 60 }, (_, i) => acceptInTurn([100_000 + i])))).flat();
    const inTurn = await Promise.all([acceptInTurn([200_000, 300_000, 400_000]), acceptInTurn([500_000, 250_000, 700_000])]);
    // A user whose credit in use is above the offer: refused, while its batch-mates apply.
    const [refused] = await acceptInTurn([50_000]);
    await prisma.creditProfile.create({
      data: { userId: refused!.userId, currency: 'BRL', limitCents: 100_000n, usedCents: 90_000n, availableCents: 10_000n, interestRateBps: 250 },
    });
    const all = [...singles, ...inTurn.flat(), refused!];

    const { adminUrl } = await startWorker();
    await waitUntil(() => allFinal(all.map((a) => a.deploymentId)), 'every deployment final', 60_000);

    const deployments = await prisma.creditDeployment.findMany({ where: { id: { in: all.map((a) => a.deploymentId) } } });
    expect(deployments.filter((d) => d.status === 'DEPLOYED')).toHaveLength(all.length - 1);
    expect(await prisma.creditDeployment.findUniqueOrThrow({ where: { id: refused!.deploymentId } })).toMatchObject({
      status: 'FAILED',
      failureCode: 'LIMIT_BELOW_USAGE',
    });
    expect(await typesOf(refused!.deploymentId)).toEqual(['1:QUEUED', '2:PROCESSING_STARTED', '3:FAILED']);
    expect(await prisma.creditProfile.findUniqueOrThrow({ where: { userId: refused!.userId } })).toMatchObject({ limitCents: 100_000n, version: 0 });

    for (const { deploymentId, userId, limitCents } of singles) {
      expect(await typesOf(deploymentId)).toEqual(['1:QUEUED', '2:PROCESSING_STARTED', '3:PROFILE_UPDATED', '4:DEPLOYED']);
      expect(await prisma.creditProfile.findUniqueOrThrow({ where: { userId } })).toMatchObject({
        limitCents: BigInt(limitCents),
        availableCents: BigInt(limitCents),
        version: 1,
      });
    }
    // Every acceptance of a user applied, in the order accepted: none superseded by a later one applied first.
    for (const accepted of inTurn) {
      const userId = accepted[0]!.userId;
      const versions = [];
      for (const { deploymentId } of accepted) {
        const updated = await prisma.deploymentEvent.findFirstOrThrow({ where: { deploymentId, type: 'PROFILE_UPDATED' } });
        versions.push((updated.detail as { profileVersion: number }).profileVersion);
      }
      expect(versions).toEqual([1, 2, 3]);
      expect(await prisma.creditProfile.findUniqueOrThrow({ where: { userId } })).toMatchObject({ limitCents: BigInt(accepted[2]!.limitCents), version: 3 });
      const outbox = await prisma.outboxEvent.findMany({ where: { userId }, orderBy: { sequence: 'asc' } });
      expect(outbox.map((e) => [e.sequence, (e.payload as { data: { deploymentId: string } }).data.deploymentId])).toEqual(
        accepted.map((a, i) => [i + 1, a.deploymentId]),
      );
    }
    // One notification per deployment, each about its own.
    const notifications = await prisma.notification.findMany({ where: { deploymentId: { in: all.map((a) => a.deploymentId) } } });
    expect(notifications).toHaveLength(all.length);
    expect(new Set(notifications.map((n) => n.deploymentId)).size).toBe(all.length);
    expect(await prisma.outboxEvent.count({ where: { userId: { in: all.map((a) => a.userId) } } })).toBe(all.length - 1);

    // They were applied together: fewer transactions than deployments.
    const metrics = await scrapeMetrics(adminUrl);
    const batches = metrics.value('credit_deployment_batch_size_count');
    expect(metrics.value('credit_deployment_batch_size_sum')).toBeGreaterThanOrEqual(all.length);
    expect(batches).toBeLessThan(all.length / 2);
  });

  it('a locked profile delays no batch-mate: the others are applied while it is held, it after', async () => {
    const [first] = await acceptInTurn([100_000]);
    const worker = await startWorker();
    await waitUntil(async () => (await statusOf(first!.deploymentId)) === 'DEPLOYED', 'the first deployment applied');
    await worker.close();

    const lock = await lockProfile(config.DATABASE_URL, first!.userId);
    const [held] = await acceptInTurn([200_000], first!.userId);
    const others = (await Promise.all(Array.from({ length: 30 }, (_, i) => acceptInTurn([100_000 + i])))).flat();
    try {
      await startWorker();
      await waitUntil(() => allFinal(others.map((a) => a.deploymentId)), 'the batch-mates applied while the lock is held');
      expect(await statusOf(held!.deploymentId)).not.toBe('DEPLOYED');
    } finally {
      await lock.release();
    }
    await waitUntil(async () => (await statusOf(held!.deploymentId)) === 'DEPLOYED', 'the held one applied after the lock');
    const applied = await prisma.creditDeployment.findMany({ where: { id: { in: others.map((a) => a.deploymentId) } } });
    expect(applied.every((d) => d.status === 'DEPLOYED' && d.attempts === 1)).toBe(true);
    // Each applied by a batch, not alone after a batch gave up waiting for the lock: started and
    // deployed in one transaction (the events' time is their transaction's).
    for (const { deploymentId } of others) {
      const events = await prisma.deploymentEvent.findMany({ where: { deploymentId, type: { in: ['PROCESSING_STARTED', 'DEPLOYED'] } } });
      expect(new Set(events.map((e) => e.at.getTime())).size).toBe(1);
    }
  });

  describe('a deployment whose write fails', () => {
    beforeEach(() =>
      prisma.$executeRawUnsafe(`
        CREATE OR REPLACE FUNCTION poison_deployment() RETURNS trigger AS $$
        BEGIN
          IF NEW.status = 'DEPLOYED' AND NEW.correlation_id IN (SELECT correlation_id FROM poisoned) THEN
            RAISE EXCEPTION 'poisoned deployment %', NEW.id;
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql`),
    );

    it('fails its batch, whose others are applied at once, alone, in the same attempt; it retries until its write succeeds', async () => {
      await prisma.$executeRawUnsafe('CREATE TABLE IF NOT EXISTS poisoned (correlation_id text)');
      await prisma.$executeRawUnsafe(
        'CREATE OR REPLACE TRIGGER poison BEFORE UPDATE ON credit_deployments FOR EACH ROW EXECUTE FUNCTION poison_deployment()',
      );
      const all = (await Promise.all(Array.from({ length: 20 }, (_, i) => acceptInTurn([100_000 + i])))).flat();
      const bad = all[7]!;
      const { correlationId } = await prisma.creditDeployment.findUniqueOrThrow({ where: { id: bad.deploymentId } });
      await prisma.$executeRaw`INSERT INTO poisoned VALUES (${correlationId})`;

      await startWorker();
      const good = all.filter((a) => a !== bad);
      await waitUntil(() => allFinal(good.map((a) => a.deploymentId)), 'the batch-mates applied');
      const applied = await prisma.creditDeployment.findMany({ where: { id: { in: good.map((a) => a.deploymentId) } } });
      expect(applied.every((d) => d.status === 'DEPLOYED' && d.attempts === 1)).toBe(true);
      await waitUntil(async () => (await statusOf(bad.deploymentId)) === 'RETRYING', 'the poisoned one retrying');

      await prisma.$executeRawUnsafe('DELETE FROM poisoned');
      await waitUntil(async () => (await statusOf(bad.deploymentId)) === 'DEPLOYED', 'the poisoned one applied once its write succeeds');
      const events = await typesOf(bad.deploymentId);
      expect(events.filter((e) => e.endsWith(':DEPLOYED'))).toHaveLength(1);
      expect(events.some((e) => e.endsWith(':RETRY_SCHEDULED'))).toBe(true);
      expect(await prisma.creditProfile.findUniqueOrThrow({ where: { userId: bad.userId } })).toMatchObject({ version: 1 });
    });
  });
});
