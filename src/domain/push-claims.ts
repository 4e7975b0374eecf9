// Claiming a notification's push before sending it. Several deciders may look at the same push:
// its job, a batch's first step working from a read taken before it (a campaign's thousand, read
// at once and decided after), the same job run twice after a stall. Each decision is a
// conditional write that only a push still open and due passes (pushOpen); the send's is this
// claim: it moves the push's due time a lease ahead, so every other decider sees a push not due
// and looks again then. The holder keeps the lease alive while the send lasts (the shared rate
// may hold it a while); when the holder dies the lease lapses, and the job that takes over after
// the crash claims it in turn and sends what is in doubt (push-delivery.ts).
import { prisma, Prisma } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';

/** Rows of `notifications` whose push nobody has settled, held or claimed beyond `now`. */
export function pushOpen(now: Date, table = Prisma.raw('notifications')): Prisma.Sql {
  return Prisma.sql`${table}.status IN ('PENDING', 'DELIVERED') AND ${table}.push_settled_at IS NULL
    AND (${table}.push_due_at IS NULL OR ${table}.push_due_at <= ${now.toISOString()}::timestamp)`;
}

export interface PushClaim {
  /** The send is over, recorded settled: the lease is no longer kept. */
  stop(): void;
  /** Nothing was sent, or the send failed transiently and will be tried again: the push is due again, as at `now`. */
  release(): Promise<void>;
}

/**
 * Claims the push of a notification still open and due at `now`; null when another decider
 * claimed, held or settled it since it was read. The lease lasts `leaseMs` and is renewed every
 * third of it until stopped or released.
 */
export async function claimPush(id: string, now: Date, leaseMs: number, logger: Logger): Promise<PushClaim | null> {
  let lease = new Date(Date.now() + leaseMs);
  const claimed = await prisma.$executeRaw`
    UPDATE notifications SET push_due_at = ${lease.toISOString()}::timestamp WHERE id = ${id}::uuid AND ${pushOpen(now)}`;
  if (claimed === 0) return null;
  // Compare-and-set on the lease itself: a later claim (after this one lapsed) always sets a later one.
  const moveLease = async (next: Date) => {
    const moved = await prisma.$executeRaw`
      UPDATE notifications SET push_due_at = ${next.toISOString()}::timestamp
       WHERE id = ${id}::uuid AND push_due_at = ${lease.toISOString()}::timestamp AND push_settled_at IS NULL`;
    if (moved > 0) lease = next;
    return moved > 0;
  };
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing
      .then(() => moveLease(new Date(Date.now() + leaseMs)))
      .then((kept) => {
        // Lapsed (this process stalled) or changed (an in-app delivery moved the fallback): nothing more to keep.
        if (!kept) clearInterval(timer);
      })
      .catch((error) => logger.warn({ err: error, notificationId: id }, "could not renew the push's claim; it lapses by itself"));
  }, Math.max(100, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    async release() {
      clearInterval(timer);
      await renewing;
      await moveLease(now);
    },
  };
}
