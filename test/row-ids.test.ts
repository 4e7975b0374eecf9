// Row ids ordered by time (UUID version 7): an offer, its acceptance's deployment and consent, the
// notifications and the outbox event each get one, from the service's code and from its SQL
// alike, so that a primary key's inserts land on its right edge.
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { newRowId } from '../src/domain/ids.ts';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests();

/** The milliseconds a version 7 id carries; throws on any other version or variant. */
function timeOf(id: string): number {
  const hex = id.replace(/-/g, '');
  expect(hex[12], `version of ${id}`).toBe('7');
  expect('89ab', `variant of ${id}`).toContain(hex[16]);
  return parseInt(hex.slice(0, 12), 16);
}

describe('row ids', () => {
  it('are version 7, carry the time they were made, and sort in that order, from the code and from SQL', async () => {
    const before = Date.now();
    const fromCode = Array.from({ length: 50 }, () => newRowId());
    const fromSql = (await prisma.$queryRaw<{ id: string }[]>`SELECT uuid_v7()::text AS id FROM generate_series(1, 50)`).map((r) => r.id);
    const after = Date.now();
    for (const id of [...fromCode, ...fromSql]) {
      const at = timeOf(id);
      expect(at).toBeGreaterThanOrEqual(before - 1_000); // the database's clock against this process's
      expect(at).toBeLessThanOrEqual(after + 1_000);
    }
    expect(new Set([...fromCode, ...fromSql]).size).toBe(100);
    // Made in one statement, many in a millisecond: in the order they were made, to the
    // microsecond (the 64 bits of time, version and the millisecond's fraction never go back).
    // Without the fraction, ids of one millisecond landed in random order left of the key's edge.
    const timePrefix = (id: string) => id.replace(/-/g, '').slice(0, 16);
    expect(fromSql.map(timePrefix)).toEqual([...fromSql.map(timePrefix)].sort());
    // The code's are monotonic, a counter within a millisecond.
    expect(fromCode).toEqual([...fromCode].sort());
    // Made later, sorted later.
    const later = newRowId();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [made] = await prisma.$queryRaw<{ id: string }[]>`SELECT uuid_v7()::text AS id`;
    expect([made!.id, later].sort()).toEqual([later, made!.id]);
  });

  it('of what an offer and its acceptance write are all version 7', async () => {
    const offer = await issueOffer(service.url);
    const accepted = await acceptOffer(service.url, offer.offerId, offer.userToken);
    expect((await waitForFinal(service.url, accepted.deployment.id, offer.userToken)).status).toBe('DEPLOYED');
    const consent = await prisma.acceptanceConsent.findUniqueOrThrow({ where: { offerId: offer.offerId } });
    const notifications = await prisma.notification.findMany({ where: { userId: offer.userId } });
    const events = await prisma.outboxEvent.findMany({ where: { userId: offer.userId } });
    expect(notifications.map((n) => n.kind).sort()).toEqual(['CREDIT_DEPLOYED', 'OFFER_RECEIVED']);
    expect(events).toHaveLength(1);
    for (const id of [offer.offerId, accepted.deployment.id, consent.id, ...notifications.map((n) => n.id), events[0]!.id]) timeOf(id);
  });
});
