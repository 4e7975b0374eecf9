// The expiry sweep at a campaign's size: 20,000 offers due at one instant, swept by two sweeps
// at once. Each offer expires once, with exactly one notification and one outbox event, each
// user's events numbered without gaps, and each batch's notifications handed over as it commits.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dedupeKey } from '../src/domain/notifications.ts';
import { expireDueOffers, type ExpiredBatch } from '../src/domain/offer-expiry.ts';
import { prisma } from '../src/platform/db.ts';
import { scrape } from '../src/platform/metrics.ts';

/** A metric of this process without labels, as /metrics reports it. */
async function metricValue(name: string): Promise<number> {
  const line = (await scrape()).body.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

const OFFERS = 20_000;
const USERS = 5_000; // four offers each: a batch often holds several offers of one user
const BATCH = 500;

describe('the expiry sweep', () => {
  it('two sweeps at once expire 20,000 due offers: each once, with one notification and one outbox event each', async () => {
    const campaign = `sweep-${randomUUID()}`;
    await prisma.$executeRaw`
      INSERT INTO users (id, locale, last_event_sequence)
      SELECT ${campaign} || '-' || u, CASE WHEN u % 2 = 0 THEN 'en' END, u % 3 FROM generate_series(1, ${USERS}) u`;
    await prisma.$executeRaw`
      INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, expires_at, campaign_id)
      SELECT gen_random_uuid(), ${campaign} || '-' || (1 + k % ${USERS}), 10000 + k, 150, 'BRL', now() - interval '1 minute', ${campaign}
        FROM generate_series(0, ${OFFERS - 1}) k`;
    const sequencesBefore = new Map(
      (await prisma.user.findMany({ where: { id: { startsWith: campaign } }, select: { id: true, lastEventSequence: true } })).map((u) => [
        u.id,
        u.lastEventSequence,
      ]),
    );

    const expiredBefore = await metricValue('credit_offers_expired_total');
    const handed: ExpiredBatch[][] = [[], []];
    const sweep = (i: number) =>
      expireDueOffers(async (batch) => void handed[i]!.push(batch), { batchSize: BATCH, pauseMs: 0 });
    const counts = await Promise.all([sweep(0), sweep(1)]);

    expect(counts[0]! + counts[1]!).toBe(OFFERS);
    expect(counts.every((n) => n > 0)).toBe(true); // both took part
    expect(await prisma.creditOffer.count({ where: { campaignId: campaign, status: 'EXPIRED' } })).toBe(OFFERS);

    // Handed over batch by batch, never more than a batch at a time, each notification once.
    const batches = [...handed[0]!, ...handed[1]!];
    expect(Math.max(...batches.map((b) => b.notifications.length))).toBeLessThanOrEqual(BATCH);
    const handedIds = batches.flatMap((b) => b.notifications.map((n) => n.notificationId));
    expect(new Set(handedIds).size).toBe(OFFERS);
    expect(handedIds).toHaveLength(OFFERS);

    const notifications = await prisma.notification.findMany({
      where: { offer: { campaignId: campaign } },
      select: { id: true, offerId: true, kind: true, userId: true, title: true, dedupeKey: true },
    });
    expect(notifications).toHaveLength(OFFERS);
    expect(new Set(notifications.map((n) => n.offerId)).size).toBe(OFFERS);
    expect(new Set(notifications.map((n) => n.id))).toEqual(new Set(handedIds));
    // The sweep builds each key in SQL; the code's dedupeKey must name the same notification, or a
    // writer that computes it (a job run again) would add a second one.
    for (const n of notifications) expect(n.dedupeKey).toBe(dedupeKey('OFFER_EXPIRED', n.offerId!));
    expect(notifications.find((n) => n.userId === `${campaign}-2`)!.title).toBe('Your credit offer has expired');
    expect(notifications.find((n) => n.userId === `${campaign}-1`)!.title).toBe('Sua oferta de crédito expirou');

    const events = await prisma.$queryRaw<{ userId: string; sequence: number; offerId: string }[]>`
      SELECT user_id AS "userId", sequence, payload->'data'->>'offerId' AS "offerId"
        FROM outbox_events WHERE user_id LIKE ${`${campaign}-%`} AND type = 'credit.offer.expired' ORDER BY user_id, sequence`;
    expect(events).toHaveLength(OFFERS);
    expect(new Set(events.map((e) => e.offerId)).size).toBe(OFFERS);
    // Each user's four events follow on from its earlier ones, without gaps.
    const byUser = new Map<string, number[]>();
    for (const e of events) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e.sequence]);
    for (const [userId, sequences] of byUser) {
      const before = sequencesBefore.get(userId)!;
      expect(sequences).toEqual([before + 1, before + 2, before + 3, before + 4]);
    }

    // Nothing left: another sweep finds nothing to do, and says it is not behind.
    expect(await expireDueOffers(async () => {}, { batchSize: BATCH, pauseMs: 0 })).toBe(0);
    expect((await metricValue('credit_offers_expired_total')) - expiredBefore).toBe(OFFERS);
    expect(await metricValue('credit_offer_expiry_lag_seconds')).toBe(0);
  }, 120_000);
});
