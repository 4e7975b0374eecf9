// The public edge's limits (rate limits, document limits, persisted operations) stay ON in every
// measurement: the bench measures what clients get. But its load comes from one address
// (127.0.0.1) and a few hundred users at up to 400 accepts/s, more than a per-address cap meant
// for one phone allows. Raise here, and only here, the caps the bench's load needs, by the
// settings the service reads (src/platform/config.ts), and say why for each; never switch a limit
// off (only the "off" side of the edge on/off rounds, below, does, to time what the edge costs).
// The runs' JSON records these values (settings, and `edgeSettings` apart).
export const EDGE_SETTINGS_FOR_BENCH: Record<string, string> = {
  // As in production: customers send persisted operations only (the bench's clients send hashes).
  GRAPHQL_ALLOW_DOCUMENTS: 'false',
  // Up to 10,000 idle-subscription sockets are opened from 127.0.0.1 within a minute.
  RATE_LIMIT_WS_CONNECTS_PER_MINUTE: '1000000',
  // A few hundred users accept at up to 400/s in total; a user's journeys run back to back.
  RATE_LIMIT_USER_MUTATIONS_PER_MINUTE: '100000',
  // One credit-engine token issues every offer of the run (400/s and the backlogs).
  RATE_LIMIT_SERVICE_MUTATIONS_PER_MINUTE: '10000000',
  // The per-caller budgets (points per minute, docs/edge.md): a bench user's journeys run back
  // to back, many times what a person's app sends, and the engine's token issues every offer.
  // Still counted on every operation (the round trip is measured), never in the way.
  RATE_LIMIT_USER_BUDGET_PER_MINUTE: '1000000000',
  RATE_LIMIT_SERVICE_BUDGET_PER_MINUTE: '1000000000',
  // Nothing anonymous is measured; raised so that a misconfigured client fails loudly, not slowly.
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000000',
};

// The "off" side of the edge on/off rounds (bench/edge-cost.ts): the same service started with
// every protection of the public edge switched off by the switches that exist for it (src/platform/config.ts;
// refused in production). Its clients send full documents, as clients of a service without
// persisted operations do. Transport rules (body sizes, CSRF, headers, CORS) stay as they are.
export const EDGE_OFF_FOR_BENCH: Record<string, string> = {
  GRAPHQL_ALLOW_DOCUMENTS: 'true',
  EDGE_PROTECTIONS_OFF: 'rate-limits,document-limits,subscription-caps,token-checks',
};

/** The per-socket and per-user subscription caps the idle-subscription phase needs (one user per socket, `perSocket` each). */
export const subscriptionCapsFor = (perSocket: number): Record<string, string> => ({
  MAX_SUBSCRIPTIONS_PER_SOCKET: String(Math.max(20, perSocket)),
  MAX_SUBSCRIPTIONS_PER_USER: String(Math.max(50, perSocket)),
});
