// Typed fixtures: offers issued through the real API, with fresh users each time.
import { expect } from 'vitest';
import { engineToken, gql, newUserId, token } from './client.ts';

export const ISSUE_OFFER = /* GraphQL */ `
  mutation Issue($input: IssueCreditOfferInput!) {
    issueCreditOffer(input: $input) {
      __typename
      ... on IssueCreditOfferSuccess { offer { id status limit { cents currency formatted } } }
      ... on ValidationError { message field }
    }
  }
`;

export const ACCEPT_OFFER = /* GraphQL */ `
  mutation Accept($offerId: ID!) {
    acceptOffer(offerId: $offerId) {
      __typename
      ... on AcceptOfferSuccess { deployment { id status correlationId newLimit { cents } offer { id status } events { sequence type } } }
      ... on Error { message }
      ... on OfferExpiredError { expiredAt }
      ... on OfferNotPendingError { status }
    }
  }
`;

export const DEPLOYMENT = /* GraphQL */ `
  query Deployment($id: ID!) {
    creditDeployment(id: $id) {
      id status attempts failureCode failureReason correlationId processingMs queuedAt startedAt completedAt
      previousLimit { cents } newLimit { cents }
      offer { id status }
      events { sequence type status detail }
    }
  }
`;

export const PROFILE = /* GraphQL */ `
  query { me { id creditProfile { limit { cents formatted } used { cents } available { cents } interestRateBps version lastLimitChangeAt } } }
`;

export interface OfferOptions {
  userId?: string;
  limitCents?: number;
  interestRateBps?: number;
  expiresAt?: Date;
  externalRef?: string;
}

export async function issueOffer(url: string, options: OfferOptions = {}) {
  const userId = options.userId ?? newUserId();
  const input = {
    userId,
    limitCents: options.limitCents ?? 150_000,
    interestRateBps: options.interestRateBps ?? 250,
    expiresAt: (options.expiresAt ?? new Date(Date.now() + 3_600_000)).toISOString(),
    ...(options.externalRef ? { externalRef: options.externalRef } : {}),
  };
  const result = await gql(url, ISSUE_OFFER, { input }, await engineToken());
  expect(result.errors).toBeUndefined();
  expect(result.data.issueCreditOffer.__typename).toBe('IssueCreditOfferSuccess');
  return { offerId: result.data.issueCreditOffer.offer.id as string, userId, userToken: await token(userId) };
}

export async function acceptOffer(url: string, offerId: string, userToken: string, headers: Record<string, string> = {}) {
  const result = await gql(url, ACCEPT_OFFER, { offerId }, userToken, headers);
  expect(result.errors).toBeUndefined();
  return result.data.acceptOffer;
}

/** Polls a deployment until it is DEPLOYED or FAILED (for tests that do not subscribe). */
export async function waitForFinal(url: string, deploymentId: string, userToken: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await gql(url, DEPLOYMENT, { id: deploymentId }, userToken);
    const deployment = result.data?.creditDeployment;
    if (deployment && ['DEPLOYED', 'FAILED'].includes(deployment.status)) return deployment;
    if (Date.now() > deadline) throw new Error(`deployment ${deploymentId} not final: ${JSON.stringify(deployment)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
