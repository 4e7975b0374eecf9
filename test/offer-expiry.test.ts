// Offers past their expiry: expired by the scheduled job, once each, with one OFFER_EXPIRED
// notification each, however many workers (and extra runs) race for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { expireDueOffers } from '../src/domain/offer-expiry.ts';
import { newUserId, sseSubscribe, token } from './support/client.ts';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { myNotifications, NOTIFICATIONS_SUBSCRIPTION, presenceProbe, reader } from './support/notification-fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { waitUntil } from './support/wait.ts';

const api = serviceForTests({ worker: false });
// Two worker processes' worth: both schedule the expiry job and both process notifications.
serviceForTests({ api: false });
serviceForTests({ api: false });
let presence: ReturnType<typeof presenceProbe>;

beforeAll(() => {
  presence = presenceProbe();
});
afterAll(() => presence.close());

const soon = (ms: number) => new Date(Date.now() + ms);

describe('the offer expiry scheduler', () => {
  it('expires a due offer and tells its user live; accepting it then is OfferExpiredError', async () => {
    const userId = newUserId();
    const userToken = await token(userId);
    const live = reader(sseSubscribe(api.url, NOTIFICATIONS_SUBSCRIPTION, {}, userToken));
    // The user is present (live) before the offer can expire: its notification's first step,
    // taken as the expiry commits, finds them.
    const first = live.next();
    await presence.waitUntilPresent(userId);
    const expiresAt = soon(1_000);
    const { offerId } = await issueOffer(api.url, { userId, limitCents: 75_000, expiresAt });
    try {
      // The offer's OFFER_RECEIVED comes first, then its expiry.
      expect((await first).data.notifications).toMatchObject({ kind: 'OFFER_RECEIVED', deepLink: `app://credit/offers/${offerId}` });
      const notification = (await live.next()).data.notifications;
      expect(notification).toMatchObject({
        kind: 'OFFER_EXPIRED',
        status: 'DELIVERED',
        title: 'Sua oferta de crédito expirou',
        body: 'A oferta de limite de R$ 750,00 não está mais disponível.',
        deepLink: `app://credit/offers/${offerId}`,
        deliveries: [{ channel: 'IN_APP', status: 'SENT' }],
      });
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
    } finally {
      await live.close();
    }

    const accepted = await acceptOffer(api.url, offerId, userToken);
    expect(accepted).toMatchObject({ __typename: 'OfferExpiredError', expiredAt: expiresAt.toISOString() });
    const offer = await prisma.creditOffer.findUniqueOrThrow({ where: { id: offerId } });
    expect(offer.status).toBe('EXPIRED');
    expect(offer.expiredAt!.getTime()).toBeGreaterThanOrEqual(expiresAt.getTime());
  });

  it('expires each offer once, with one notification each, while two workers and extra runs race', async () => {
    // Long enough to issue 20 offers (each with its OFFER_RECEIVED) and accept one on a busy 2-core machine.
    const expiresAt = soon(10_000);
    const issued = await Promise.all(Array.from({ length: 20 }, () => issueOffer(api.url, { limitCents: 10_000, expiresAt })));
    // One of them is accepted in time: it is not PENDING when it comes due, and must not expire.
    const [taken, ...left] = issued;
    const deployment = await acceptOffer(api.url, taken!.offerId, taken!.userToken);
    await waitForFinal(api.url, deployment.deployment.id, taken!.userToken);

    // Extra runs race the scheduled ones (as a stalled job running twice would).
    const racing: number[] = [];
    await waitUntil(async () => {
      // Their notifications are left to the reconciler: the scheduled runs' own go to delivery.
      const extraRun = () => expireDueOffers(async () => {}, { batchSize: 500, pauseMs: 0 });
      racing.push(...(await Promise.all([extraRun(), extraRun(), extraRun()])));
      return (await prisma.creditOffer.count({ where: { id: { in: left.map((o) => o.offerId) }, status: 'EXPIRED' } })) === left.length;
    }, 'every offer expired');
    expect(racing.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(left.length);

    const notifications = await prisma.notification.findMany({ where: { offerId: { in: issued.map((o) => o.offerId) }, kind: 'OFFER_EXPIRED' } });
    expect(notifications).toHaveLength(left.length);
    expect(new Set(notifications.map((n) => n.offerId))).toEqual(new Set(left.map((o) => o.offerId)));
    // Each user sees exactly one expiry notification (it reached no one: no subscription, push off).
    for (const offer of left.slice(0, 3)) {
      const mine = await waitUntil(async () => {
        const list = (await myNotifications(api.url, offer.userToken)).filter((n) => n.kind === 'OFFER_EXPIRED');
        return list.length === 1 && list[0].status === 'FAILED' ? list : null;
      }, 'the notification settled');
      expect(mine[0]).toMatchObject({ kind: 'OFFER_EXPIRED', deepLink: `app://credit/offers/${offer.offerId}` });
    }
    expect((await prisma.creditOffer.findUniqueOrThrow({ where: { id: taken!.offerId } })).status).toBe('DEPLOYED');
  });
});
