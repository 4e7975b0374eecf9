// Redis unreachable at the moment of acceptance: the acceptance still stands and the deployment
// completes once Redis is back (the reconciler enqueues it). The service reaches Redis through a
// proxy that the test cuts; Postgres stays up.
import { afterAll, describe, expect, it } from 'vitest';
import { startTcpProxy } from './support/tcp-proxy.ts';

const proxy = await startTcpProxy(6379);
// Before any module of the service reads its configuration.
process.env.REDIS_URL = proxy.url;
const { serviceForTests } = await import('./support/service.ts');
const { prisma } = await import('../src/platform/db.ts');
const { acceptOffer, issueOffer, waitForFinal } = await import('./support/fixtures.ts');

afterAll(() => proxy.close());
const service = serviceForTests();

describe('Redis down when the user accepts', () => {
  it('the accept succeeds at once and the deployment completes after Redis is back', async () => {
    const { offerId, userToken, userId } = await issueOffer(service.url, { limitCents: 42_000 });
    await proxy.cut();

    const accepted = await acceptOffer(service.url, offerId, userToken);
    expect(accepted.__typename).toBe('AcceptOfferSuccess');
    expect(accepted.deployment.status).toBe('QUEUED');
    const stored = await prisma.creditDeployment.findUniqueOrThrow({ where: { id: accepted.deployment.id } });
    expect(stored.status).toBe('QUEUED');

    await proxy.restore();
    const deployment = await waitForFinal(service.url, accepted.deployment.id, userToken, 30_000);
    expect(deployment.status).toBe('DEPLOYED');
    const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
    expect(profile).toMatchObject({ limitCents: 42_000n, version: 1 });
  });
});
