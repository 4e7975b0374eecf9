// Operations are sent by hash only: the sha256 that codegen's client preset (persistedDocuments)
// attaches to each typed document as `__meta__.hash`, in Apollo's extensions.persistedQuery.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

/** A typed document from the app's codegen, carrying its persisted hash. */
export type PersistedDocument<Result, Variables> = TypedDocumentNode<Result, Variables> & { __meta__?: { hash?: string } };

export function hashOf(document: PersistedDocument<any, any>): string {
  const hash = document.__meta__?.hash;
  if (!hash) throw new Error('this document has no persisted hash: generate it with codegen\'s client preset and persistedDocuments on');
  return hash.replace(/^sha256:/, '');
}

/** The operation's name, for logs and the server's metrics. */
export function operationNameOf(document: PersistedDocument<any, any>): string | undefined {
  for (const definition of document.definitions) {
    if (definition.kind === 'OperationDefinition') return definition.name?.value;
  }
  return undefined;
}

export const persistedExtensions = (document: PersistedDocument<any, any>) => ({
  persistedQuery: { version: 1, sha256Hash: hashOf(document) },
});
