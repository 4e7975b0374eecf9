// The outbox's partitions (docs/data-retention.md): outbox_events is partitioned by UTC day on
// occurred_at (migration 20261206050000). The worker creates days ahead, so events never wait on
// a missing partition (a day without one lands in outbox_events_default, moved out when its day's
// partition is made); retention drops a day whose events were all sent before the retention
// period, instead of deleting them row by row.
import { prisma } from '../platform/db.ts';

const DAY_MS = 86_400_000;
const PARENT = 'outbox_events';
const DEFAULT_PARTITION = 'outbox_events_default';
/** Advisory lock of the partition maintenance: one creator or dropper at a time. */
const MAINTENANCE_LOCK = 0x0e7f;

export interface DayPartition {
  name: string;
  /** The UTC day it holds: [from, from + 1 day). */
  from: Date;
}

const startOfUtcDay = (at: Date) => new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
const dayName = (day: Date) => `${PARENT}_p${day.toISOString().slice(0, 10).replaceAll('-', '')}`;
/** A timestamp literal of the column's type (timestamp without time zone, holding UTC). */
const literal = (at: Date) => `'${at.toISOString().replace('T', ' ').replace('Z', '')}'`;

/** The day partitions of the outbox, oldest first (the default partition is not one). */
export async function outboxPartitions(): Promise<DayPartition[]> {
  const rows = await prisma.$queryRaw<{ name: string }[]>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = ${PARENT}::regclass AND c.relname ~ '^outbox_events_p[0-9]{8}$' ORDER BY c.relname`;
  return rows.map(({ name }) => {
    const d = name.slice(-8);
    return { name, from: new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T00:00:00Z`) };
  });
}

/**
 * Makes sure the outbox has a partition for every UTC day from `now`'s to `daysAhead` days later.
 * A new day's partition takes over the rows of its day that landed in the default partition, in
 * the transaction that attaches it. Returns the names created.
 */
export async function createOutboxPartitions(now: Date, daysAhead: number): Promise<string[]> {
  const existing = new Set((await outboxPartitions()).map((p) => p.name));
  const created: string[] = [];
  for (let i = 0; i <= daysAhead; i++) {
    const from = new Date(startOfUtcDay(now).getTime() + i * DAY_MS);
    const name = dayName(from);
    if (existing.has(name)) continue;
    const to = new Date(from.getTime() + DAY_MS);
    const made = await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${MAINTENANCE_LOCK}::int, 0)`;
      const [{ present }] = (await tx.$queryRaw<{ present: boolean }[]>`SELECT to_regclass(${name}) IS NOT NULL AS present`) as [{ present: boolean }];
      if (present) return false;
      await tx.$executeRawUnsafe(`CREATE TABLE "${name}" (LIKE ${PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
      await tx.$executeRawUnsafe(
        `WITH moved AS (DELETE FROM ${DEFAULT_PARTITION} WHERE occurred_at >= ${literal(from)} AND occurred_at < ${literal(to)} RETURNING *)
         INSERT INTO "${name}" SELECT * FROM moved`,
      );
      await tx.$executeRawUnsafe(`ALTER TABLE ${PARENT} ATTACH PARTITION "${name}" FOR VALUES FROM (${literal(from)}) TO (${literal(to)})`);
      return true;
    });
    if (made) created.push(name);
  }
  return created;
}

export interface OutboxTrim {
  /** Day partitions dropped whole. */
  dropped: string[];
  /** Rows deleted from the default partition (normally none: only days that had no partition). */
  deleted: number;
}

/**
 * Retention of sent events: drops each day partition wholly before `sentBefore` whose events were
 * all sent before it (a day holding an unsent event, or one sent since, waits for a later run),
 * and deletes such events from the default partition in batches. Never removes an unsent event.
 */
export async function dropSentOutboxPartitions(sentBefore: Date, batch = 5_000): Promise<OutboxTrim> {
  const dropped: string[] = [];
  for (const partition of await outboxPartitions()) {
    if (partition.from.getTime() + DAY_MS > sentBefore.getTime()) break;
    const done = await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${MAINTENANCE_LOCK}::int, 0)`;
      // Brief: the drop needs the parent's exclusive lock; a long wait for it would hold up writers.
      await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = '2s'`);
      await tx.$executeRawUnsafe(`LOCK TABLE "${partition.name}" IN SHARE MODE`);
      const [{ keep }] = (await tx.$queryRawUnsafe<{ keep: boolean }[]>(
        `SELECT EXISTS (SELECT 1 FROM "${partition.name}" WHERE sent_at IS NULL)
             OR EXISTS (SELECT 1 FROM "${partition.name}" WHERE sent_at >= $1) AS keep`,
        sentBefore,
      )) as [{ keep: boolean }];
      if (keep) return false;
      await tx.$executeRawUnsafe(`DROP TABLE "${partition.name}"`);
      return true;
    });
    if (done) dropped.push(partition.name);
  }
  let deleted = 0;
  for (;;) {
    const n = await prisma.$executeRaw`
      DELETE FROM outbox_events_default WHERE id IN (
        SELECT id FROM outbox_events_default WHERE sent_at < ${sentBefore} LIMIT ${batch})`;
    deleted += n;
    if (n < batch) return { dropped, deleted };
  }
}
