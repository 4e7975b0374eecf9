// Offers the credit engine withdraws: a PENDING offer becomes WITHDRAWN, its user can no longer
// accept it (OfferNotPendingError WITHDRAWN), and the notification that asked for an answer is
// acknowledged by the service (the badge drops); an accepted offer cannot be withdrawn; a
// campaign's pending offers go at once, the accepted ones stay.
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, newUserId, token } from './support/client.ts';
import { ACCEPT_OFFER, acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { myNotifications, waitForNotification } from './support/notification-fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests();

const WITHDRAW = /* GraphQL */ `
  mutation Withdraw($id: ID!) {
    withdrawCreditOffer(id: $id) {
      __typename
      ... on WithdrawCreditOfferSuccess { offer { id status } }
      ... on OfferNotPendingError { status }
      ... on Error { message }
    }
  }
`;

const WITHDRAW_CAMPAIGN = /* GraphQL */ `
  mutation WithdrawCampaign($campaignId: ID!) {
    withdrawCampaignOffers(campaignId: $campaignId) {
      __typename
      ... on WithdrawCampaignOffersSuccess { withdrawn }
      ... on ValidationError { message field }
    }
  }
`;

const ISSUE_OFFERS = /* GraphQL */ `
  mutation IssueMany($inputs: [IssueCreditOfferInput!]!) {
    issueCreditOffers(inputs: $inputs) { __typename ... on IssueCreditOfferSuccess { offer { id campaignId } } }
  }
`;

const BADGE = /* GraphQL */ `query { me { unacknowledgedNotificationCount offers { id status } } }`;

const withdraw = async (id: string, bearer?: string) => gql(service.url, WITHDRAW, { id }, bearer ?? (await engineToken()));

describe('withdrawCreditOffer', () => {
  it('makes a PENDING offer WITHDRAWN: accepting it is refused with that status, its OFFER_RECEIVED is acknowledged, the badge drops', async () => {
    const offer = await issueOffer(service.url, { limitCents: 300_000 });
    await waitForNotification(service.url, offer.userToken, (n) => n.kind === 'OFFER_RECEIVED');
    expect((await gql(service.url, BADGE, {}, offer.userToken)).data.me.unacknowledgedNotificationCount).toBe(1);

    const result = await withdraw(offer.offerId);
    expect(result.data.withdrawCreditOffer).toEqual({ __typename: 'WithdrawCreditOfferSuccess', offer: { id: offer.offerId, status: 'WITHDRAWN' } });

    const refused = await gql(service.url, ACCEPT_OFFER, { offerId: offer.offerId }, offer.userToken);
    expect(refused.data.acceptOffer).toMatchObject({ __typename: 'OfferNotPendingError', status: 'WITHDRAWN' });
    expect(await prisma.creditDeployment.count({ where: { offerId: offer.offerId } })).toBe(0);

    const mine = await gql(service.url, BADGE, {}, offer.userToken);
    expect(mine.data.me.unacknowledgedNotificationCount).toBe(0);
    expect(mine.data.me.offers).toEqual([{ id: offer.offerId, status: 'WITHDRAWN' }]);
    const [received] = await myNotifications(service.url, offer.userToken);
    expect(received).toMatchObject({ kind: 'OFFER_RECEIVED', status: 'ACKNOWLEDGED' });
    expect(received.acknowledgedAt).not.toBeNull();

    // Withdrawing again answers the same; the user's acknowledgement time is not rewritten.
    expect((await withdraw(offer.offerId)).data.withdrawCreditOffer.offer.status).toBe('WITHDRAWN');
    expect((await myNotifications(service.url, offer.userToken))[0].acknowledgedAt).toBe(received.acknowledgedAt);
  });

  it('refuses an accepted offer (OfferNotPendingError), an unknown one (NotFoundError), and a customer (FORBIDDEN), changing nothing', async () => {
    const offer = await issueOffer(service.url, { limitCents: 200_000 });
    const accepted = await acceptOffer(service.url, offer.offerId, offer.userToken);
    await waitForFinal(service.url, accepted.deployment.id, offer.userToken);
    const refused = (await withdraw(offer.offerId)).data.withdrawCreditOffer;
    expect(refused).toMatchObject({ __typename: 'OfferNotPendingError', status: 'DEPLOYED' });
    expect((await prisma.creditOffer.findUniqueOrThrow({ where: { id: offer.offerId } })).status).toBe('DEPLOYED');

    expect((await withdraw('00000000-0000-4000-8000-000000000000')).data.withdrawCreditOffer.__typename).toBe('NotFoundError');
    expect((await withdraw('not-an-id')).data.withdrawCreditOffer.__typename).toBe('NotFoundError');

    const pending = await issueOffer(service.url);
    const forbidden = await withdraw(pending.offerId, pending.userToken);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await prisma.creditOffer.findUniqueOrThrow({ where: { id: pending.offerId } })).status).toBe('PENDING');
  });
});

describe('withdrawCampaignOffers', () => {
  it("withdraws the campaign's PENDING offers only: accepted ones and other campaigns' stay", async () => {
    const campaignId = `campaign-${newUserId()}`;
    const users = [newUserId(), newUserId(), newUserId()];
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const input = (userId: string, campaign = campaignId) => ({ userId, limitCents: 100_000, interestRateBps: 250, expiresAt, campaignId: campaign });
    const issued = await gql(service.url, ISSUE_OFFERS, { inputs: [...users.map((u) => input(u)), input(newUserId(), `${campaignId}-other`)] }, await engineToken());
    const ids: string[] = issued.data.issueCreditOffers.map((r: any) => r.offer.id);
    const accepted = await acceptOffer(service.url, ids[0]!, await token(users[0]!));
    expect(accepted.__typename).toBe('AcceptOfferSuccess');

    const result = await gql(service.url, WITHDRAW_CAMPAIGN, { campaignId }, await engineToken());
    expect(result.data.withdrawCampaignOffers).toEqual({ __typename: 'WithdrawCampaignOffersSuccess', withdrawn: 2 });
    const statuses = await prisma.creditOffer.findMany({ where: { id: { in: ids } } });
    const statusOf = new Map(statuses.map((o) => [o.id, o.status]));
    expect(ids.map((id) => statusOf.get(id))).toEqual([expect.stringMatching(/ACCEPTED|DEPLOYED/), 'WITHDRAWN', 'WITHDRAWN', 'PENDING']);
    // Again: nothing left to withdraw.
    expect((await gql(service.url, WITHDRAW_CAMPAIGN, { campaignId }, await engineToken())).data.withdrawCampaignOffers.withdrawn).toBe(0);

    const bad = await gql(service.url, WITHDRAW_CAMPAIGN, { campaignId: '' }, await engineToken());
    expect(bad.data.withdrawCampaignOffers).toMatchObject({ __typename: 'ValidationError', field: 'campaignId' });
  });
});
