// A span for each phase of a GraphQL request, through yoga's instrumentation: reading and parsing
// the body, the document's parse and validation, the context's synchronous part, the execution
// (the rate limit's round trip and the resolvers inside it) and the result's serialization; the
// token's check, the rate limit and the job's add have spans of their own where they run. Only
// where traces are exported: the bench's per-hop table lays an accept out from them.
import type { Plugin } from 'graphql-yoga';
import { inSpan } from '../platform/tracing.ts';

// Not the active span: what runs inside (the context's annotation of the request, its statements) belongs to the request.
const phase = { activate: false };

export const phaseSpansPlugin: Plugin = {
  instrumentation: {
    requestParse: (_payload, wrapped) => inSpan('graphql request parse', phase, wrapped),
    parse: (_payload, wrapped) => inSpan('graphql parse', phase, wrapped),
    validate: (_payload, wrapped) => inSpan('graphql validate', phase, wrapped),
    context: (_payload, wrapped) => inSpan('graphql context', phase, wrapped),
    execute: (_payload, wrapped) => inSpan('graphql execute', phase, wrapped),
    resultProcess: (_payload, wrapped) => inSpan('graphql serialize', phase, wrapped),
  },
};
