// Least privilege: the credit engine reads what it needs of any user (offers, profiles,
// deployments with their events) and not a person's inbox or credit history (FORBIDDEN at that
// path); ops staff read everything, read-only; the user reads their own.
import { describe, expect, it } from 'vitest';
import { engineToken, gql, token } from './support/client.ts';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests();

const OFFER_WITH_USER = (personal: string) => /* GraphQL */ `
  query ($id: ID!) {
    creditOffer(id: $id) {
      id status
      user { id creditProfile { version } ${personal} }
    }
  }`;

const PERSONAL = {
  notifications: 'notifications { id kind }',
  deliveries: 'notifications { id deliveries { channel status error } }',
  unacknowledgedNotificationCount: 'unacknowledgedNotificationCount',
  creditHistory: 'creditHistory { id }',
};

describe('the credit engine', () => {
  it("reads a user's offers, profile and deployment with its events", async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const { deployment } = await acceptOffer(service.url, offerId, userToken);
    const engine = await engineToken();
    const offer = await gql(service.url, OFFER_WITH_USER(''), { id: offerId }, engine);
    expect(offer.errors).toBeUndefined();
    expect(offer.data.creditOffer.id).toBe(offerId);
    const read = await gql(service.url, 'query ($id: ID!) { creditDeployment(id: $id) { id events { sequence type } } }', { id: deployment.id }, engine);
    expect(read.errors).toBeUndefined();
    expect(read.data.creditDeployment.events.length).toBeGreaterThan(0);
  });

  for (const [field, selection] of Object.entries(PERSONAL)) {
    it(`is FORBIDDEN at ${field}, reached through an offer`, async () => {
      const { offerId } = await issueOffer(service.url);
      const result = await gql(service.url, OFFER_WITH_USER(selection), { id: offerId }, await engineToken());
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((result.errors?.[0] as { path?: (string | number)[] }).path).toEqual(['creditOffer', 'user', field === 'deliveries' ? 'notifications' : field]);
      expect(JSON.stringify(result.data ?? null)).not.toContain('kind');
    });
  }
});

describe('ops staff and the user', () => {
  it('read the personal fields: ops for any user, the user for themself', async () => {
    const { offerId, userId, userToken } = await issueOffer(service.url);
    // Deployed: the user has a notification, with its deliveries.
    await waitForFinal(service.url, (await acceptOffer(service.url, offerId, userToken)).deployment.id, userToken);
    const everything = OFFER_WITH_USER(Object.values(PERSONAL).join(' ').replace('notifications { id kind }', ''));
    for (const jwt of [await token('ops-reader', ['ops']), userToken]) {
      const result = await gql(service.url, everything, { id: offerId }, jwt);
      expect(result.errors).toBeUndefined();
      expect(result.data.creditOffer.user.id).toBe(userId);
      expect(result.data.creditOffer.user.notifications.length).toBeGreaterThan(0);
    }
  });
});
