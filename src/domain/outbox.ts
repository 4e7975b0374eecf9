// The outbox's side of publishing (docs/events.md): claiming unsent events in order per user,
// replaying sent ones, retention, and the relay's lag. Publishing itself is a port: the relay
// hands the rows to it inside the claiming transaction and marks them sent only after it returns.
import { prisma, Prisma, type Tx } from '../platform/db.ts';
import type { EventPublisher, OutboxRow } from './ports.ts';

/**
 * Advisory lock key space of "a user's events are being published". One holder per user at a
 * time keeps the stream in sequence order per user with any number of relays and replays.
 */
const PUBLISHING_LOCK = 0x0e7e;
const lockUser = (userId: Prisma.Sql) => Prisma.sql`pg_try_advisory_xact_lock(${PUBLISHING_LOCK}::int, hashtext(${userId}))`;

const ROW = Prisma.sql`id::text AS id, user_id AS "userId", sequence, type, payload::text AS payload`;

export interface RelayBatch {
  /** Users whose unsent events one pass takes at most. */
  users: number;
  /** Events one pass publishes at most. */
  events: number;
}

/**
 * One pass of the relay: takes the users with the oldest unsent events whose lock is free,
 * publishes their unsent events in sequence order, marks them sent, commits. Returns how many
 * it published. A relay that dies between publishing and commit leaves them unsent: they are
 * published again (the consumers' idempotency on the event id absorbs that one duplicate).
 */
export async function relayUnsentEvents(publisher: EventPublisher, batch: RelayBatch, now = () => new Date()): Promise<number> {
  return prisma.$transaction(async (tx) => {
    // First statement: take the users' locks. The rows are read by the next statement, whose
    // snapshot is taken after the locks: a relay that just released a user has committed its
    // marks by then, so its rows are not read as unsent again.
    const users = await tx.$queryRaw<{ userId: string }[]>`
      SELECT pending."userId" FROM (
        SELECT user_id AS "userId", min(occurred_at) AS oldest FROM outbox_events
         WHERE sent_at IS NULL GROUP BY user_id ORDER BY oldest LIMIT ${batch.users}) pending
       WHERE ${lockUser(Prisma.sql`pending."userId"`)}`;
    if (users.length === 0) return 0;
    const rows = await tx.$queryRaw<OutboxRow[]>`
      SELECT ${ROW} FROM outbox_events
       WHERE sent_at IS NULL AND user_id = ANY(${users.map((u) => u.userId)}::text[])
       ORDER BY user_id, sequence LIMIT ${batch.events}`;
    await publishAndMark(tx, publisher, rows, now());
    return rows.length;
  });
}

async function publishAndMark(tx: Tx, publisher: EventPublisher, rows: OutboxRow[], at: Date) {
  if (rows.length === 0) return;
  await publisher.publish(rows);
  await tx.$executeRaw`
    UPDATE outbox_events SET sent_at = ${at} WHERE id = ANY(${rows.map((r) => r.id)}::uuid[]) AND sent_at IS NULL`;
}

export type ReplayFrom = { fromSequence: number; userId?: string } | { fromTime: Date };

/**
 * Publishes again the stored events from a sequence (of one user, or of every user) or from a
 * time, in sequence order per user, e.g. after a Redis loss or a trimmed stream. Each user's
 * events go out under the same lock as the relay's, so the stream stays in order per user.
 */
export async function replayEvents(publisher: EventPublisher, from: ReplayFrom, now = () => new Date()): Promise<number> {
  const where =
    'fromTime' in from
      ? Prisma.sql`occurred_at >= ${from.fromTime}`
      : Prisma.sql`sequence >= ${from.fromSequence} ${from.userId === undefined ? Prisma.empty : Prisma.sql`AND user_id = ${from.userId}`}`;
  const users = await prisma.$queryRaw<{ userId: string }[]>`
    SELECT DISTINCT user_id AS "userId" FROM outbox_events WHERE ${where} ORDER BY 1`;
  let published = 0;
  for (const { userId } of users) {
    published += await prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT pg_advisory_xact_lock(${PUBLISHING_LOCK}::int, hashtext(${userId}))::text`;
      const rows = await tx.$queryRaw<OutboxRow[]>`
        SELECT ${ROW} FROM outbox_events WHERE user_id = ${userId} AND ${where} ORDER BY sequence`;
      await publishAndMark(tx, publisher, rows, now());
      return rows.length;
    });
  }
  return published;
}

/** Deletes events sent before `sentBefore`, in batches; never an unsent one. Returns how many. */
export async function deleteSentEvents(sentBefore: Date, batch = 5_000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await prisma.$executeRaw`
      DELETE FROM outbox_events WHERE id IN (
        SELECT id FROM outbox_events WHERE sent_at < ${sentBefore} LIMIT ${batch})`;
    deleted += n;
    if (n < batch) return deleted;
  }
}

/** The relay's lag: the age of the oldest unsent event in milliseconds, 0 when none waits. */
export async function relayLagMs(now = new Date()): Promise<number> {
  const { _min } = await prisma.outboxEvent.aggregate({ _min: { occurredAt: true }, where: { sentAt: null } });
  return _min.occurredAt ? Math.max(0, now.getTime() - _min.occurredAt.getTime()) : 0;
}
