// How a deployment ends when it cannot simply be applied: refused at once, or retried.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/platform/config.ts';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, wsSubscribe } from './support/client.ts';
import { acceptOffer, DEPLOYMENT, issueOffer, waitForFinal } from './support/fixtures.ts';
import { userWithProfile } from './support/users.ts';
import { serviceForTests } from './support/service.ts';
import { waitUntil } from './support/wait.ts';
import { lockProfile } from './support/row-locks.ts';

const retriesOf = (deploymentId: string) => prisma.deploymentEvent.count({ where: { deploymentId, type: 'RETRY_SCHEDULED' } });

const config = loadConfig();

const service = serviceForTests();

const SYNC = 'mutation S($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }';
const STREAM = 'subscription W($id: ID!) { creditDeployment(id: $id, afterSequence: 0) { sequence type status } }';

describe('a permanent refusal', () => {
  it('an offered limit below the credit in use ends FAILED at once, without retry, the profile untouched', async () => {
    const { userId, userToken } = await userWithProfile({ api: service.url }, { limitCents: 100_000 });
    await gql(service.url, SYNC, { input: { userId, usedCents: 90_000 } }, await engineToken());
    const before = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });

    const second = await issueOffer(service.url, { userId, limitCents: 50_000 });
    const deployment = await waitForFinal(service.url, (await acceptOffer(service.url, second.offerId, userToken)).deployment.id, userToken);
    expect(deployment.status).toBe('FAILED');
    expect(deployment.attempts).toBe(1);
    // Public text in the user's language (pt-BR without a preference), rendered from the code.
    expect(deployment.failureReason).toBe('O limite oferecido de R$ 500,00 é menor que o crédito que você já está usando.');
    expect(deployment.events.at(-1).detail).toEqual({ code: 'LIMIT_BELOW_USAGE' });
    expect(deployment.offer.status).toBe('FAILED');
    expect(deployment.previousLimit).toBeNull();
    expect(deployment.events.map((e: { type: string }) => e.type)).toEqual(['QUEUED', 'PROCESSING_STARTED', 'FAILED']);

    const after = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
    expect(after).toEqual(before);
  });
});

describe('a transient failure', () => {
  it('is retried with backoff (RETRYING on the live stream) and then deployed once', async () => {
    const { userId, userToken } = await userWithProfile({ api: service.url }, { limitCents: 100_000 });
    const lock = await lockProfile(config.DATABASE_URL, userId);
    const second = await issueOffer(service.url, { userId, limitCents: 200_000 });
    const accepted = await acceptOffer(service.url, second.offerId, userToken);

    const seen: string[] = [];
    for await (const message of wsSubscribe(service.url, STREAM, { id: accepted.deployment.id }, userToken)) {
      const update = message.data!.creditDeployment;
      seen.push(update.type);
      // The lock timed the first attempt out; let the next attempt through.
      if (update.status === 'RETRYING' && seen.filter((t) => t === 'RETRY_SCHEDULED').length === 1) await lock.release();
    }
    expect(seen.slice(0, 3)).toEqual(['QUEUED', 'PROCESSING_STARTED', 'RETRY_SCHEDULED']);
    expect(seen.slice(-3)).toEqual(['PROCESSING_STARTED', 'PROFILE_UPDATED', 'DEPLOYED']);

    const deployment = await waitForFinal(service.url, accepted.deployment.id, userToken);
    expect(deployment.attempts).toBe(2);
    const retry = deployment.events.find((e: { type: string }) => e.type === 'RETRY_SCHEDULED');
    // A public code, and the delay: between half and all of the first backoff (jitter).
    expect(retry.detail).toMatchObject({ attempt: 1, code: 'DATABASE_BUSY' });
    expect(Object.keys(retry.detail).sort()).toEqual(['attempt', 'code', 'retryInMs']);
    expect(retry.detail.retryInMs).toBeGreaterThanOrEqual(config.DEPLOYMENT_BACKOFF_MS / 2);
    expect(retry.detail.retryInMs).toBeLessThanOrEqual(config.DEPLOYMENT_BACKOFF_MS);
    const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
    expect(profile).toMatchObject({ limitCents: 200_000n, version: 2 });
  });

  it('a profile locked for many attempts keeps the deployment RETRYING, then it is DEPLOYED once', async () => {
    const { userId, userToken } = await userWithProfile({ api: service.url }, { limitCents: 100_000 });
    const lock = await lockProfile(config.DATABASE_URL, userId);
    const second = await issueOffer(service.url, { userId, limitCents: 300_000 });
    const { deployment: accepted } = await acceptOffer(service.url, second.offerId, userToken);
    // Five failed attempts: more than the three after which a deployment used to end FAILED.
    await waitUntil(async () => (await retriesOf(accepted.id)) >= 5, 'five failed attempts', 30_000);
    expect((await prisma.creditDeployment.findUniqueOrThrow({ where: { id: accepted.id } })).status).toBe('RETRYING');
    await lock.release();

    const deployment = await waitForFinal(service.url, accepted.id, userToken, 30_000);
    expect(deployment.status).toBe('DEPLOYED');
    const retries = deployment.events.filter((e: { type: string }) => e.type === 'RETRY_SCHEDULED');
    expect(retries.map((e: { detail: { attempt: number } }) => e.detail.attempt)).toEqual(retries.map((_: unknown, i: number) => i + 1));
    // Capped exponential backoff: each full delay doubles up to the cap; jitter takes at most half.
    for (const [i, retry] of retries.entries()) {
      const full = Math.min(config.DEPLOYMENT_BACKOFF_MAX_MS, config.DEPLOYMENT_BACKOFF_MS * 2 ** i);
      expect(retry.detail.retryInMs).toBeGreaterThanOrEqual(full / 2);
      expect(retry.detail.retryInMs).toBeLessThanOrEqual(full);
    }
    const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
    expect(profile).toMatchObject({ limitCents: 300_000n, version: 2 });
  });
});

describe('rows written before failure codes', () => {
  it('never show their raw error text: event details are filtered when read', async () => {
    const { userId, userToken } = await userWithProfile({ api: service.url }, { limitCents: 100_000 });
    const deployment = await prisma.creditDeployment.findFirstOrThrow({ where: { userId } });
    const raw = 'Invalid `prisma.$queryRaw()` invocation: Raw query failed. Code: `N/A`. Message: `Can\'t reach database server`';
    // As an older release wrote them: the driver's words in `error` and `reason`.
    await prisma.$executeRaw`
      INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
      VALUES (${deployment.id}::uuid, 100, 'RETRY_SCHEDULED', 'RETRYING', 'old', ${JSON.stringify({ attempt: 1, error: raw, retryInMs: 1000 })}::jsonb),
             (${deployment.id}::uuid, 101, 'FAILED', 'FAILED', 'old', ${JSON.stringify({ reason: `processing stopped: ${raw}` })}::jsonb)`;
    const seen = (await gql(service.url, DEPLOYMENT, { id: deployment.id }, userToken)).data.creditDeployment;
    expect(seen.events.filter((e: { sequence: number }) => e.sequence >= 100).map((e: { detail: unknown }) => e.detail)).toEqual([
      { attempt: 1, retryInMs: 1000 },
      {},
    ]);
    expect(JSON.stringify(seen)).not.toMatch(/prisma|Invalid `|reach database/);
  });
});
