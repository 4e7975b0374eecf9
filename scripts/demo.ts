// The live flow, for a newcomer: with the service running (npm start), issues an offer to a
// fresh user, accepts it, and prints the deployment's live timeline and the profile before and after,
// through the reference client (client/), as an app would: operations by hash only, the stream
// resumed after the last sequence if the socket drops, the notification acknowledged.
//   npm run demo [-- --url http://127.0.0.1:4000]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { CreditClient, followDeployment, isUnknown, watchNotifications } from '../client/src/index.ts';
import { tokenSigner } from '../src/api/auth.ts';
import { FIRST_PARTY_CLIENT } from '../src/api/first-party-client.ts';
import { loadConfig } from '../src/platform/config.ts';
import { graphql } from '../src/generated/graphql/index.ts';
import { AppAcknowledgeNotificationDocument, AppNotificationStreamDocument, type DemoProfileQuery } from '../src/generated/graphql/graphql.ts';

const config = loadConfig();
const signToken = tokenSigner(config.JWT_SECRET);

const { values } = parseArgs({ options: { url: { type: 'string', default: `http://127.0.0.1:${config.PORT}` } } });
const url = values.url!;

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
  subscription DemoWatchDeployment($id: ID!, $afterSequence: Int) {
    creditDeployment(id: $id, afterSequence: $afterSequence) {
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
let connected: () => void = () => {};
const socketReady = new Promise<void>((resolve) => (connected = resolve));
const clientOf = (getToken: () => Promise<string>) =>
  new CreditClient({
    url,
    getToken,
    // This repository's clients are registered as one (their operations are in one manifest).
    clientName: FIRST_PARTY_CLIENT.client,
    clientVersion: FIRST_PARTY_CLIENT.version,
    webSocketImpl: WebSocket,
    onSocket: (event) => event.type === 'connected' && connected(),
  });
const engine = clientOf(() => signToken('demo-credit-engine', ['credit-engine']));
const app = clientOf(() => signToken(userId));

try {
  console.log(`User ${userId}`);
  console.log(`  profile before: ${describeProfile(await app.request(PROFILE, {}))}`);
} catch (error) {
  console.error(`Cannot reach the service at ${url} (${(error as Error).message}). Start it first: npm start`);
  process.exit(1);
}

const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
const { issueCreditOffer: issued } = await engine.request(ISSUE, { input: { userId, limitCents: 250_000, interestRateBps: 199, expiresAt } });
if (issued.__typename !== 'IssueCreditOfferSuccess') throw new Error(`could not issue an offer: ${issued.message}`);
console.log(`  offer issued: ${issued.offer.limit.formatted} (${issued.offer.id})`);

// Listening for notifications before accepting, as an app on screen is: the socket is open, so the
// timeline shows the deployment, not the handshake, and the notification arrives in-app.
const notified = new Promise<string>((resolve) => {
  // The app's own operations: what a phone runs.
  watchNotifications(app, AppNotificationStreamDocument, AppAcknowledgeNotificationDocument, (notification) => {
    resolve(`${isUnknown(notification.knownKind) ? `unknown kind ${notification.kind}` : notification.kind}: ${notification.title} (acknowledged by the client)`);
  });
});
await socketReady;

const sentAt = performance.now();
const { acceptOffer: accepted } = await app.request(ACCEPT, { id: issued.offer.id });
if (accepted.__typename !== 'AcceptOfferSuccess') throw new Error(`could not accept: ${accepted.message}`);
const { id: deploymentId, correlationId } = accepted.deployment;
console.log(`  accepted in ${(performance.now() - sentAt).toFixed(1)} ms: deployment ${deploymentId} (correlation id ${correlationId})`);
console.log('\nLive timeline (WebSocket subscription; ms since the accept was sent):');

const followed = followDeployment(app, WATCH, { id: deploymentId, afterSequence: 0 }, (update) => {
  const since = (performance.now() - sentAt).toFixed(1).padStart(7);
  console.log(`  +${since} ms  #${update.sequence} ${update.type.padEnd(20)} ${update.status}`);
  if (update.status === 'DEPLOYED' || update.status === 'FAILED') {
    const d = update.deployment;
    console.log(`\n  ${d.previousLimit?.formatted ?? '-'} -> ${d.newLimit.formatted}, processed in ${d.processingMs} ms`);
  }
});
await followed.done;
console.log(`  notification:   ${await notified}`);
console.log(`  profile after:  ${describeProfile(await app.request(PROFILE, {}))}`);
await Promise.all([app.close(), engine.close()]);
process.exit(0);
