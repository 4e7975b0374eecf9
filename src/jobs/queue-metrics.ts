// Queue gauges, asked of BullMQ at scrape time: jobs per state, the age of the oldest waiting and
// delayed jobs, and the workers connected. Every process that holds the queues reports them (the
// API too, so a backlog is seen when no worker runs); alert rules take the max per queue.
import type { Job, Queue } from 'bullmq';
import { gauge } from '../platform/metrics.ts';

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
/** Delayed jobs looked at for the oldest one, the latest due first (the longest backoffs). */
const DELAYED_SCAN = 100;

interface QueueSnapshot {
  counts: Record<(typeof STATES)[number], number>;
  oldestWaitingAgeSeconds: number;
  oldestDelayedAgeSeconds: number;
  workers: number;
}

const watched = new Set<Queue<any>>();

/** Reports these queues in this process's metrics until `unwatch` (on close). */
export function watchQueues(queues: Queue<any>[]) {
  for (const queue of queues) watched.add(queue);
  return () => queues.forEach((queue) => watched.delete(queue));
}

/** When a job started waiting: it was added, or its last delay (a retry's backoff) ran out. */
function waitingSince(job: Job): number {
  const dueAfterDelay = job.attemptsStarted > 0 && job.processedOn ? job.processedOn + (job.delay ?? 0) : job.timestamp + (job.delay ?? 0);
  return Math.max(job.timestamp, dueAfterDelay);
}

async function snapshotOf(queue: Queue<any>, now: number): Promise<QueueSnapshot> {
  const [counts, oldestWaiting, delayed, workers] = await Promise.all([
    queue.getJobCounts(...STATES),
    queue.getJobs(['wait'], 0, 0, true),
    queue.getJobs(['delayed'], 0, DELAYED_SCAN - 1, false),
    queue.getWorkersCount(),
  ]);
  const age = (since: number | undefined) => (since === undefined ? 0 : Math.max(0, (now - since) / 1000));
  const oldestDelayed = delayed.length > 0 ? Math.min(...delayed.map((job) => job.timestamp)) : undefined;
  return {
    counts: Object.fromEntries(STATES.map((state) => [state, counts[state] ?? 0])) as QueueSnapshot['counts'],
    oldestWaitingAgeSeconds: age(oldestWaiting[0] ? waitingSince(oldestWaiting[0]) : undefined),
    oldestDelayedAgeSeconds: age(oldestDelayed),
    workers,
  };
}

// One look at BullMQ per scrape, shared by the four gauges.
let latest: { at: number; snapshots: Promise<[string, QueueSnapshot | null][]> } | null = null;
function snapshots() {
  const now = Date.now();
  if (!latest || now - latest.at > 500) {
    const taken = [...watched].map(async (queue): Promise<[string, QueueSnapshot | null]> => [
      queue.name,
      // Redis down: no value for the queue (the alert on absent workers and the API's /ready tell).
      await snapshotOf(queue, now).catch(() => null),
    ]);
    latest = { at: now, snapshots: Promise.all(taken) };
  }
  return latest.snapshots;
}

function queueGauge<Label extends string>(name: string, help: string, labelNames: Label[], read: (s: QueueSnapshot) => [Partial<Record<Label, string>>, number][]) {
  return gauge({
    name,
    help,
    labelNames: ['queue', ...labelNames] as (Label | 'queue')[],
    async collect() {
      this.reset();
      for (const [queue, snapshot] of await snapshots()) {
        if (!snapshot) continue;
        for (const [labels, value] of read(snapshot)) this.set({ queue, ...labels } as Record<Label | 'queue', string>, value);
      }
    },
  });
}

queueGauge('credit_queue_jobs', 'Jobs in a queue, by state', ['state'], (s) => STATES.map((state) => [{ state }, s.counts[state]]));
queueGauge('credit_queue_oldest_waiting_job_age_seconds', 'Age of the oldest job waiting for a worker (0 when none)', [], (s) => [
  [{}, s.oldestWaitingAgeSeconds],
]);
queueGauge(
  'credit_queue_oldest_delayed_job_age_seconds',
  'Age since it was added of the oldest delayed job (deployments: a RETRYING deployment); 0 when none',
  [],
  (s) => [[{}, s.oldestDelayedAgeSeconds]],
);
queueGauge('credit_queue_workers', 'Workers connected to a queue', [], (s) => [[{}, s.workers]]);
