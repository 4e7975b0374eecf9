// A span for each phase of a GraphQL request, through yoga's instrumentation: reading and parsing
// the body, the document's parse and validation, the context's synchronous part, the execution
// (the rate limit's round trip and the resolvers inside it) and the result's serialization; the
// token's check, the rate limit and the job's add have spans of their own where they run. Only
// where traces are exported: the bench's per-hop table lays an accept out from them.
import type { Plugin } from 'graphql-yoga';
import { phaseSpan } from '../platform/tracing.ts';

export const phaseSpansPlugin: Plugin = {
  instrumentation: {
    requestParse: (_payload, wrapped) => phaseSpan('graphql request parse', wrapped),
    parse: (_payload, wrapped) => phaseSpan('graphql parse', wrapped),
    validate: (_payload, wrapped) => phaseSpan('graphql validate', wrapped),
    context: (_payload, wrapped) => phaseSpan('graphql context', wrapped),
    execute: (_payload, wrapped) => phaseSpan('graphql execute', wrapped),
    resultProcess: (_payload, wrapped) => phaseSpan('graphql serialize', wrapped),
  },
};
