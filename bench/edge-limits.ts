// The public edge's limits (rate limits, document limits, persisted operations) stay ON in every
// measurement: the bench measures what clients get. But its load comes from one address
// (127.0.0.1) and a few hundred users at up to 400 accepts/s, more than a per-address cap meant
// for one phone allows. Raise here, and only here, the caps the bench's load needs, by the
// settings the service reads (src/config.ts), and say why for each; never switch a limit off.
// The runs' JSON records these values with the other settings.
export const EDGE_SETTINGS_FOR_BENCH: Record<string, string> = {
  // e.g. RATE_LIMIT_PER_IP_PER_MINUTE: '60000', // 400 accepts/s plus set-up, all from 127.0.0.1
};
