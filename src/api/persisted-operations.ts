// Persisted operations: the app's documents, known in advance by their sha256 (the committed
// manifest written by codegen). Clients send the hash as Apollo's (extensions.persistedQuery)
// and Relay's (doc_id) clients do. Unknown hashes are refused; nothing is registered on the fly.
// Who may send a full document instead is the caller's decision (`mayRunDocuments`).
import { GraphQLError } from 'graphql';
import type { GraphQLParams } from 'graphql-yoga';
import manifest from '../generated/graphql/persisted-documents.json' with { type: 'json' };

/** sha256 (hex) -> document. The manifest's keys carry a "sha256:" prefix; clients send the bare hash. */
export type PersistedDocuments = ReadonlyMap<string, string>;

export function loadPersistedDocuments(entries: Record<string, string> = manifest): PersistedDocuments {
  return new Map(Object.entries(entries).map(([key, document]) => [key.replace(/^sha256:/, ''), document]));
}

/** Parameter names Relay-style clients use for the hash (yoga refuses unknown body parameters). */
export const HASH_PARAMS = ['doc_id', 'documentId'];

/** The hash a request names, if any. */
export function persistedHashOf(params: Partial<GraphQLParams> & Record<string, unknown>): string | null {
  const persisted = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery;
  const hash = persisted?.sha256Hash ?? params.doc_id ?? params.documentId;
  return typeof hash === 'string' ? hash.replace(/^sha256:/, '') : null;
}

export const persistedOnlyError = () =>
  new GraphQLError('Only persisted operations may be sent with this token: send the hash of a known operation', {
    extensions: { code: 'PERSISTED_QUERY_ONLY', http: { status: 400 } },
  });

export const persistedNotFoundError = () =>
  new GraphQLError('PersistedQueryNotFound', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } });

/**
 * The document to run for a request's parameters: the persisted one its hash names, or its own
 * when the caller may send documents. Throws the refusal otherwise. Used on every transport.
 */
export function documentFor(
  documents: PersistedDocuments,
  params: Partial<GraphQLParams> & Record<string, unknown>,
  mayRunDocuments: boolean,
): string {
  if (typeof params.query === 'string' && params.query.length > 0) {
    if (!mayRunDocuments) throw persistedOnlyError();
    return params.query;
  }
  const hash = persistedHashOf(params);
  const document = hash ? documents.get(hash) : undefined;
  if (!document) throw persistedNotFoundError();
  return document;
}
