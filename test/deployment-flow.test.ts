// The product's one flow, through real clients: issue, accept, watch live until DEPLOYED.
import { describe, expect, it } from 'vitest';
import { collect, gql, sseSubscribe, wsSubscribe } from './support/client.ts';
import { acceptOffer, DEPLOYMENT, issueOffer, PROFILE, waitForFinal } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const STREAM = /* GraphQL */ `
  subscription Watch($id: ID!, $after: Int) {
    creditDeployment(id: $id, afterSequence: $after) {
      sequence type status at
      deployment { id status attempts previousLimit { cents } newLimit { cents } }
    }
  }
`;

const service = serviceForTests();

describe('accepting an offer', () => {
  it.each([
    ['WebSocket', wsSubscribe],
    ['SSE', sseSubscribe],
  ])('streams QUEUED to DEPLOYED live over %s and raises the profile exact to the cent', async (_transport, subscribe) => {
    const { offerId, userToken } = await issueOffer(service.url, { limitCents: 1_234_567, interestRateBps: 199 });
    const accepted = await acceptOffer(service.url, offerId, userToken);
    expect(accepted.__typename).toBe('AcceptOfferSuccess');
    expect(accepted.deployment.status).toBe('QUEUED');
    // (The worker may already be at work: later events and the offer's DEPLOYED can show here.)
    expect(accepted.deployment.offer.id).toBe(offerId);
    expect(accepted.deployment.events[0]).toEqual({ sequence: 1, type: 'QUEUED' });

    // Subscribing from sequence 0 replays everything, so no message can be missed however fast the worker is.
    const messages = await collect(subscribe(service.url, STREAM, { id: accepted.deployment.id, after: 0 }, userToken));
    const updates = messages.map((m) => m.data!.creditDeployment);
    expect(updates.map((u) => [u.sequence, u.type, u.status])).toEqual([
      [1, 'QUEUED', 'QUEUED'],
      [2, 'PROCESSING_STARTED', 'PROCESSING'],
      [3, 'PROFILE_UPDATED', 'PROCESSING'],
      [4, 'DEPLOYED', 'DEPLOYED'],
    ]);
    const last = updates.at(-1)!;
    expect(last.deployment).toMatchObject({ status: 'DEPLOYED', attempts: 1, previousLimit: { cents: 0 }, newLimit: { cents: 1_234_567 } });

    const profile = (await gql(service.url, PROFILE, {}, userToken)).data.me.creditProfile;
    expect(profile).toMatchObject({
      limit: { cents: 1_234_567, formatted: 'R$ 12.345,67' },
      used: { cents: 0 },
      available: { cents: 1_234_567 },
      interestRateBps: 199,
      version: 1,
    });
    expect(profile.lastLimitChangeAt).not.toBeNull();
  });

  it('answers at once with a QUEUED deployment whose audit trail starts with QUEUED', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const accepted = await acceptOffer(service.url, offerId, userToken);
    const deployment = await waitForFinal(service.url, accepted.deployment.id, userToken);
    expect(deployment.events.map((e: { sequence: number }) => e.sequence)).toEqual([1, 2, 3, 4]);
    expect(deployment.offer.status).toBe('DEPLOYED');
    expect(deployment.processingMs).toBeGreaterThanOrEqual(0);
    expect(new Date(deployment.completedAt).getTime()).toBeGreaterThanOrEqual(new Date(deployment.queuedAt).getTime());
  });

  it('carries the x-request-id of the accepting request as the correlation id into the audit trail', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const requestId = `req-${Date.now()}`;
    const accepted = await acceptOffer(service.url, offerId, userToken, { 'x-request-id': requestId });
    expect(accepted.deployment.correlationId).toBe(requestId);
    const deployment = await waitForFinal(service.url, accepted.deployment.id, userToken);
    expect(deployment.correlationId).toBe(requestId);
  });

  it('adds a second offer on top: previous limit is the first, version goes to 2', async () => {
    const first = await issueOffer(service.url, { limitCents: 100_000 });
    await waitForFinal(service.url, (await acceptOffer(service.url, first.offerId, first.userToken)).deployment.id, first.userToken);
    const second = await issueOffer(service.url, { userId: first.userId, limitCents: 250_050 });
    const accepted = await acceptOffer(service.url, second.offerId, first.userToken);
    const deployment = await waitForFinal(service.url, accepted.deployment.id, first.userToken);
    expect(deployment.previousLimit).toEqual({ cents: 100_000 });
    const profile = (await gql(service.url, PROFILE, {}, first.userToken)).data.me.creditProfile;
    expect(profile).toMatchObject({ limit: { cents: 250_050 }, available: { cents: 250_050 }, version: 2 });
  });
});

describe('the creditDeployment subscription', () => {
  it('starts from the current state when subscribing late: one DEPLOYED message, then completes', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const accepted = await acceptOffer(service.url, offerId, userToken);
    await waitForFinal(service.url, accepted.deployment.id, userToken);
    const messages = await collect(sseSubscribe(service.url, STREAM, { id: accepted.deployment.id }, userToken));
    expect(messages.map((m) => m.data!.creditDeployment.type)).toEqual(['DEPLOYED']);
    expect(messages[0]!.data!.creditDeployment.sequence).toBe(4);
  });

  it('replays exactly the events after afterSequence, oldest first, with no duplicate', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const accepted = await acceptOffer(service.url, offerId, userToken);
    await waitForFinal(service.url, accepted.deployment.id, userToken);
    const messages = await collect(wsSubscribe(service.url, STREAM, { id: accepted.deployment.id, after: 2 }, userToken));
    expect(messages.map((m) => m.data!.creditDeployment.sequence)).toEqual([3, 4]);
  });
});
