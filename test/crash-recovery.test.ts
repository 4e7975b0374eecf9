// A worker process killed with SIGKILL in the middle of deployments loses nothing and applies
// nothing twice: the jobs' locks expire, a new worker takes them over, and the deployment
// transaction applies each offer exactly once.
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../src/platform/config.ts';
import { prisma } from '../src/platform/db.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { killHard, spawnService, stopGracefully } from './support/processes.ts';
import { waitUntil } from './support/wait.ts';
import { serviceForTests } from './support/service.ts';

const config = loadConfig();

// The API only: workers are separate processes, spawned and killed by the test.
const service = serviceForTests({ worker: false });

// Long enough that workers wait on the row locks below instead of retrying. More connections
// than deployments held on those locks: each blocked transaction holds one, and with fewer, the
// last jobs (and the worker's notification and expiry jobs) cannot even start their attempt.
const workerEnv = { DATABASE_LOCK_TIMEOUT_MS: '60000', DATABASE_POOL_SIZE: '32' };
const USERS = 12;

const countWhere = (status: 'DEPLOYED' | 'PROCESSING', ids: string[]) =>
  prisma.creditDeployment.count({ where: { id: { in: ids }, status } });

describe('kill -9 of a worker with deployments in flight', () => {
  it('after a restart every deployment is DEPLOYED and applied exactly once', { timeout: 150_000 }, async () => {
    const firstWorker = spawnService('worker', workerEnv);
    // Killed here if the test fails before it is: an orphaned worker would go on polling.
    onTestFinished(() => killHard(firstWorker));
    // Each user gets a first deployment, so each has a profile row that can be locked.
    const users = await Promise.all(
      Array.from({ length: USERS }, async () => {
        const offer = await issueOffer(service.url, { limitCents: 10_000 });
        const accepted = await acceptOffer(service.url, offer.offerId, offer.userToken);
        return { ...offer, first: accepted.deployment.id as string };
      }),
    );
    await waitUntil(async () => (await countWhere('DEPLOYED', users.map((u) => u.first))) === USERS, 'first deployments', 60_000);

    // Hold every profile's lock, so the second deployments are caught mid-transaction.
    const blocker = new pg.Client({ connectionString: config.DATABASE_URL });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM credit_profiles WHERE user_id = ANY($1) FOR UPDATE', [users.map((u) => u.userId)]);
    const second = await Promise.all(
      users.map(async (user, i) => {
        const offer = await issueOffer(service.url, { userId: user.userId, limitCents: 20_000 + i });
        return (await acceptOffer(service.url, offer.offerId, user.userToken)).deployment.id as string;
      }),
    );
    await waitUntil(async () => (await countWhere('PROCESSING', second)) === USERS, 'all second deployments in flight');

    await killHard(firstWorker);
    await blocker.query('ROLLBACK');
    await blocker.end();

    const secondWorker = spawnService('worker', workerEnv);
    try {
      await waitUntil(async () => (await countWhere('DEPLOYED', second)) === USERS, 'deployments after the restart', 60_000);
    } finally {
      expect(await stopGracefully(secondWorker)).toBe(0);
    }

    for (const [i, user] of users.entries()) {
      const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId: user.userId } });
      expect(profile).toMatchObject({ limitCents: BigInt(20_000 + i), availableCents: BigInt(20_000 + i), version: 2 });
    }
    const events = await prisma.deploymentEvent.findMany({ where: { deploymentId: { in: second } }, orderBy: { sequence: 'asc' } });
    for (const id of second) {
      const trail = events.filter((e) => e.deploymentId === id);
      expect(trail.map((e) => e.sequence)).toEqual(trail.map((_, i) => i + 1));
      expect(trail.filter((e) => e.type === 'PROFILE_UPDATED')).toHaveLength(1);
      expect(trail.filter((e) => e.type === 'PROCESSING_STARTED').length).toBeGreaterThanOrEqual(2);
      expect(trail.at(-1)?.type).toBe('DEPLOYED');
    }
  });
});
