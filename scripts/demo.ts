// The live flow, for a newcomer: with the service running (npm start), issues an offer to a
// fresh user, accepts it, and prints the deployment's live timeline and the profile before and after.
//   npm run demo [-- --url http://127.0.0.1:4000]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { signToken } from '../src/auth.ts';
import { config } from '../src/config.ts';

const { values } = parseArgs({ options: { url: { type: 'string', default: `http://127.0.0.1:${config.PORT}` } } });
const url = values.url!;

async function graphql(query: string, variables: Record<string, unknown>, token: string) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  }).catch(() => {
    console.error(`Cannot reach the service at ${url}. Start it first: npm start`);
    process.exit(1);
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const PROFILE = '{ me { creditProfile { limit { formatted } available { formatted } interestRateBps version } } }';
const describeProfile = (data: any) =>
  data.me.creditProfile
    ? `limit ${data.me.creditProfile.limit.formatted}, available ${data.me.creditProfile.available.formatted}, ` +
      `${data.me.creditProfile.interestRateBps / 100}% a year, version ${data.me.creditProfile.version}`
    : 'no credit profile yet';

const userId = `demo-${randomUUID().slice(0, 8)}`;
const engine = await signToken('demo-credit-engine', ['credit-engine']);
const user = await signToken(userId);

console.log(`User ${userId}`);
console.log(`  profile before: ${describeProfile(await graphql(PROFILE, {}, user))}`);

const issued = await graphql(
  `mutation($input: IssueCreditOfferInput!) { issueCreditOffer(input: $input) {
     ... on IssueCreditOfferSuccess { offer { id limit { formatted } } } ... on Error { message } } }`,
  { input: { userId, limitCents: 250_000, interestRateBps: 199, expiresAt: new Date(Date.now() + 3_600_000).toISOString() } },
  engine,
);
console.log(`  offer issued: ${issued.issueCreditOffer.offer.limit.formatted} (${issued.issueCreditOffer.offer.id})`);

const sentAt = performance.now();
const accepted = await graphql(
  `mutation($id: ID!) { acceptOffer(offerId: $id) {
     ... on AcceptOfferSuccess { deployment { id correlationId } } ... on Error { message } } }`,
  { id: issued.issueCreditOffer.offer.id },
  user,
);
const { id: deploymentId, correlationId } = accepted.acceptOffer.deployment;
console.log(`  accepted in ${(performance.now() - sentAt).toFixed(1)} ms: deployment ${deploymentId} (correlation id ${correlationId})`);
console.log('\nLive timeline (WebSocket subscription; ms since the accept was sent):');

const client = createClient({ url: `${url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${user}` } });
const stream = client.iterate<any>({
  query: `subscription($id: ID!) { creditDeployment(id: $id, afterSequence: 0) {
    sequence type status at deployment { previousLimit { formatted } newLimit { formatted } processingMs } } }`,
  variables: { id: deploymentId },
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
console.log(`  profile after:  ${describeProfile(await graphql(PROFILE, {}, user))}`);
process.exit(0);
