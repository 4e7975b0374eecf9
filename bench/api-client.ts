// A client of the API as an app uses it: GraphQL over HTTP (fetch, keep-alive) for mutations,
// graphql-ws over one WebSocket per user for the live stream.
import { randomUUID } from 'node:crypto';
import { print, type DocumentNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { AppNotificationStreamDocument } from '../src/generated/graphql/graphql.ts';
import { graphql } from '../src/generated/graphql/index.ts';
import { tokenSigner } from '../src/api/auth.ts';
import { loadConfig } from '../src/platform/config.ts';

const signToken = tokenSigner(loadConfig().JWT_SECRET);

// Sent as an app sends them: by the hash codegen put in the persisted-documents manifest.
const ISSUE = graphql(`mutation BenchIssueOffer($input: IssueCreditOfferInput!) {
  issueCreditOffer(input: $input) { __typename ... on IssueCreditOfferSuccess { offer { id } } ... on Error { message } } }`);

const ACCEPT = graphql(`mutation BenchAcceptOffer($offerId: ID!) {
  acceptOffer(offerId: $offerId) { __typename ... on AcceptOfferSuccess { deployment { id status } } ... on Error { message } } }`);

/** Only what a progress screen needs; `deployment { ... }` would add a query per message. */
const WATCH = graphql(`subscription BenchWatchDeployment($id: ID!) { creditDeployment(id: $id) { sequence type status } }`);

/** The app's own inbox subscription (app/operations.graphql): the open loop keeps one open per user. */
const INBOX = AppNotificationStreamDocument;

/** Apollo's extensions.persistedQuery for a generated document. */
function persisted(document: unknown) {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('run `npm run codegen`: the document has no persisted hash');
  return { persistedQuery: { version: 1, sha256Hash: hash.replace(/^sha256:/, '') } };
}

/**
 * APIs whose clients send full documents instead of hashes: the edge-off rounds, where the
 * service runs as if it had no persisted operations (GRAPHQL_ALLOW_DOCUMENTS) and its clients
 * send what clients of such a service send. Kept by URL, so a request cannot go out in the
 * other side's form.
 */
const fullDocumentApis = new Set<string>();
const fullDocumentSockets = new WeakSet<Client>();
export function sendFullDocuments(url: string): void {
  fullDocumentApis.add(url);
}

const printed = new WeakMap<object, string>();
function documentText(document: unknown): string {
  let text = printed.get(document as object);
  if (text === undefined) {
    text = print(document as DocumentNode);
    printed.set(document as object, text);
  }
  return text;
}

/** The operation as the request names it: by hash, or in full to an API that takes documents from customers. */
const operation = (document: unknown, full: boolean) => (full ? { query: documentText(document) } : { extensions: persisted(document) });

interface GraphQLBody {
  data?: any;
  errors?: { message: string }[];
}

async function gql(url: string, document: unknown, variables: object, token: string): Promise<any> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ variables, ...operation(document, fullDocumentApis.has(url)) }),
  });
  const body = (await response.json()) as GraphQLBody;
  if (body.errors?.length) throw new Error(`GraphQL error: ${body.errors.map((e) => e.message).join('; ')}`);
  return body.data;
}

export interface User {
  id: string;
  token: string;
}

/** A user of the app: its token carries the device's language, as the app's tokens do. */
export const newUser = (label: string): Promise<User> => userWithId(`bench-${label}-${randomUUID()}`);

/** The user of that id (one of a loaded book's, or a new one whose id has another form). */
export async function userWithId(id: string): Promise<User> {
  return { id, token: await signToken(id, ['customer'], { locale: 'pt-BR' }) };
}

export const engineToken = () => signToken('bench-credit-engine', ['credit-engine']);

export async function issueOffer(url: string, engine: string, userId: string, limitCents = 150_000): Promise<string> {
  const input = { userId, limitCents, interestRateBps: 250, expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
  const { issueCreditOffer: result } = await gql(url, ISSUE, { input }, engine);
  if (result.__typename !== 'IssueCreditOfferSuccess') throw new Error(`issue failed: ${result.message}`);
  return result.offer.id;
}

export async function acceptOffer(url: string, user: User, offerId: string): Promise<string> {
  const { acceptOffer: result } = await gql(url, ACCEPT, { offerId }, user.token);
  if (result.__typename !== 'AcceptOfferSuccess') throw new Error(`accept failed: ${result.message}`);
  return result.deployment.id;
}

/** An open graphql-ws connection, resolved once the server acknowledged it. */
export function openSocket(url: string, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url: `${url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: reject,
    });
    if (fullDocumentApis.has(url)) fullDocumentSockets.add(client);
    const off = client.on('connected', () => {
      off();
      resolve(client);
    });
  });
}

export type DeploymentStatus = 'QUEUED' | 'PROCESSING' | 'RETRYING' | 'DEPLOYED' | 'FAILED';

/**
 * Subscribes to a deployment and calls `onStatus` for each message. Resolves with a function
 * that ends the subscription, once the first message (the current state) has arrived: from
 * then on the server is listening for changes.
 */
export function watchDeployment(client: Client, id: string, onStatus: (status: DeploymentStatus) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    let first = true;
    const unsubscribe = client.subscribe<{ creditDeployment: { status: DeploymentStatus } }>(
      // graphql-ws needs a query: empty when the hash names the document.
      { query: '', variables: { id }, ...operation(WATCH, fullDocumentSockets.has(client)) },
      {
        next: (message) => {
          const status = message.data?.creditDeployment.status;
          if (!status) return reject(new Error(`subscription error: ${JSON.stringify(message.errors)}`));
          if (first) resolve(unsubscribe);
          first = false;
          onStatus(status);
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => undefined,
      },
    );
  });
}

/** Keeps the user's `notifications` subscription open on `client`, calling `onMessage` for each notification. */
export function watchInbox(client: Client, onMessage: () => void, onError: (error: unknown) => void): void {
  client.subscribe({ query: '', ...operation(INBOX, fullDocumentSockets.has(client)) }, { next: onMessage, error: onError, complete: () => undefined });
}

/** Resolves when the deployment is DEPLOYED; rejects when it FAILED. */
export function untilDeployed(client: Client, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    watchDeployment(client, id, (status) => {
      if (status === 'DEPLOYED') resolve();
      if (status === 'FAILED') reject(new Error(`deployment ${id} FAILED`));
    }).catch(reject);
  });
}
