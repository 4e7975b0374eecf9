// Downstream events (docs/events.md): the versioned envelope, and the outbox write that goes into
// the transaction of each change it reports, so nothing is published that did not commit and
// nothing that committed is lost.
import { Prisma } from '../platform/db.ts';
import { newRowId } from './ids.ts';

/**
 * Each type's payload version, raised on any change to it; consumers read `version` before `data`.
 * credit.limit.changed is at 2 (changeType, history id, effective time; more reasons): the relay
 * publishes what the outbox holds, so version 1 rows written before still go out as version 1.
 */
export const EVENT_VERSION = 1;
export const LIMIT_CHANGED_VERSION = 2;

export const CREDIT_LIMIT_CHANGED = 'credit.limit.changed';
export const CREDIT_OFFER_EXPIRED = 'credit.offer.expired';
export const LIMIT_CHANGE_SCHEDULED = 'credit.limit.change.scheduled';
export const LIMIT_CHANGE_CANCELLED = 'credit.limit.change.cancelled';
/** A data subject's erasure (LGPD): each consumer erases the user's personal data it holds. */
export const USER_ERASED = 'user.erased';
export type CreditEventType =
  | typeof CREDIT_LIMIT_CHANGED
  | typeof CREDIT_OFFER_EXPIRED
  | typeof LIMIT_CHANGE_SCHEDULED
  | typeof LIMIT_CHANGE_CANCELLED
  | typeof USER_ERASED;

export type CreditLimitChangeReason = 'OFFER_ACCEPTED' | 'USAGE_SYNC' | 'LIMIT_DECREASE' | 'TEMPORARY_LIMIT_ENDED';
export type LimitChangeKind = 'INCREASE' | 'DECREASE' | 'TEMPORARY_START' | 'TEMPORARY_END';

/** Version 2 of credit.limit.changed's data: version 1's, and what kind of change it was. */
export interface CreditLimitChangedDataV2 extends CreditLimitChangedData {
  /** Null for a usage sync (the limit stayed). */
  changeType: LimitChangeKind | null;
  /** The id of the change in the service's history (User.creditHistory). */
  historyId: string;
  /** When the change took effect. */
  effectiveAt: string;
  decreaseReason: string | null;
  /** The scheduled change applied (a decrease, a temporary end), if one was. */
  limitChangeId: string | null;
  /** Until when the new limit holds (a temporary increase), else null. */
  temporaryUntil: string | null;
}

export interface LimitChangeScheduledData {
  changeId: string;
  changeType: LimitChangeKind;
  decreaseReason: string | null;
  currency: string;
  newLimitCents: string;
  effectiveAt: string;
}

export interface LimitChangeCancelledData {
  changeId: string;
  changeType: LimitChangeKind;
  /** REQUESTED (the engine cancelled it), SUPERSEDED (a later decision of the engine or the user replaced it). */
  cancelledBecause: 'REQUESTED' | 'SUPERSEDED';
}

/** Amounts are integer minor units written as decimal strings: exact beyond 2^53, never floats. */
export interface CreditLimitChangedData {
  reason: CreditLimitChangeReason;
  currency: string;
  /** Null when the user had no credit line before. */
  previousLimitCents: string | null;
  newLimitCents: string;
  availableCents: string;
  usedCents: string;
  interestRateBps: number;
  offerId: string | null;
  deploymentId: string | null;
}

export interface CreditOfferExpiredData {
  offerId: string;
  limitCents: string;
  currency: string;
  interestRateBps: number;
}

export interface EventEnvelope<Type extends string = string, Data = unknown> {
  /** The consumers' idempotency key. */
  id: string;
  type: Type;
  version: number;
  occurredAt: string;
  userId: string;
  /** 1, 2, 3 ... per user, no gaps, in the order the changes committed. */
  sequence: number;
  correlationId: string;
  data: Data;
}

export type CreditEvent =
  | EventEnvelope<typeof CREDIT_LIMIT_CHANGED, CreditLimitChangedData | CreditLimitChangedDataV2>
  | EventEnvelope<typeof CREDIT_OFFER_EXPIRED, CreditOfferExpiredData>
  | EventEnvelope<typeof LIMIT_CHANGE_SCHEDULED, LimitChangeScheduledData>
  | EventEnvelope<typeof LIMIT_CHANGE_CANCELLED, LimitChangeCancelledData>
  | EventEnvelope<typeof USER_ERASED, Record<string, never>>;

export interface OutboxWrite {
  type: CreditEventType;
  userId: string;
  correlationId: string;
  occurredAt: Date;
  /** A jsonb expression: the event's `data`. It may read the relations in `from`. */
  data: Prisma.Sql;
  /** Relations (earlier CTEs) that `data` and `when` read, e.g. `p`. */
  from?: Prisma.Sql;
  /** Write the event only when this holds (a SQL boolean over `from`). */
  when?: Prisma.Sql;
  /** The payload's version: the type's current one (LIMIT_CHANGED_VERSION for credit.limit.changed). */
  version?: number;
  /** The event's id, when the caller needs it beforehand (a history row named after it). */
  id?: string;
}

