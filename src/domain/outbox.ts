// The outbox's side of publishing (docs/events.md): claiming unsent events in order per user,
// choosing stored ones to replay, marking them sent, and the relay's lag. The domain
// never publishes: the relay and the replay (src/events/) hold the claiming transaction, publish,
// and mark the rows sent only after the publish returned.
import { prisma, Prisma, type Tx } from '../platform/db.ts';
import { isoText } from './downstream-events.ts';

/**
 * Advisory lock key space of "a user's events are being published". One holder per user at a
 * time keeps the stream in sequence order per user with any number of relays and replays.
 */
const PUBLISHING_LOCK = 0x0e7e;
const lockUser = (userId: Prisma.Sql) => Prisma.sql`pg_try_advisory_xact_lock(${PUBLISHING_LOCK}::int, hashtext(${userId}))`;

/**
 * An event as published: the envelope's fields kept in the row's own columns (id, type,
 * occurredAt, userId, sequence), joined to what the payload stores (storedEnvelope). A row written
 * before holds the whole envelope, whose own fields win: it goes out as it was written.
 */
const ENVELOPE = Prisma.sql`jsonb_build_object('id', id::text, 'type', type, 'occurredAt', ${isoText(Prisma.sql`occurred_at`)},
                                               'userId', user_id, 'sequence', sequence) || payload`;
const ROW = Prisma.sql`id::text AS id, user_id AS "userId", sequence, type, occurred_at AS "occurredAt", (${ENVELOPE})::text AS payload`;

export interface RelayBatch {
  /** Users whose unsent events one pass takes at most. */
  users: number;
  /** Events one pass publishes at most. */
  events: number;
}

/** An event as stored: `payload` is the envelope's JSON text, published as is. */
export interface OutboxRow {
  id: string;
  userId: string;
  sequence: number;
  type: string;
  /** The day partition it lives in: statements that name it read that day's partition only. */
  occurredAt: Date;
  payload: string;
}

/**
 * A relay pass's claim, in the caller's transaction: the users with the oldest unsent events whose
 * publishing lock is free (held until the transaction ends), and their unsent events in sequence
 * order per user. Empty when nothing is unsent or every such user is held by another relay.
 */
export async function claimUnsentEvents(tx: Tx, batch: RelayBatch, unsentSince: Date | null = null): Promise<OutboxRow[]> {
  // First statement: take the users' locks. The rows are read by the next statement, whose
  // snapshot is taken after the locks: a relay that just released a user has committed its
  // marks by then, so its rows are not read as unsent again. The users are those of the oldest
  // unsent events, read in age order from the unsent ones' own index as far as one pass's events:
  // grouping every unsent event by user made each pass cost the whole backlog (a campaign's
  // 40,000 events: 30 ms a pass, half a core of PostgreSQL while it drained). `unsentSince`, when
  // known to be at or before every unsent event (unsentFloor), keeps the older days' partitions
  // out of the plan: the pass's statements are then planned with their values, since a plan made
  // for any value (a prepared statement's, after five runs) names and locks every partition, and
  // prunes only when it runs.
  let bound = Prisma.empty;
  if (unsentSince) {
    await tx.$executeRaw`SET LOCAL plan_cache_mode = force_custom_plan`;
    bound = Prisma.sql`AND occurred_at >= ${unsentSince}`;
  }
  const users = await tx.$queryRaw<{ userId: string; oldest: Date }[]>`
    SELECT pending."userId", pending.oldest FROM (
      SELECT user_id AS "userId", min(occurred_at) AS oldest FROM (
        SELECT user_id, occurred_at FROM outbox_events WHERE sent_at IS NULL ${bound} ORDER BY occurred_at LIMIT ${batch.events}) head
       GROUP BY user_id ORDER BY oldest LIMIT ${batch.users}) pending
     WHERE ${lockUser(Prisma.sql`pending."userId"`)}`;
  if (users.length === 0) return [];
  // Each user's oldest unsent event is in the head read above (the head is the oldest unsent
  // events, in age order): nothing of theirs older is unsent, and older days' partitions are not read.
  const since = new Date(Math.min(...users.map((u) => u.oldest.getTime())));
  return tx.$queryRaw<OutboxRow[]>`
    SELECT ${ROW} FROM outbox_events
     WHERE sent_at IS NULL AND user_id = ANY(${users.map((u) => u.userId)}::text[]) AND occurred_at >= ${since}
     ORDER BY user_id, sequence LIMIT ${batch.events}`;
}

