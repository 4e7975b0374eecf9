// The apply in one statement (no transaction around it) decides on rows read without a lock. A
// row that changed between that read and the statement must stop the write of its deployment
// entirely (the locked apply then decides again), or a usage synced in between would be
// overwritten, or a deployment applied twice. The read and the statement are called here with
// a change made between them, as a concurrent transaction would make it.
import { describe, expect, it } from 'vitest';
import { applyInOneStatement } from '../src/domain/apply-in-one-statement.ts';
import { readRows } from '../src/domain/deployment-locks.ts';
import { applyDeployments } from '../src/domain/deployments.ts';
import { dedupeKey } from '../src/domain/notifications.ts';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, token } from './support/client.ts';
import { ACCEPT_OFFER, ISSUE_OFFER } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests({ worker: false });
const SYNC = 'mutation ($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }';

async function accepted(userId: string, limitCents: number): Promise<string> {
  const input = { userId, limitCents, interestRateBps: 100, currency: 'BRL', expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
  const offerId = (await gql(service.url, ISSUE_OFFER, { input }, await engineToken())).data.issueCreditOffer.offer.id;
  return (await gql(service.url, ACCEPT_OFFER, { offerId }, await token(userId))).data.acceptOffer.deployment.id;
}

const writesOf = async (deploymentId: string, userId: string) => ({
  deployment: await prisma.creditDeployment.findUniqueOrThrow({ where: { id: deploymentId }, select: { status: true, lastSequence: true } }),
  events: await prisma.deploymentEvent.count({ where: { deploymentId } }),
  notifications: await prisma.notification.count({ where: { deploymentId } }),
  history: await prisma.creditLineChange.count({ where: { deploymentId } }),
  outbox: await prisma.outboxEvent.count({ where: { userId } }),
});

describe('the apply in one statement, when a row changed after it was read', () => {
  it('writes nothing when the profile changed (a usage sync): the locked apply then applies on the new usage', async () => {
    const userId = `one-statement-usage-${Date.now()}`;
    await applyDeployments([await accepted(userId, 100_000)]);
    const deploymentId = await accepted(userId, 300_000);
    const read = await readRows([deploymentId]);
    const sync = await gql(service.url, SYNC, { input: { userId, usedCents: 50_000 } }, await engineToken());
    expect(sync.data.syncCreditUsage.__typename).toBe('SyncCreditUsageSuccess');
    // Taken after the sync, which writes an outbox event of its own.
    const before = await writesOf(deploymentId, userId);
    expect(before.deployment.status).toBe('QUEUED');
    expect((await applyInOneStatement(read, new Date(), false)).size).toBe(0);
    expect(await writesOf(deploymentId, userId)).toEqual(before);

    expect((await applyDeployments([deploymentId])).get(deploymentId)?.kind).toBe('deployed');
    const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
    expect(profile).toMatchObject({ limitCents: 300_000n, usedCents: 50_000n, availableCents: 250_000n });
  });

  it('writes nothing when the deployment was applied meanwhile: one apply, one trail, one notification, one event', async () => {
    const userId = `one-statement-twice-${Date.now()}`;
    const deploymentId = await accepted(userId, 200_000);
    const read = await readRows([deploymentId]);
    expect((await applyDeployments([deploymentId])).get(deploymentId)?.kind).toBe('deployed');
    const once = await writesOf(deploymentId, userId);

    expect((await applyInOneStatement(read, new Date(), false)).size).toBe(0);
    expect(await writesOf(deploymentId, userId)).toEqual(once);
    expect(once).toMatchObject({ deployment: { status: 'DEPLOYED', lastSequence: 4 }, events: 4, notifications: 1, history: 1 });
    // The statement builds the notification's dedupe key in SQL; the locked apply computes it in
    // the code (dedupeKey). Both must name the same notification, or the locked apply run after
    // this one would write a second.
    const notification = await prisma.notification.findFirstOrThrow({ where: { deploymentId } });
    expect(notification.dedupeKey).toBe(dedupeKey('CREDIT_DEPLOYED', deploymentId));
    expect((await prisma.creditProfile.findUniqueOrThrow({ where: { userId } })).version).toBe(1);
  });

  it("writes nothing when the user's first profile appeared meanwhile", async () => {
    const userId = `one-statement-first-${Date.now()}`;
    const deploymentId = await accepted(userId, 200_000);
    const read = await readRows([deploymentId]);
    expect(read[0]!.profile).toBeNull();
    await prisma.creditProfile.create({ data: { userId, currency: 'BRL', limitCents: 0n, usedCents: 7_000n, availableCents: 0n, interestRateBps: 100 } });

    expect((await applyInOneStatement(read, new Date(), false)).size).toBe(0);
    expect((await prisma.creditDeployment.findUniqueOrThrow({ where: { id: deploymentId } })).status).toBe('QUEUED');
    expect((await applyDeployments([deploymentId])).get(deploymentId)?.kind).toBe('deployed');
    expect(await prisma.creditProfile.findUniqueOrThrow({ where: { userId } })).toMatchObject({ limitCents: 200_000n, usedCents: 7_000n, availableCents: 193_000n });
  });
});
