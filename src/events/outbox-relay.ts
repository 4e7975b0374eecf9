// The outbox relay of a worker process: moves committed events to the Redis stream, in order per
// user, as fast as they come (a pass right after a pass that found work, else every intervalMs);
// watches its lag (the age of the oldest unsent event). Sent events past retention go with their
// day's partition (the retention job, src/jobs/retention.ts).
import type { Logger } from '../platform/logger.ts';
import { lagMsOf, readUnsentFloor, relayLagMs, type RelayBatch } from '../domain/outbox.ts';
import { relayUnsentEvents, type EventPublisher } from './outbox-publishing.ts';

export interface OutboxRelaySettings {
  intervalMs: number;
  /** How often the lag is logged. */
  housekeepingMs: number;
  batch?: RelayBatch;
}

const DEFAULT_BATCH: RelayBatch = { users: 100, events: 1_000 };
/** Lag above this is logged as a warning rather than information. */
const LAG_WARNING_MS = 30_000;

export function startOutboxRelay(publisher: EventPublisher, settings: OutboxRelaySettings, logger: Logger) {
  const log = logger.child({ component: 'outbox-relay' });
  const batch = settings.batch ?? DEFAULT_BATCH;
  let stopped = false;
  // A time at or before every unsent event (null until the first read): the claims read the days'
  // partitions from it on, not all of them. Set by the housekeeping's read of the oldest unsent
  // event; once true it stays true (domain/outbox.ts, unsentFloor). With a year of day partitions
  // (374) the claim's first statement took 29-47 ms to plan, against under 1 ms with the 17 that
  // the default retention keeps.
  let floor: Date | null = null;
  let wake: (() => void) | null = null;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve();
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function relay(firstFloor: Promise<void>) {
    // The first pass reads from the floor (or from every day, if reading it failed).
    await firstFloor;
    let failures = 0;
    let published = 0;
    while (!stopped) {
      // A pass right after one that found work; otherwise (and at start) wait the interval.
      if (published === 0) await pause(failures === 0 ? settings.intervalMs : Math.min(5_000, settings.intervalMs * 2 ** failures));
      if (stopped) break;
      try {
        published = await relayUnsentEvents(publisher, batch, floor);
        failures = 0;
        if (published > 0) log.debug({ published }, 'events published');
      } catch (error) {
        // Redis or Postgres away: nothing was marked sent; try again, backing off up to 5 s.
        published = 0;
        failures += 1;
        log.warn({ err: error, failures }, 'publishing events failed; will try again');
      }
    }
  }

  async function housekeeping() {
    try {
      const read = await readUnsentFloor();
      floor = read.floor;
      const lagMs = lagMsOf(read.oldest, new Date());
      if (lagMs > LAG_WARNING_MS) log.warn({ relayLagMs: lagMs }, 'outbox relay is behind');
      else if (lagMs > 0) log.info({ relayLagMs: lagMs }, 'outbox relay lag');
      else log.debug({ relayLagMs: lagMs }, 'outbox relay lag');
    } catch (error) {
      log.warn({ err: error }, 'reading the outbox relay lag failed; will try again');
    }
  }

  let housekeepingRun: Promise<void> | null = null;
  const tick = () => (housekeepingRun ??= housekeeping().finally(() => (housekeepingRun = null)));
  const running = relay(tick());
  const timer = setInterval(tick, settings.housekeepingMs);

  return {
    /** The age of the oldest unsent event in ms (0 when none waits): for logs and metrics. */
    lagMs: () => relayLagMs(),
    /** Finishes the pass under way (its events are marked sent) and stops. */
    async stop() {
      stopped = true;
      clearInterval(timer);
      wake?.();
      await running;
      await housekeepingRun;
    },
  };
}
