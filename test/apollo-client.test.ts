// Apollo Client (JS), as a web or React Native team would set it up against a production API:
// persisted queries only (the persisted-queries link, never retrying with the full text), its
// manifest made the way Apollo's manifest generator makes it (the documents as the cache
// transforms them) and registered for its client name and version. A query over GET and over
// POST, a mutation, and a subscription over graphql-ws all run; an operation left out of the
// manifest gets the error Apollo recognises.
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { print } from '@apollo/client/utilities';
import type { DocumentNode } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CONTRACT_LIMITS } from '../src/api/document-limits.ts';
import { registerManifest } from '../src/api/register-operations.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { newUserId, token } from './support/client.ts';
import { issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig, testRedis } from './support/settings.ts';

const service = serviceForTests({ config: { ...testConfig, GRAPHQL_ALLOW_DOCUMENTS: false, GRAPHQL_EXPOSE_SCHEMA: false, GRAPHIQL: false } });
const CLIENT = { name: 'web-app', version: '1.4.0' };

const PROFILE = gql`
  query WebProfile {
    me {
      id
      creditProfile {
        limit {
          cents
        }
      }
    }
  }
`;
const OFFER = gql`
  query WebOffer($id: ID!) {
    creditOffer(id: $id) {
      id
      status
    }
  }
`;
const ACCEPT = gql`
  mutation WebAccept($offerId: ID!) {
    acceptOffer(offerId: $offerId) {
      ... on AcceptOfferSuccess {
        deployment {
          id
          status
        }
      }
      ... on NotFoundError {
        message
      }
    }
  }
`;
const DEPLOYMENT = gql`
  subscription WebDeployment($id: ID!, $afterSequence: Int) {
    creditDeployment(id: $id, afterSequence: $afterSequence) {
      sequence
      status
    }
  }
`;
const NOT_IN_MANIFEST = gql`
  query WebUnlisted {
    me {
      id
    }
  }
`;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** What Apollo's manifest generator writes: each document as the cache transforms it (with __typename), printed. */
function apolloManifest(documents: DocumentNode[]) {
  const cache = new InMemoryCache();
  return {
    format: 'apollo-persisted-query-manifest',
    version: 1,
    operations: documents.map((document) => {
      const body = print(cache.transformDocument(document));
      const definition = document.definitions[0] as { name: { value: string }; operation: string };
      return { id: sha256(body), body, name: definition.name.value, type: definition.operation };
    }),
  };
}

/** An Apollo Client sending hashes only (persisted-only: no retry with the full text), over GET or POST, subscriptions over graphql-ws. */
function apolloClient(url: string, getToken: () => Promise<string>, useGET: boolean) {
  const persisted = new PersistedQueryLink({ sha256: async (text) => sha256(text), useGETForHashedQueries: useGET, retry: () => false });
  const auth = new ApolloLink((operation, forward) => {
    operation.setContext(({ headers = {} }: { headers?: Record<string, string> }) => ({ headers: { ...headers, authorization: `Bearer ${tokenNow}` } }));
    return forward(operation);
  });
  let tokenNow = '';
  const wsClient = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: async () => ({ authorization: `Bearer ${await getToken()}` }),
    retryAttempts: 0,
  });
  const http = new HttpLink({ uri: `${url}/graphql` });
  const transport = ApolloLink.split(
    ({ query }) => query.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'subscription'),
    new GraphQLWsLink(wsClient),
    http,
  );
  const client = new ApolloClient({
    cache: new InMemoryCache({ possibleTypes: { AcceptOfferResult: ['AcceptOfferSuccess', 'NotFoundError', 'OfferExpiredError', 'OfferNotPendingError'] } }),
    link: ApolloLink.from([auth, persisted, transport]),
    clientAwareness: CLIENT,
    defaultOptions: { query: { fetchPolicy: 'no-cache' } },
  });
  return {
    client,
    async signIn() {
      tokenNow = await getToken();
    },
    async dispose() {
      client.stop();
      await wsClient.dispose();
    },
  };
}

describe('Apollo Client with persisted queries only', () => {
  const publisher = createRedis('publisher', testRedis);
  const userId = newUserId();
  let getClient: ReturnType<typeof apolloClient>;
  let postClient: ReturnType<typeof apolloClient>;

  beforeAll(async () => {
    await registerManifest(
      { limits: { ...CONTRACT_LIMITS, exposeSchema: false }, redis: publisher, prefix: testConfig.REDIS_PREFIX },
      { client: CLIENT.name, version: CLIENT.version },
      apolloManifest([PROFILE, OFFER, ACCEPT, DEPLOYMENT]),
    );
    getClient = apolloClient(service.url, () => token(userId), true);
    postClient = apolloClient(service.url, () => token(userId), false);
    await Promise.all([getClient.signIn(), postClient.signIn()]);
  });
  afterAll(async () => {
    await getClient.dispose();
    await postClient.dispose();
    await closeRedis(publisher);
  });

  it('runs a query by hash over GET and over POST', async () => {
    const byGet = await getClient.client.query({ query: PROFILE });
    expect(byGet.error).toBeUndefined();
    expect(byGet.data).toEqual({ me: { __typename: 'User', id: userId, creditProfile: null } });
    const byPost = await postClient.client.query({ query: PROFILE });
    expect(byPost.data).toEqual(byGet.data);
  });

  it('runs a mutation, then streams the deployment it made over graphql-ws', async () => {
    const { offerId } = await issueOffer(service.url, { userId, limitCents: 310_000 });
    const accepted = await postClient.client.mutate({ mutation: ACCEPT, variables: { offerId } });
    const deployment = (accepted.data as { acceptOffer: { deployment: { id: string; status: string } } }).acceptOffer.deployment;
    expect(deployment.status).toBe('QUEUED');

    const statuses: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const subscription = postClient.client.subscribe({ query: DEPLOYMENT, variables: { id: deployment.id, afterSequence: 0 } }).subscribe({
        next: (result) => {
          if (result.error) return reject(result.error);
          const update = (result.data as { creditDeployment: { sequence: number; status: string } }).creditDeployment;
          statuses.push(`${update.sequence} ${update.status}`);
        },
        error: reject,
        complete: () => {
          subscription.unsubscribe();
          resolve();
        },
      });
    });
    expect(statuses[0]).toBe('1 QUEUED');
    expect(statuses.at(-1)).toMatch(/^\d+ DEPLOYED$/);
    expect(statuses.map((line) => Number(line.split(' ')[0]))).toEqual(statuses.map((_, index) => index + 1));

    const offer = await getClient.client.query({ query: OFFER, variables: { id: offerId } });
    expect(offer.data).toMatchObject({ creditOffer: { id: offerId, status: 'DEPLOYED' } });
  });

  it('gets PersistedQueryNotFound for an operation its manifest does not hold', async () => {
    const result = await postClient.client.query({ query: NOT_IN_MANIFEST, errorPolicy: 'all' });
    expect(result.error?.message).toMatch(/PersistedQueryNotFound/);
    expect(result.data).toBeUndefined();
  });
});