/** A timestamp column as an event writes times: ISO 8601 in UTC to the millisecond, as Date.toISOString(). */
export const isoText = (column: Prisma.Sql) => Prisma.sql`to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * What the outbox stores of an event: the envelope's fields that have no column of their own
 * (version, correlationId, data). The id, type, occurredAt, userId and sequence are the row's
 * columns, and the relay puts them back (`outbox.ts`): the same envelope, 212 bytes less on disk
 * per event (bench/README.md, Growth). Rows written before hold the whole envelope, published as
 * they are.
 */
export const storedEnvelope = (version: Prisma.Sql, correlationId: Prisma.Sql, data: Prisma.Sql) =>
  Prisma.sql`jsonb_build_object('version', ${version}, 'correlationId', ${correlationId}, 'data', ${data})`;

/** The version the service writes of a type. */
export const versionOf = (type: CreditEventType) => (type === CREDIT_LIMIT_CHANGED ? LIMIT_CHANGED_VERSION : EVENT_VERSION);

/**
 * Two CTEs, `event_sequence` and `event_outbox`, to put in the WITH of the statement that makes
 * the change: they take the user's next event sequence and write the event to the outbox, in the
 * same round trip. The user's row lock orders the sequence by commit: an event of a user never
 * commits after one with a greater sequence.
 */
export function outboxWrite(event: OutboxWrite): Prisma.Sql {
  const id = event.id ?? newRowId();
  const version = event.version ?? versionOf(event.type);
  const from = event.from ? Prisma.sql`, ${event.from}` : Prisma.empty;
  const when = event.when ?? Prisma.sql`true`;
  return Prisma.sql`
    event_sequence AS (
      UPDATE users SET last_event_sequence = last_event_sequence + 1
       WHERE id = ${event.userId} AND EXISTS (SELECT 1 FROM (SELECT 1) one ${from} WHERE ${when})
      RETURNING last_event_sequence AS sequence),
    event_outbox AS (
      INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
      SELECT ${id}::uuid, ${event.userId}, event_sequence.sequence, ${event.type}, ${event.occurredAt},
             ${storedEnvelope(Prisma.sql`${version}::int`, Prisma.sql`${event.correlationId}::text`, event.data)}
        FROM event_sequence ${from}
      RETURNING sequence)`;
}

/**
 * The outbox CTEs of the limit changes made by deployments, one per row of a relation `input`
 * of the statement (one row per user), with the columns id (the deployment), user_id, offer_id,
 * currency, limit_cents, available_cents, used_cents, rate, event_previous_limit_cents (null when
 * the user had no credit line before), correlation_id and outbox_id (the event's id). As
 * outboxWrite: each user's next sequence, taken under the user's row lock, in the same round trip.
 */
export function limitChangedByDeployments(occurredAt: Date): Prisma.Sql {
  return Prisma.sql`
    event_sequence AS (
      UPDATE users u SET last_event_sequence = u.last_event_sequence + 1
        FROM input i WHERE u.id = i.user_id
      RETURNING u.id AS user_id, u.last_event_sequence AS sequence),
    event_outbox AS (
      INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
      SELECT i.outbox_id, i.user_id, s.sequence, ${CREDIT_LIMIT_CHANGED}, ${occurredAt},
             ${storedEnvelope(Prisma.sql`${LIMIT_CHANGED_VERSION}::int`, Prisma.sql`i.correlation_id`, Prisma.sql`jsonb_build_object(
                                  'reason', 'OFFER_ACCEPTED'::text, 'currency', i.currency::text,
                                  'previousLimitCents', i.event_previous_limit_cents::text, 'newLimitCents', i.limit_cents::text,
                                  'availableCents', i.available_cents::text, 'usedCents', i.used_cents::text,
                                  'interestRateBps', i.rate, 'offerId', i.offer_id::text, 'deploymentId', i.id::text,
                                  -- version 2: the history id is the deployment's (credit_line_changes, deployment-limit-terms.ts)
                                  'changeType', CASE WHEN offer.temporary_until IS NULL THEN 'INCREASE' ELSE 'TEMPORARY_START' END,
                                  'historyId', i.id::text, 'effectiveAt', ${occurredAt.toISOString()}::text, 'decreaseReason', NULL::text,
                                  'limitChangeId', NULL::text,
                                  'temporaryUntil', ${isoText(Prisma.sql`offer.temporary_until`)})`)}
        FROM input i JOIN event_sequence s ON s.user_id = i.user_id JOIN credit_offers offer ON offer.id = i.offer_id
      RETURNING sequence)`;
}
