// `node` and `nodes`, as Relay and urql's graphcache refetch objects: each Node type found by its
// id alone with the fields asked for, and another user's object null, as through the typed fields.
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { gql, newUserId, token } from './support/client.ts';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests();

const NODE = /* GraphQL */ `
  query Node($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on User { creditProfile { limit { cents } } }
      ... on CreditOffer { offerStatus: status limit { cents } }
      ... on CreditDeployment { status offer { id } }
      ... on Notification { kind title }
    }
  }
`;
const NODES = /* GraphQL */ `
  query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }
`;

/** A user with one of each Node type: their offer accepted and deployed, and its notification. */
async function userWithEverything() {
  const { offerId, userId, userToken } = await issueOffer(service.url, { limitCents: 250_000 });
  const accepted = await acceptOffer(service.url, offerId, userToken);
  const deploymentId = accepted.deployment.id as string;
  await waitForFinal(service.url, deploymentId, userToken);
  const notification = await prisma.notification.findFirstOrThrow({ where: { userId }, select: { id: true } });
  return { userId, userToken, offerId, deploymentId, notificationId: notification.id };
}

describe('node and nodes', () => {
  it('finds each Node type by its id, with the fields asked for', async () => {
    const a = await userWithEverything();
    const node = async (id: string) => (await gql(service.url, NODE, { id }, a.userToken)).data.node;

    expect(await node(a.userId)).toEqual({ __typename: 'User', id: a.userId, creditProfile: { limit: { cents: 250_000 } } });
    expect(await node(a.offerId)).toEqual({ __typename: 'CreditOffer', id: a.offerId, offerStatus: 'DEPLOYED', limit: { cents: 250_000 } });
    expect(await node(a.deploymentId)).toEqual({ __typename: 'CreditDeployment', id: a.deploymentId, status: 'DEPLOYED', offer: { id: a.offerId } });
    expect(await node(a.notificationId)).toEqual({ __typename: 'Notification', id: a.notificationId, kind: 'CREDIT_DEPLOYED', title: expect.any(String) });
  });

  it("is null for another user's objects, for unknown ids and for ids of no format we use; staff see them", async () => {
    const a = await userWithEverything();
    const otherToken = await token(newUserId());
    for (const id of [a.userId, a.offerId, a.deploymentId, a.notificationId, '3f1c5a52-0000-4000-8000-000000000000', "x'; drop table users; --"]) {
      const result = await gql(service.url, NODE, { id }, otherToken);
      expect(result.errors).toBeUndefined();
      expect(result.data.node).toBeNull();
    }
    const staff = await gql(service.url, NODE, { id: a.deploymentId }, await token('ops-person', ['ops']));
    expect(staff.data.node).toMatchObject({ __typename: 'CreditDeployment', id: a.deploymentId });
  });

  it('answers nodes in the order asked, null where not visible, upper-case UUIDs too', async () => {
    const a = await userWithEverything();
    const b = await userWithEverything();
    const ids = [a.notificationId, b.offerId, a.userId, 'nothing', a.deploymentId.toUpperCase(), a.offerId, b.userId];
    const result = await gql(service.url, NODES, { ids }, a.userToken);
    expect(result.errors).toBeUndefined();
    expect(result.data.nodes).toEqual([
      { __typename: 'Notification', id: a.notificationId },
      null,
      { __typename: 'User', id: a.userId },
      null,
      { __typename: 'CreditDeployment', id: a.deploymentId },
      { __typename: 'CreditOffer', id: a.offerId },
      null,
    ]);
  });

  it('refuses more than 100 ids, and needs a token', async () => {
    const a = await userWithEverything();
    const many = await gql(service.url, NODES, { ids: Array.from({ length: 101 }, () => a.offerId) }, a.userToken);
    expect(many.errors?.[0]).toMatchObject({ message: 'At most 100 ids in one nodes request', extensions: { code: 'BAD_USER_INPUT' } });
    const hundred = await gql(service.url, NODES, { ids: Array.from({ length: 100 }, () => a.offerId) }, a.userToken);
    expect(hundred.data.nodes).toHaveLength(100);
    const anonymous = await gql(service.url, NODE, { id: a.offerId });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
