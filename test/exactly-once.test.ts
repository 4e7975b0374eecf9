// A deployment job that runs more than once (a stalled job taken over while the first run is
// still going, or a run after a crash that followed the commit) applies the offer once.
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { applyCreditOffer, startAttempt } from '../src/domain/deployments.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

// No worker: the test runs the deployment's steps itself.
const service = serviceForTests({ worker: false });

describe('running a deployment twice', () => {
  it('five concurrent runs: one applies, four find it final; the profile changes once', async () => {
    const { offerId, userToken, userId } = await issueOffer(service.url, { limitCents: 55_555 });
    const { deployment } = await acceptOffer(service.url, offerId, userToken);
    // With no worker, the accept's answer is the deployment exactly as recorded.
    expect(deployment).toMatchObject({ status: 'QUEUED', offer: { id: offerId, status: 'ACCEPTED' }, events: [{ sequence: 1, type: 'QUEUED' }] });
    await startAttempt(deployment.id);
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => applyCreditOffer(deployment.id)));
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['already-final', 'already-final', 'already-final', 'already-final', 'deployed']);
    const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
    expect(profile).toMatchObject({ limitCents: 55_555n, version: 1 });
    expect(await prisma.deploymentEvent.count({ where: { deploymentId: deployment.id, type: 'PROFILE_UPDATED' } })).toBe(1);
  });

  it('a run after the deployment is final changes nothing and starts no attempt', async () => {
    const { offerId, userToken, userId } = await issueOffer(service.url, { limitCents: 66_666 });
    const { deployment } = await acceptOffer(service.url, offerId, userToken);
    await startAttempt(deployment.id);
    expect((await applyCreditOffer(deployment.id)).kind).toBe('deployed');
    const before = await prisma.creditDeployment.findUniqueOrThrow({ where: { id: deployment.id } });

    expect(await startAttempt(deployment.id)).toBeNull();
    expect((await applyCreditOffer(deployment.id)).kind).toBe('already-final');
    expect(await prisma.creditDeployment.findUniqueOrThrow({ where: { id: deployment.id } })).toEqual(before);
    expect((await prisma.creditProfile.findUniqueOrThrow({ where: { userId } })).version).toBe(1);
  });
});
