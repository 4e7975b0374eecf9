// Times are right whatever the database server's time zone: here its sessions run in
// America/Sao_Paulo (UTC-3), and offers still expire exactly when due, not hours off.
import pg from 'pg';
import { describe, expect, it } from 'vitest';

// Before the service opens any connection: every new session of this file's database gets it.
const url = process.env.DATABASE_URL!;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET timezone TO 'America/Sao_Paulo'`);
await admin.end();

const { prisma } = await import('../src/platform/db.ts');
const { expireDueOffers } = await import('../src/domain/offer-expiry.ts');
const { serviceForTests } = await import('./support/service.ts');
const { acceptOffer, issueOffer } = await import('./support/fixtures.ts');

const api = serviceForTests({ worker: false });
/** The sweep's batches as configured by default, without pauses (one batch here). */
const SWEEP = { batchSize: 500, pauseMs: 0 };

describe('with the database in another time zone', () => {
  it('the session really is in that zone', async () => {
    const [row] = await prisma.$queryRaw<{ tz: string }[]>`SELECT current_setting('TimeZone') AS tz`;
    expect(row!.tz).toBe('America/Sao_Paulo');
  });

  it('an offer due in a minute is not expired; once due, it is', async () => {
    const { offerId } = await issueOffer(api.url, { expiresAt: new Date(Date.now() + 60_000) });
    await expireDueOffers(async () => {}, SWEEP);
    expect((await prisma.creditOffer.findUniqueOrThrow({ where: { id: offerId } })).status).toBe('PENDING');

    await prisma.creditOffer.update({ where: { id: offerId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await expireDueOffers(async () => {}, SWEEP);
    const offer = await prisma.creditOffer.findUniqueOrThrow({ where: { id: offerId } });
    expect(offer.status).toBe('EXPIRED');
    expect(Math.abs(offer.expiredAt!.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('an offer due in a minute can be accepted, and its times are recorded as they happened', async () => {
    const { offerId, userToken } = await issueOffer(api.url, { expiresAt: new Date(Date.now() + 60_000) });
    const before = Date.now();
    const accepted = await acceptOffer(api.url, offerId, userToken);
    expect(accepted.__typename).toBe('AcceptOfferSuccess');
    const deployment = await prisma.creditDeployment.findUniqueOrThrow({ where: { id: accepted.deployment.id }, include: { offer: true } });
    expect(Math.abs(deployment.queuedAt.getTime() - before)).toBeLessThan(5_000);
    expect(Math.abs(deployment.offer.acceptedAt!.getTime() - before)).toBeLessThan(5_000);
  });
});
