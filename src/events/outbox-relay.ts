// The outbox relay of a worker process: moves committed events to the Redis stream, in order per
// user, as fast as they come (a pass right after a pass that found work, else every intervalMs);
// watches its lag (the age of the oldest unsent event). Sent events past retention go with their
// day's partition (the retention job, src/jobs/retention.ts).
import type { Logger } from '../platform/logger.ts';
import { relayLagMs, type RelayBatch } from '../domain/outbox.ts';
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

  async function relay() {
    let failures = 0;
    let published = 0;
    while (!stopped) {
      // A pass right after one that found work; otherwise (and at start) wait the interval.
      if (published === 0) await pause(failures === 0 ? settings.intervalMs : Math.min(5_000, settings.intervalMs * 2 ** failures));
      if (stopped) break;
      try {
        published = await relayUnsentEvents(publisher, batch);
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
      const lagMs = await relayLagMs();
      if (lagMs > LAG_WARNING_MS) log.warn({ relayLagMs: lagMs }, 'outbox relay is behind');
      else if (lagMs > 0) log.info({ relayLagMs: lagMs }, 'outbox relay lag');
      else log.debug({ relayLagMs: lagMs }, 'outbox relay lag');
    } catch (error) {
      log.warn({ err: error }, 'reading the outbox relay lag failed; will try again');
    }
  }

  const running = relay();
  let housekeepingRun: Promise<void> | null = null;
  const tick = () => {
    housekeepingRun ??= housekeeping().finally(() => (housekeepingRun = null));
  };
  tick();
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
