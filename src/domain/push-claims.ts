// Claiming a notification's push before sending it. Several deciders may look at the same push:
// its job, a batch's first step working from a read taken before it (a campaign's thousand, read
// at once and decided after), the same job run twice after a stall. Each decision is a
// conditional write that only a push still open and due passes (pushOpen); the send's is this
// claim: it moves the push's due time a lease ahead, so every other decider sees a push not due
// and looks again then. The holder keeps the lease alive while the send lasts (the shared rate
// may hold it a while); when the holder dies the lease lapses, and the job that takes over after
// the crash claims it in turn and sends what is in doubt (push-delivery.ts).
import { hotQuery, Prisma } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';

/**
 * Rows of `notifications` whose push nobody has settled, held or claimed beyond `now`: a check of
 * rows found by their ids. It is written as a CASE so that no index can serve it: as plain
 * conditions, the planner's generic plan (the statements are prepared) chose the partial index of
 * unsettled pushes whenever its statistics were older than a campaign, and each claim of a few
 * rows read the campaign's 20,000 open ones (1.5 of the 2 cores busy in that one statement).
 */
export function pushOpen(now: Date, table = Prisma.raw('notifications')): Prisma.Sql {
  return Prisma.sql`CASE WHEN ${table}.status IN ('PENDING', 'DELIVERED') AND ${table}.push_settled_at IS NULL
    AND (${table}.push_due_at IS NULL OR ${table}.push_due_at <= ${now.toISOString()}::timestamp) THEN true ELSE false END`;
}

export interface PushClaims {
  /** The pushes this decider claimed and still holds. */
  held: ReadonlySet<string>;
  /** The sends are over, recorded settled: no lease is kept any more. */
  stop(): void;
  /** Nothing was sent for these, or their send failed transiently and will be tried again: due again, as at `now`. */
  release(ids: readonly string[]): Promise<void>;
}

/**
 * Claims, in one statement, the pushes of these notifications still open and due at `now`; those
 * another decider claimed, held or settled since they were read are not held. The lease lasts
 * `leaseMs` and is renewed for every push still held, every third of it, until stopped; a push
 * released is due again at once.
 */
export async function claimPushes(ids: readonly string[], now: Date, leaseMs: number, logger: Logger): Promise<PushClaims> {
  let lease = new Date(Date.now() + leaseMs);
  const claimed = await hotQuery<{ id: string }>('claim pushes', Prisma.sql`
    UPDATE notifications SET push_due_at = ${lease.toISOString()}::timestamp WHERE id = ANY(${ids}::uuid[]) AND ${pushOpen(now)}
    RETURNING id::text AS id`);
  const held = new Set(claimed.map((r) => r.id));
  // Compare-and-set on the lease itself: a later claim (after this one lapsed) always sets a later one.
  const moveLease = async (which: string[], next: Date) => {
    if (which.length === 0) return [];
    const moved = await hotQuery<{ id: string }>('move push leases', Prisma.sql`
      UPDATE notifications SET push_due_at = ${next.toISOString()}::timestamp
       WHERE id = ANY(${which}::uuid[]) AND push_due_at = ${lease.toISOString()}::timestamp AND push_settled_at IS NULL
      RETURNING id::text AS id`);
    return moved.map((r) => r.id);
  };
  // Renewals and releases one after the other: each compares with the lease the one before set.
  let chain: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    chain = chain
      .then(async () => {
        const next = new Date(Date.now() + leaseMs);
        const kept = new Set(await moveLease([...held], next));
        lease = next;
        // Lapsed (this process stalled) or changed (an in-app delivery moved the fallback): not held any more.
        for (const id of held) if (!kept.has(id)) held.delete(id);
        if (held.size === 0) clearInterval(timer);
      })
      .catch((error) => logger.warn({ err: error, notifications: held.size }, "could not renew the pushes' claims; they lapse by themselves"));
  }, Math.max(100, Math.floor(leaseMs / 3)));
  timer.unref();
  if (held.size === 0) clearInterval(timer);
  return {
    held,
    stop: () => clearInterval(timer),
    async release(which) {
      const mine = which.filter((id) => held.has(id));
      for (const id of mine) held.delete(id);
      if (held.size === 0) clearInterval(timer);
      const released = chain.then(() => moveLease(mine, now));
      chain = released.catch(() => {});
      await released;
    },
  };
}
