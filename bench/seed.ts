// Accepted offers written straight into the database, for the parts of the bench that need many
// QUEUED deployments but do not measure how they got there: the plain-SQL limit and the idle
// subscriptions. Rows as acceptOffer leaves them: offer ACCEPTED, deployment QUEUED with its
// QUEUED audit event (sequence 1). No job is enqueued for them.
import type pg from 'pg';

export interface SeededDeployment {
  id: string;
  userId: string;
}

/** `userIds[i]` owns the i-th deployment; repeat an id to give one user several. */
export async function seedQueuedDeployments(db: pg.Pool, userIds: string[]): Promise<SeededDeployment[]> {
  const { rows } = await db.query<SeededDeployment>(
    `WITH wanted AS (SELECT u AS user_id, gen_random_uuid() AS offer_id, gen_random_uuid() AS deployment_id,
                            gen_random_uuid()::text AS correlation_id, ord
                       FROM unnest($1::text[]) WITH ORDINALITY AS t(u, ord)),
          users AS (INSERT INTO users (id) SELECT DISTINCT user_id FROM wanted ON CONFLICT DO NOTHING),
          offers AS (INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, accepted_at)
                     SELECT offer_id, user_id, 150000, 250, 'BRL', 'ACCEPTED', now() + interval '1 day', now() FROM wanted),
          deployments AS (INSERT INTO credit_deployments (id, offer_id, user_id, currency, new_limit_cents, correlation_id, last_sequence, status)
                          SELECT deployment_id, offer_id, user_id, 'BRL', 150000, correlation_id, 1, 'QUEUED' FROM wanted),
          events AS (INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
                     SELECT deployment_id, 1, 'QUEUED', 'QUEUED', correlation_id, jsonb_build_object('offerId', offer_id) FROM wanted)
     SELECT deployment_id AS id, user_id AS "userId" FROM wanted ORDER BY ord`,
    [userIds],
  );
  return rows;
}

/**
 * PENDING offers as issueCreditOffer leaves them (the user created if new, the offer row), one
 * per entry of `userIds`, in that order: the set-up of the open loop, which times accepts only.
 */
export async function seedPendingOffers(db: pg.Pool, userIds: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH wanted AS (SELECT u AS user_id, gen_random_uuid() AS offer_id, ord FROM unnest($1::text[]) WITH ORDINALITY AS t(u, ord)),
          users AS (INSERT INTO users (id) SELECT DISTINCT user_id FROM wanted ON CONFLICT DO NOTHING),
          offers AS (INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at)
                     SELECT offer_id, user_id, 150000, 250, 'BRL', 'PENDING', now() + interval '1 hour' FROM wanted)
     SELECT offer_id AS id FROM wanted ORDER BY ord`,
    [userIds],
  );
  return rows.map((r) => r.id);
}
