// The push bucket as metrics, read from Redis at scrape time (as the queue gauges are): how full
// it is, and how slowed down by FCM's quota answers. One bucket per process reports.
import { gauge } from '../platform/metrics.ts';
import type { PushBucket } from './push-bucket.ts';

let watched: PushBucket | null = null;

/** The bucket's state in the last scrape, so both gauges come from one Redis call. */
async function state() {
  return watched ? await watched.state().catch(() => null) : null;
}

gauge({
  name: 'credit_push_bucket_fill',
  help: 'How full the shared push token bucket is (0..1): near 0 while a campaign pushes at the configured rate',
  async collect() {
    const current = await state();
    if (current) this.set(current.fill);
  },
});

gauge({
  name: 'credit_push_rate_factor',
  help: "The push rate as a share of PUSH_MAX_PER_MINUTE (1 = configured; halved by each project-level 429, back to 1 within a minute)",
  async collect() {
    const current = await state();
    if (current) this.set(current.rateFactor);
  },
});

export function watchPushBucket(bucket: PushBucket) {
  watched = bucket;
}