/** Marks published rows sent, in the transaction that claimed them (after the publish returned). */
export async function markSent(tx: Tx, rows: readonly OutboxRow[], at: Date): Promise<void> {
  if (rows.length === 0) return;
  // The rows' days bound the statement, so only their partitions are read (a year holds about 400).
  const times = rows.map((r) => r.occurredAt.getTime());
  await tx.$executeRaw`
    UPDATE outbox_events SET sent_at = ${at}
     WHERE id = ANY(${rows.map((r) => r.id)}::uuid[]) AND sent_at IS NULL
       AND occurred_at BETWEEN ${new Date(Math.min(...times))} AND ${new Date(Math.max(...times))}`;
}

export type ReplayFrom = { fromSequence: number; userId?: string } | { fromTime: Date };

const replayWhere = (from: ReplayFrom) =>
  'fromTime' in from
    ? Prisma.sql`occurred_at >= ${from.fromTime}`
    : Prisma.sql`sequence >= ${from.fromSequence} ${from.userId === undefined ? Prisma.empty : Prisma.sql`AND user_id = ${from.userId}`}`;

/** The users with stored events to replay from `from`, in id order. */
export async function usersToReplay(from: ReplayFrom): Promise<string[]> {
  const users = await prisma.$queryRaw<{ userId: string }[]>`
    SELECT DISTINCT user_id AS "userId" FROM outbox_events WHERE ${replayWhere(from)} ORDER BY 1`;
  return users.map((u) => u.userId);
}

/**
 * One user's stored events from `from`, in sequence order, in the caller's transaction, under the
 * same publishing lock as the relay's (waited for), so the stream stays in order per user.
 */
export async function claimUserEvents(tx: Tx, userId: string, from: ReplayFrom): Promise<OutboxRow[]> {
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(${PUBLISHING_LOCK}::int, hashtext(${userId}))::text`;
  return tx.$queryRaw<OutboxRow[]>`
    SELECT ${ROW} FROM outbox_events WHERE user_id = ${userId} AND ${replayWhere(from)} ORDER BY sequence`;
}

/** When the oldest unsent event occurred; null when none waits. */
export async function oldestUnsentAt(): Promise<Date | null> {
  const { _min } = await prisma.outboxEvent.aggregate({ _min: { occurredAt: true }, where: { sentAt: null } });
  return _min.occurredAt;
}

/** The age at `now` of the oldest unsent event in milliseconds, 0 when none waits. */
export const lagMsOf = (oldestUnsent: Date | null, now: Date): number => (oldestUnsent ? Math.max(0, now.getTime() - oldestUnsent.getTime()) : 0);

/** The relay's lag: the age of the oldest unsent event in milliseconds, 0 when none waits. */
export async function relayLagMs(now = new Date()): Promise<number> {
  return lagMsOf(await oldestUnsentAt(), now);
}

/**
 * No event commits more than this long after the time it carries: each is written with the time
 * of the operation that makes it, in that operation's transaction (seconds, not a day).
 */
export const LATE_EVENT_MARGIN_MS = 86_400_000;

/**
 * A time at or before every unsent event, now and from now on, for the relay's claims: the day
 * of the oldest unsent event read at `readAt`, or of `readAt` less the margin when that is
 * earlier (an event the read did not see commits after it, so it occurred at most the margin
 * before `readAt`). A whole UTC day, so that the bound names whole day partitions.
 */
export function unsentFloor(oldestUnsent: Date | null, readAt: Date): Date {
  const earliest = Math.min(oldestUnsent?.getTime() ?? Infinity, readAt.getTime() - LATE_EVENT_MARGIN_MS);
  return new Date(Math.floor(earliest / 86_400_000) * 86_400_000);
}

/** Reads the oldest unsent event's time, and the relay's floor from it (unsentFloor). */
export async function readUnsentFloor(): Promise<{ oldest: Date | null; floor: Date }> {
  const readAt = new Date();
  const oldest = await oldestUnsentAt();
  return { oldest, floor: unsentFloor(oldest, readAt) };
}
