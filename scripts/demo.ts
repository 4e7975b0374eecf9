// The live flow, for a newcomer: with the service running (npm start), issues an offer to a
// fresh user, accepts it, and prints the deployment's live timeline and the profile before and after.
//   npm run demo [-- --url http://127.0.0.1:4000]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { ResultOf, TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { tokenSigner } from '../src/api/auth.ts';
import { loadConfig } from '../src/platform/config.ts';
import { graphql } from '../src/generated/graphql/index.ts';
import type { DemoProfileQuery } from '../src/generated/graphql/graphql.ts';

const signToken = tokenSigner(loadConfig().JWT_SECRET);

const config = loadConfig();

const { values } = parseArgs({ options: { url: { type: 'string', default: `http://127.0.0.1:${config.PORT}` } } });
const url = values.url!;

/**
 * How the app names an operation: by the sha256 that codegen put in the persisted-documents
 * manifest (Apollo's extensions.persistedQuery). In production the service runs only those for customers.
 */
function persisted(document: TypedDocumentNode<any, any>) {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('run `npm run codegen`: the document has no persisted hash');
  return { persistedQuery: { version: 1, sha256Hash: hash.replace(/^sha256:/, '') } };
}

async function request<R, V>(document: TypedDocumentNode<R, V>, variables: V, token: string): Promise<R> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ variables, extensions: persisted(document) }),
  }).catch(() => {
    console.error(`Cannot reach the service at ${url}. Start it first: npm start`);
    process.exit(1);
  });
  const body = (await response.json()) as { data?: R; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const PROFILE = graphql(`
  query DemoProfile { me { creditProfile { limit { formatted } available { formatted } interestRateBps version } } }
`);
const ISSUE = graphql(`
  mutation DemoIssueOffer($input: IssueCreditOfferInput!) {
    issueCreditOffer(input: $input) {
      __typename
      ... on IssueCreditOfferSuccess { offer { id limit { formatted } } }
      ... on Error { message }
    }
  }
`);
const ACCEPT = graphql(`
  mutation DemoAcceptOffer($id: ID!) {
    acceptOffer(offerId: $id) {
      __typename
      ... on AcceptOfferSuccess { deployment { id correlationId } }
      ... on Error { message }
    }
  }
`);
const WATCH = graphql(`
  subscription DemoWatchDeployment($id: ID!) {
    creditDeployment(id: $id, afterSequence: 0) {
      sequence type status at
      deployment { previousLimit { formatted } newLimit { formatted } processingMs }
    }
  }
`);

const describeProfile = ({ me: { creditProfile: p } }: DemoProfileQuery) =>
  p
    ? `limit ${p.limit.formatted}, available ${p.available.formatted}, ${p.interestRateBps / 100}% a year, version ${p.version}`
    : 'no credit profile yet';

const userId = `demo-${randomUUID().slice(0, 8)}`;
const engine = await signToken('demo-credit-engine', ['credit-engine']);
const user = await signToken(userId);

console.log(`User ${userId}`);
console.log(`  profile before: ${describeProfile(await request(PROFILE, {}, user))}`);

const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
const { issueCreditOffer: issued } = await request(ISSUE, { input: { userId, limitCents: 250_000, interestRateBps: 199, expiresAt } }, engine);
if (issued.__typename !== 'IssueCreditOfferSuccess') throw new Error(`could not issue an offer: ${issued.message}`);
console.log(`  offer issued: ${issued.offer.limit.formatted} (${issued.offer.id})`);

// Connected before accepting, as an app on screen is: the timeline then shows the deployment, not the handshake.
const client = createClient({
  url: `${url.replace(/^http/, 'ws')}/graphql`,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${user}` },
  lazy: false,
});
await new Promise<void>((resolve) => client.on('connected', () => resolve()));

const sentAt = performance.now();
const { acceptOffer: accepted } = await request(ACCEPT, { id: issued.offer.id }, user);
if (accepted.__typename !== 'AcceptOfferSuccess') throw new Error(`could not accept: ${accepted.message}`);
const { id: deploymentId, correlationId } = accepted.deployment;
console.log(`  accepted in ${(performance.now() - sentAt).toFixed(1)} ms: deployment ${deploymentId} (correlation id ${correlationId})`);
console.log('\nLive timeline (WebSocket subscription; ms since the accept was sent):');

// graphql-ws wants a query string: empty, the hash names the operation.
const stream = client.iterate<ResultOf<typeof WATCH>>({
  query: '',
  variables: { id: deploymentId },
  extensions: persisted(WATCH),
});
for await (const message of stream) {
  const update = message.data!.creditDeployment;
  const since = (performance.now() - sentAt).toFixed(1).padStart(7);
  console.log(`  +${since} ms  #${update.sequence} ${update.type.padEnd(20)} ${update.status}`);
  if (update.status === 'DEPLOYED' || update.status === 'FAILED') {
    const d = update.deployment;
    console.log(`\n  ${d.previousLimit?.formatted ?? '-'} -> ${d.newLimit.formatted}, processed in ${d.processingMs} ms`);
  }
}
await client.dispose();
console.log(`  profile after:  ${describeProfile(await request(PROFILE, {}, user))}`);
process.exit(0);
