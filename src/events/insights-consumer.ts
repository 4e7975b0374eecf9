// The insights consumer (`npm run start:insights`): an example of a downstream service reading
// the events stream in a consumer group. Each pass takes over the entries a dead consumer left
// pending (XAUTOCLAIM), re-reads its own pending ones, then reads new ones; it applies each
// user's events in sequence order, in its own transaction, and acknowledges an entry only after
// that commit. An entry whose user has a missing sequence stays pending until the gap is filled
// (by another consumer finishing, or by `npm run events:replay`).
import type { RedisClient } from '../platform/redis.ts';
import { applyUserEvents } from '../domain/credit-history.ts';
import { CREDIT_LIMIT_CHANGED, CREDIT_OFFER_EXPIRED, USER_ERASED, type CreditEvent } from '../domain/downstream-events.ts';
import { eventSchemaErrors } from '../domain/event-schema.ts';
import type { Logger } from '../platform/logger.ts';

export interface InsightsConsumerSettings {
  /** The events stream's key. */
  key: string;
  group: string;
  /** This consumer's name in the group: unique per running process. */
  consumer: string;
  /** Entries read per pass. */
  batch: number;
  /** How long a read waits for new entries. */
  blockMs: number;
  /** An entry pending this long with another consumer is taken over: it is presumed dead. */
  claimIdleMs: number;
}

/** Fields are null for a pending entry the stream no longer has (trimmed). */
type StreamEntry = [id: string, fields: string[] | null];

interface Received {
  entryId: string;
  event: CreditEvent;
}

const KNOWN_TYPES: readonly string[] = [CREDIT_LIMIT_CHANGED, CREDIT_OFFER_EXPIRED, USER_ERASED];

/** An envelope (id, user, sequence) of a type this consumer does not know. */
function isOfUnknownType(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const { id, type, userId, sequence } = event as Record<string, unknown>;
  return typeof type === 'string' && !KNOWN_TYPES.includes(type) && typeof id === 'string' && typeof userId === 'string' && Number.isInteger(sequence);
}

export function startInsightsConsumer(redis: RedisClient, settings: InsightsConsumerSettings, logger: Logger) {
  const { key, group, consumer, batch } = settings;
  const log = logger.child({ component: 'insights-consumer', consumer });
  let stopped = false;
  let progressed = false;
  const waiting = new Map<string, number>(); // user -> missing sequence, to log a gap once

  async function ensureGroup() {
    try {
      // From the start of the stream: a new group (or one lost with Redis) misses nothing kept.
      await redis.xgroup('CREATE', key, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
    }
  }

  async function read(): Promise<StreamEntry[]> {
    const [, claimed] = (await redis.xautoclaim(key, group, consumer, settings.claimIdleMs, '0-0', 'COUNT', batch)) as [string, StreamEntry[]];
    const own = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', batch, 'STREAMS', key, '0')) as [string, StreamEntry[]][] | null;
    const pending = [...claimed, ...(own?.[0]?.[1] ?? [])];
    // Wait for new entries unless the pending ones just moved: waiting ones must not spin the loop.
    const wait = pending.length === 0 || !progressed ? ['BLOCK', settings.blockMs] : [];
    const fresh = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', batch, ...(wait as ['BLOCK', number]), 'STREAMS', key, '>')) as
      | [string, StreamEntry[]][]
      | null;
    const byId = new Map<string, StreamEntry>();
    for (const entry of [...pending, ...(fresh?.[0]?.[1] ?? [])]) byId.set(entry[0], entry);
    return [...byId.values()];
  }

  function parse([entryId, fields]: StreamEntry): Received | null {
    const raw = fields![fields!.indexOf('event') + 1];
    let event: unknown;
    try {
      event = JSON.parse(raw ?? '');
    } catch {
      event = raw;
    }
    const errors = eventSchemaErrors(event);
    if (errors && isOfUnknownType(event)) {
      // A type added after this consumer was written: not ours to apply, but it takes its place
      // in the user's sequence (applyUserEvents moves the sequence on without recording it).
      return { entryId, event: event as CreditEvent };
    }
    if (errors) {
      // Left pending, never applied: a broken producer must be fixed, not silently skipped.
      log.error({ entryId, errors }, 'an event does not match the published schema; left pending');
      return null;
    }
    return { entryId, event: event as CreditEvent };
  }

  /** Applies the entries, user by user; returns the ids of the entries to acknowledge. */
  async function apply(entries: StreamEntry[]): Promise<string[]> {
    const byUser = new Map<string, Received[]>();
    // A trimmed entry has nothing left to apply; the user's gap, if any, shows on the next one.
    const acknowledge = entries.filter(([, fields]) => fields === null).map(([id]) => id);
    for (const received of entries.filter(([, fields]) => fields !== null).map(parse)) {
      if (!received) continue;
      const list = byUser.get(received.event.userId) ?? [];
      list.push(received);
      byUser.set(received.event.userId, list);
    }
    for (const [userId, received] of byUser) {
      const { done, missingSequence } = await applyUserEvents(userId, received.map((r) => r.event));
      const doneIds = new Set(done);
      acknowledge.push(...received.filter((r) => doneIds.has(r.event.id)).map((r) => r.entryId));
      if (missingSequence !== null && waiting.get(userId) !== missingSequence) {
        log.warn({ userId, missingSequence }, 'waiting for a missing event of a user (npm run events:replay restores lost ones)');
      }
      if (missingSequence === null) waiting.delete(userId);
      else waiting.set(userId, missingSequence);
    }
    return acknowledge;
  }

  async function pass() {
    const entries = await read();
    progressed = false;
    if (entries.length === 0) return;
    const acknowledge = await apply(entries);
    // After the commits above: an entry acknowledged is an entry applied.
    if (acknowledge.length > 0) await redis.xack(key, group, ...acknowledge);
    progressed = acknowledge.length > 0;
    log.debug({ read: entries.length, acknowledged: acknowledge.length }, 'events applied');
  }

  async function run() {
    let failures = 0;
    await ensureGroup().catch(() => {});
    while (!stopped) {
      try {
        await pass();
        failures = 0;
      } catch (error) {
        if (stopped) break;
        if (String((error as Error).message).startsWith('NOGROUP')) {
          // The stream or the group is gone (Redis lost its data): start again from what is there.
          log.warn('the consumer group is gone; creating it again');
          await ensureGroup().catch(() => {});
          continue;
        }
        failures += 1;
        log.warn({ err: error, failures }, 'consuming events failed; will try again');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** failures)));
      }
    }
  }

  log.info({ key, group }, 'insights consumer started');
  const running = run();
  return {
    /** Finishes the pass under way (a read waits at most blockMs) and stops. */
    async stop() {
      stopped = true;
      await running;
    },
  };
}
