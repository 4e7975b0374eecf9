// A data subject's erasure request (LGPD art. 18, VI; docs/data-retention.md): deletes or blanks
// the user's personal data that no regulatory record needs, and keeps, under the user id, what the
// law makes us keep (art. 16, I): consent evidence, deployment audit trails with their accepted
// offers, the notices the law requires with their delivery proof, and the credit profile; and
// tells the events' consumers to erase their copies (a user.erased event). One transaction under
// the user's row lock: it applies whole or not at all, and running it again erases nothing more
// (the consumers are told again).
import { randomUUID } from 'node:crypto';
import { prisma, Prisma } from '../platform/db.ts';
import { outboxWrite, USER_ERASED } from './downstream-events.ts';
import { NotFoundError } from './errors.ts';
import { deleteNotificationsById, REGULATORY_NOTICE_KINDS } from './retention.ts';

export interface Erasure {
  erased: {
    devices: number;
    notifications: number;
    offers: number;
    sentEvents: number;
    preferences: number;
  };
  /** What stays, for the answer to the data subject: kept for the regulatory period. */
  kept: {
    consents: number;
    deployments: number;
    regulatoryNotices: number;
    /** Events not yet published: they go with their day's partition once sent and past EVENTS_RETENTION_DAYS. */
    unsentEvents: number;
  };
  /** The user.erased event's sequence: each consumer of the events erases what it holds of the user. */
  erasureEventSequence: number;
}

const count = (rows: { n: number }[]) => rows[0]?.n ?? 0;

export async function eraseUserData(userId: string, correlationId: string = randomUUID()): Promise<Erasure | NotFoundError> {
  return prisma.$transaction(async (tx) => {
    const users = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM users WHERE id = ${userId} FOR UPDATE`;
    if (users.length === 0) return new NotFoundError(`no user ${userId}`);
    const kinds = [...REGULATORY_NOTICE_KINDS];
    const ordinary = await tx.$queryRaw<{ id: string }[]>`
      SELECT id::text FROM notifications WHERE user_id = ${userId} AND NOT (kind = ANY(${kinds}::notification_kind[]))`;
    const notifications = await deleteNotificationsById(tx, ordinary.map((r) => r.id));
    const devices = await tx.$executeRaw`DELETE FROM devices WHERE user_id = ${userId}`;
    // Offers never accepted, and not named by a notice that stays or a limit change (a regulatory trail).
    const offers = await tx.$executeRaw`
      DELETE FROM credit_offers o WHERE o.user_id = ${userId}
         AND NOT EXISTS (SELECT 1 FROM credit_deployments d WHERE d.offer_id = o.id)
         AND NOT EXISTS (SELECT 1 FROM acceptance_consents c WHERE c.offer_id = o.id)
         AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.offer_id = o.id)
         AND NOT EXISTS (SELECT 1 FROM limit_changes l WHERE l.offer_id = o.id)`;
    const sentEvents = await tx.$executeRaw`DELETE FROM outbox_events WHERE user_id = ${userId} AND sent_at IS NOT NULL`;
    const preferences =
      (await tx.$executeRaw`DELETE FROM notification_preferences WHERE user_id = ${userId}`) +
      (await tx.$executeRaw`DELETE FROM notification_channel_settings WHERE user_id = ${userId}`);
    await tx.$executeRaw`UPDATE users SET locale = NULL WHERE id = ${userId}`;
    // The consumers of the events hold copies of what they received (the insights consumer, a
    // user's credit history): told in the same transaction, through the outbox, in the user's sequence.
    const [told] = await tx.$queryRaw<{ sequence: number }[]>`
      WITH ${outboxWrite({ type: USER_ERASED, userId, correlationId, occurredAt: new Date(), data: Prisma.sql`'{}'::jsonb` })}
      SELECT sequence FROM event_outbox`;
    const kept = {
      consents: count(await tx.$queryRaw`SELECT count(*)::int AS n FROM acceptance_consents WHERE user_id = ${userId}`),
      deployments: count(await tx.$queryRaw`SELECT count(*)::int AS n FROM credit_deployments WHERE user_id = ${userId}`),
      regulatoryNotices: count(await tx.$queryRaw`SELECT count(*)::int AS n FROM notifications WHERE user_id = ${userId}`),
      unsentEvents: count(await tx.$queryRaw`SELECT count(*)::int AS n FROM outbox_events WHERE user_id = ${userId}`),
    };
    return { erased: { devices, notifications, offers, sentEvents, preferences }, kept, erasureEventSequence: told!.sequence };
  });
}
