// How many live streams (subscriptions) this API process holds open.
import { gauge } from '../platform/metrics.ts';

export const liveStreams = gauge({
  name: 'credit_live_streams',
  help: 'Open live streams (GraphQL subscriptions), by stream',
  labelNames: ['stream'],
});

// Both series exist from the start (0), so a dashboard shows them before the first subscription.
liveStreams.set({ stream: 'deployment' }, 0);
liveStreams.set({ stream: 'notifications' }, 0);
