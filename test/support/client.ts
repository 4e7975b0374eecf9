// Real clients of the API: GraphQL over HTTP, subscriptions over SSE and over WebSocket.
import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { tokenSigner } from '../../src/api/auth.ts';
import type { Role } from '../../src/domain/viewer.ts';
import { loadConfig } from '../../src/platform/config.ts';

const signToken = tokenSigner(loadConfig().JWT_SECRET);

export interface GraphQLResponse<T = any> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

function requestHeaders(accept: string, token?: string, extra: Record<string, string> = {}) {
  return { 'content-type': 'application/json', accept, ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

export async function gql<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T> & { status: number; headers: Headers }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: requestHeaders('application/graphql-response+json, application/json', token, headers),
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as GraphQLResponse<T>;
  return { ...body, status: response.status, headers: response.headers };
}

/** How Apollo's clients name a persisted operation: its sha256 in extensions.persistedQuery. */
function persistedExtensions(hash: string | undefined) {
  return hash ? { extensions: { persistedQuery: { version: 1, sha256Hash: hash.replace(/^sha256:/, '') } } } : {};
}

/** A persisted operation over HTTP, by hash; with `query` too, as a client registering it would send. */
export async function gqlPersisted<T = any>(
  url: string,
  hash: string,
  variables: Record<string, unknown> = {},
  token?: string,
  query?: string,
): Promise<GraphQLResponse<T> & { status: number; headers: Headers }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: requestHeaders('application/graphql-response+json, application/json', token),
    body: JSON.stringify({ ...(query ? { query } : {}), variables, ...persistedExtensions(hash) }),
  });
  const body = (await response.json()) as GraphQLResponse<T>;
  return { ...body, status: response.status, headers: response.headers };
}

/** A subscription over Server-Sent Events (graphql-yoga's default transport). */
export async function* sseSubscribe<T = any>(
  url: string,
  query: string | undefined,
  variables: Record<string, unknown>,
  token?: string,
  persistedHash?: string,
): AsyncGenerator<GraphQLResponse<T>> {
  const controller = new AbortController();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: requestHeaders('text/event-stream', token),
    body: JSON.stringify({ query, variables, ...persistedExtensions(persistedHash) }),
    signal: controller.signal,
  });
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === 'complete') return;
        if (event === 'next' && data) yield JSON.parse(data) as GraphQLResponse<T>;
      }
    }
  } finally {
    controller.abort();
  }
}

/** A subscription over WebSocket (graphql-ws protocol). */
export async function* wsSubscribe<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): AsyncGenerator<GraphQLResponse<T>> {
  const client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
  try {
    for await (const result of client.iterate<T>({ query, variables })) {
      yield result as GraphQLResponse<T>;
    }
  } finally {
    await client.dispose();
  }
}

/** A WebSocket that connects at once and never retries, for tests that hold, count or see refused several subscriptions on it. Dispose it after. */
export function socketClient(url: string, token: string, onClosed?: (code: number) => void): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    on: { closed: (event) => onClosed?.((event as { code: number }).code) },
    onNonLazyError: () => {}, // a socket the test kills or closes on purpose
  });
}

/** Starts a subscription on the socket; `outcome` resolves with its first errors (or first message), its error, or 'complete'; `stop` ends it. */
export function subscribeOn(client: Client, query: string): { outcome: Promise<unknown>; stop: () => void } {
  let stop = () => {};
  const outcome = new Promise((resolve) => {
    stop = client.subscribe({ query }, { next: (m) => resolve(m.errors ?? m), error: resolve, complete: () => resolve('complete') });
  });
  return { outcome, stop };
}

/** Collects a subscription's messages until it completes (or `limit` messages arrived). */
export async function collect<T>(stream: AsyncGenerator<T>, limit = Infinity): Promise<T[]> {
  const messages: T[] = [];
  for await (const message of stream) {
    messages.push(message);
    if (messages.length >= limit) break;
  }
  return messages;
}

export const token = (userId: string, roles: Role[] = ['customer'], extra = {}) => signToken(userId, roles, extra);
export const engineToken = () => signToken('credit-engine-test', ['credit-engine']);
export const newUserId = (label = 'user') => `${label}-${randomUUID()}`;
