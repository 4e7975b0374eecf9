// Publishing the outbox (docs/events.md): the one place its events leave for the Redis Stream.
// Each publish runs inside the transaction that claimed the rows under their users' publishing
// locks, and the rows are marked sent only after the publish returned: a relay that dies between
// the two leaves them unsent, and they go out again (consumers are idempotent on the event id).
import { claimUnsentEvents, claimUserEvents, markSent, usersToReplay, type OutboxRow, type RelayBatch, type ReplayFrom } from '../domain/outbox.ts';
import { prisma, type Tx } from '../platform/db.ts';

/** Where events go (the Redis stream). Must publish the rows in the order given, or throw. */
export interface EventPublisher {
  publish(rows: OutboxRow[]): Promise<void>;
}

async function publishAndMark(tx: Tx, publisher: EventPublisher, rows: OutboxRow[], at: Date): Promise<number> {
  if (rows.length === 0) return 0;
  await publisher.publish(rows);
  await markSent(tx, rows, at);
  return rows.length;
}

/**
 * One pass of the relay: the users with the oldest unsent events whose lock is free, their unsent
 * events published in sequence order, marked sent, committed. Returns how many it published.
 * `unsentSince`: a time at or before every unsent event (unsentFloor), or null to read every day.
 */
export function relayUnsentEvents(publisher: EventPublisher, batch: RelayBatch, unsentSince: Date | null = null, now = () => new Date()): Promise<number> {
  return prisma.$transaction(async (tx) => publishAndMark(tx, publisher, await claimUnsentEvents(tx, batch, unsentSince), now()));
}

/**
 * Publishes again the stored events from a sequence (of one user, or of every user) or from a
 * time, in sequence order per user, e.g. after a Redis loss or a trimmed stream; each user's under
 * the relay's lock, so the stream stays in order per user.
 */
export async function replayEvents(publisher: EventPublisher, from: ReplayFrom, now = () => new Date()): Promise<number> {
  let published = 0;
  for (const userId of await usersToReplay(from)) {
    published += await prisma.$transaction(async (tx) => publishAndMark(tx, publisher, await claimUserEvents(tx, userId, from), now()));
  }
  return published;
}
