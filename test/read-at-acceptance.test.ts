// An accept reads, in its own statement, what the worker reads first for the deployment's apply
// (its user's profile, an earlier acceptance pending, a lifecycle term), and the job carries it:
// the first attempt applies without reading again. What the job carries must be what the worker
// would have read; a carried read that went stale must change nothing the apply writes (the
// apply's checks send it through the lock); and a read that may have missed a decision taken at
// the same moment (another transaction took a sequence of the user while the accept waited for
// the user's row) is not carried at all.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { readPairFromJson, readRows, type ReadPair } from '../src/domain/deployment-locks.ts';
import { applyDeployments } from '../src/domain/deployments.ts';
import { closeQueue, createDeploymentQueue } from '../src/jobs/queues.ts';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, token } from './support/client.ts';
import { ACCEPT_OFFER, ISSUE_OFFER } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig as config, testRedis } from './support/settings.ts';
import { waitUntil } from './support/wait.ts';

const service = serviceForTests({ worker: false });
const queue = createDeploymentQueue({ redis: testRedis, prefix: config.REDIS_PREFIX }, { backoffMs: 100, maxBackoffMs: 100, retryHorizonMs: 0 });
afterAll(() => closeQueue(queue));
const SYNC = 'mutation ($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }';

async function offer(userId: string, limitCents: number, extra: Record<string, unknown> = {}): Promise<string> {
  const input = { userId, limitCents, interestRateBps: 150, currency: 'BRL', expiresAt: new Date(Date.now() + 3_600_000).toISOString(), ...extra };
  const issued = await gql(service.url, ISSUE_OFFER, { input }, await engineToken());
  return issued.data.issueCreditOffer.offer.id;
}

async function accept(userId: string, offerId: string): Promise<string> {
  const answer = await gql(service.url, ACCEPT_OFFER, { offerId }, await token(userId));
  return answer.data.acceptOffer.deployment.id;
}

/** The job's data once its add is done (the answer does not wait for it). */
const jobOf = (deploymentId: string) => waitUntil(() => queue.getJob(deploymentId), `the job of ${deploymentId}`);
const carried = async (deploymentId: string): Promise<ReadPair | null> => readPairFromJson((await jobOf(deploymentId)).data.read, deploymentId);

describe('what an accept reads for its deployment', () => {
  it("is what the worker would read: a user's first, one with a profile, one behind a pending acceptance, a temporary one", async () => {
    const userId = `read-at-accept-${Date.now()}`;
    const first = await accept(userId, await offer(userId, 100_000));
    const cases = [first];
    await applyDeployments([first]);
    await prisma.creditProfile.update({ where: { userId }, data: { usedCents: 30_000n } });
    const withProfile = await accept(userId, await offer(userId, 200_000));
    // Not applied (no worker here): the next acceptance is behind it.
    const behind = await accept(userId, await offer(userId, 250_000));
    const other = `read-at-accept-temporary-${Date.now()}`;
    const temporaryUntil = new Date(Date.now() + 7 * 24 * 3_600_000).toISOString();
    const temporary = await accept(other, await offer(other, 90_000, { temporaryUntil }));
    cases.push(withProfile, behind, temporary);

    // The first one's read, as it was at its accept: no profile, nothing pending.
    expect(await carried(first)).toMatchObject({ profile: null, earlierPending: false, lifecycle: false, lastSequence: 1, status: 'QUEUED' });
    for (const id of [withProfile, behind, temporary]) expect(await carried(id), id).toEqual((await readRows([id]))[0]);
    expect(await carried(withProfile)).toMatchObject({ profile: { limitCents: 100_000n, usedCents: 30_000n }, earlierPending: false });
    expect(await carried(behind)).toMatchObject({ earlierPending: true });
    expect(await carried(temporary)).toMatchObject({ lifecycle: true });
  });

  it('applies on the rows as they are when they changed after the accept: a usage synced in between is kept', async () => {
    const userId = `read-at-accept-stale-${Date.now()}`;
    await applyDeployments([await accept(userId, await offer(userId, 100_000))]);
    const deploymentId = await accept(userId, await offer(userId, 300_000));
    const read = await carried(deploymentId);
    expect(read?.profile).toMatchObject({ usedCents: 0n, version: 1 });
    const sync = await gql(service.url, SYNC, { input: { userId, usedCents: 80_000 } }, await engineToken());
    expect(sync.data.syncCreditUsage.__typename).toBe('SyncCreditUsageSuccess');

    const outcome = await applyDeployments([deploymentId], { reads: new Map([[deploymentId, read!]]) });
    expect(outcome.get(deploymentId)?.kind).toBe('deployed');
    const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
    expect(profile).toMatchObject({ limitCents: 300_000n, usedCents: 80_000n, availableCents: 220_000n, version: 3 });
    const events = await prisma.deploymentEvent.findMany({ where: { deploymentId }, orderBy: { sequence: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['QUEUED', 'PROCESSING_STARTED', 'PROFILE_UPDATED', 'DEPLOYED']);
    // Applied once: again with the same read, nothing more.
    expect((await applyDeployments([deploymentId], { reads: new Map([[deploymentId, read!]]) })).get(deploymentId)?.kind).toBe('already-final');
    expect(await prisma.deploymentEvent.count({ where: { deploymentId } })).toBe(4);
  });

  it('is not carried when another decision of the user took a sequence while the accept waited for the user row', async () => {
    const userId = `read-at-accept-race-${Date.now()}`;
    const offerId = await offer(userId, 120_000);
    const other = new pg.Client({ connectionString: config.DATABASE_URL });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('UPDATE users SET last_acceptance_sequence = last_acceptance_sequence + 1 WHERE id = $1', [userId]);
      const accepting = accept(userId, offerId);
      // The accept's statement has its snapshot and waits for the user row.
      // (Asked outside that transaction: inside one, pg_stat_activity keeps its first snapshot.)
      await waitUntil(async () => {
        const waiting = await prisma.$queryRaw<unknown[]>`
          SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%last_acceptance_sequence%'`;
        return waiting.length > 0;
      }, 'the accept to wait for the user row', 5_000);
      await other.query('COMMIT');
      const deploymentId = await accepting;
      expect((await jobOf(deploymentId)).data.read).toBeUndefined();
      const deployment = await prisma.creditDeployment.findUniqueOrThrow({ where: { id: deploymentId } });
      expect(deployment.acceptanceSequence).toBe(2);
      // Without a carried read the worker reads, and applies as usual.
      expect((await applyDeployments([deploymentId])).get(deploymentId)?.kind).toBe('deployed');
    } finally {
      await other.end();
    }
  });
});
