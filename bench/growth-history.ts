// A synthetic year of a credit book, loaded set-based (INSERT ... SELECT over generate_series):
// users, offers (spread over the users by a hash of their number, so each user gets every
// status) with a realistic status mix, the deployments of the accepted ones with their audit
// trails, consents and profiles, the notifications of deployments and expiries with their
// deliveries, and the downstream events (sent). Used by the growth bench at millions of rows and
// by the plan test at a few tens of thousands. Every row looks like one the service writes.
import type pg from 'pg';

export interface HistorySize {
  users: number;
  offers: number;
}

/** The default book: 200,000 users, 2,000,000 offers (about 10 million rows in all). */
export const FULL_HISTORY: HistorySize = { users: 200_000, offers: 2_000_000 };

export const scaledHistory = (scale: number): HistorySize => ({
  users: Math.max(10, Math.round(FULL_HISTORY.users * scale)),
  offers: Math.max(100, Math.round(FULL_HISTORY.offers * scale)),
});

/** The users of the loaded history: `${USER_PREFIX}<n>`. */
export const USER_PREFIX = 'growth-u';

/** Timestamps are UTC wall times, as Prisma stores them. */
const NOW = `(now() AT TIME ZONE 'UTC')`;

/**
 * Offer statuses by `i % 100`: 3 % still PENDING (issued in the last 20 days, not due),
 * 29 % DEPLOYED and 1 % FAILED (30 % accepted), 40 % EXPIRED, 10 % DECLINED, 17 % SUPERSEDED.
 */
const OFFER_STATUS = `CASE WHEN i % 100 < 3 THEN 'PENDING' WHEN i % 100 < 32 THEN 'DEPLOYED' WHEN i % 100 < 33 THEN 'FAILED'
  WHEN i % 100 < 73 THEN 'EXPIRED' WHEN i % 100 < 83 THEN 'DECLINED' ELSE 'SUPERSEDED' END`;

async function run(client: pg.Client, sql: string, params: unknown[] = []): Promise<number> {
  const result = await client.query(sql, params);
  return result.rowCount ?? 0;
}

/** Loads the history; returns how many rows it wrote per table. */
export async function loadHistory(client: pg.Client, size: HistorySize): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  rows.users = await run(
    client,
    `INSERT INTO users (id, locale, created_at)
     SELECT '${USER_PREFIX}' || i, CASE WHEN i % 5 = 0 THEN 'en' END, ${NOW} - random() * interval '365 days'
       FROM generate_series(1, $1) i
     ON CONFLICT (id) DO NOTHING`,
    [size.users],
  );
  rows.credit_offers = await run(
    client,
    `INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, external_ref,
                                created_at, accepted_at, declined_at, expired_at)
     SELECT gen_random_uuid(), '${USER_PREFIX}' || (1 + (hashint4(i)::bigint & 2147483647) % $2), (1000 + (i * 31) % 500 * 100) * 100, 150 + i % 400, 'BRL',
            status::credit_offer_status, created + interval '30 days', 'growth-' || i, created,
            CASE WHEN status IN ('DEPLOYED', 'FAILED') THEN created + random() * interval '10 days' END,
            CASE WHEN status = 'DECLINED' THEN created + random() * interval '10 days' END,
            CASE WHEN status = 'EXPIRED' THEN created + interval '30 days' END
       FROM (SELECT i, ${OFFER_STATUS} AS status,
                    ${NOW} - CASE WHEN i % 100 < 3 THEN random() * interval '20 days'
                                  ELSE interval '31 days' + random() * interval '334 days' END AS created
               FROM generate_series(1, $1) i) g
      ORDER BY created`,
    [size.offers, size.users],
  );
  Object.assign(rows, await loadTrails(client, `LIKE '${USER_PREFIX}%'`));
  return rows;
}

/**
 * A user with `items` offers, all accepted and DEPLOYED, and as many notifications, none
 * acknowledged: the pages and the badge at their longest.
 */
export async function loadHeavyUser(client: pg.Client, userId: string, items: number): Promise<void> {
  await run(client, `INSERT INTO users (id, created_at) VALUES ($1, ${NOW} - interval '365 days')`, [userId]);
  await run(
    client,
    `INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, created_at, accepted_at)
     SELECT gen_random_uuid(), $1, 100000 + i, 300, 'BRL', 'DEPLOYED', created + interval '30 days', created, created + interval '1 minute'
       FROM (SELECT i, ${NOW} - interval '1 day' - i * (interval '360 days' / $2) AS created FROM generate_series(1, $2) i) g`,
    [userId, items],
  );
  await loadTrails(client, `= '${userId.replaceAll("'", "''")}'`);
  await run(client, `UPDATE notifications SET status = 'DELIVERED', acknowledged_at = NULL WHERE user_id = $1`, [userId]);
}

/** Everything an offer leaves behind, for the offers of the users matching `users` (a SQL condition on user_id). */
async function loadTrails(client: pg.Client, users: string): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  rows.credit_deployments = await run(
    client,
    `INSERT INTO credit_deployments (id, offer_id, user_id, status, attempts, currency, new_limit_cents, failure_code, failure_reason,
                                     acceptance_sequence, correlation_id, last_sequence, queued_at, started_at, completed_at, processing_ms)
     SELECT gen_random_uuid(), o.id, o.user_id, o.status::text::credit_deployment_status, 1, o.currency, o.limit_cents,
            CASE WHEN o.status = 'FAILED' THEN 'LIMIT_BELOW_USAGE'::deployment_failure_code END,
            CASE WHEN o.status = 'FAILED' THEN 'The offered limit is below the credit already in use' END,
            row_number() OVER (PARTITION BY o.user_id ORDER BY o.accepted_at), gen_random_uuid()::text,
            CASE WHEN o.status = 'FAILED' THEN 3 ELSE 4 END,
            o.accepted_at, o.accepted_at + interval '5 ms', o.accepted_at + interval '20 ms', 20
       FROM credit_offers o WHERE o.user_id ${users} AND o.status IN ('DEPLOYED', 'FAILED')
      ORDER BY o.accepted_at`,
  );
  // The history of each credit line (User.creditHistory), a row per deployment applied, in the
  // order a service writes them (a BRIN index on the time finds the old ones for retention).
  rows.credit_line_changes = await run(
    client,
    `INSERT INTO credit_line_changes (id, user_id, at, reason, change_type, currency, previous_limit_cents, new_limit_cents, available_cents, deployment_id)
     SELECT d.id, d.user_id, d.completed_at, 'OFFER_ACCEPTED', 'INCREASE', d.currency, NULL, d.new_limit_cents, d.new_limit_cents, d.id
       FROM credit_deployments d WHERE d.user_id ${users} AND d.status = 'DEPLOYED'
      ORDER BY d.completed_at`,
  );
  rows.deployment_events = await run(
    client,
    `INSERT INTO deployment_events (deployment_id, sequence, type, status, at, correlation_id, detail)
     SELECT d.id, s, t.type, t.status::credit_deployment_status, d.queued_at + s * interval '5 ms', d.correlation_id,
            CASE s WHEN 1 THEN jsonb_build_object('offerId', d.offer_id::text)
                   WHEN 3 THEN CASE WHEN d.status = 'DEPLOYED'
                                    THEN jsonb_build_object('previousLimitCents', NULL, 'newLimitCents', d.new_limit_cents::text,
                                                            'availableCents', d.new_limit_cents::text, 'version', 1)
                                    ELSE jsonb_build_object('failureCode', d.failure_code::text) END END
       FROM credit_deployments d, generate_series(1, d.last_sequence) s,
            LATERAL (SELECT (CASE WHEN d.status = 'FAILED' THEN ARRAY['QUEUED', 'PROCESSING_STARTED', 'FAILED']
                                  ELSE ARRAY['QUEUED', 'PROCESSING_STARTED', 'PROFILE_UPDATED', 'DEPLOYED'] END)[s] AS type,
                            (CASE WHEN d.status = 'FAILED' THEN ARRAY['QUEUED', 'PROCESSING', 'FAILED']
                                  ELSE ARRAY['QUEUED', 'PROCESSING', 'PROCESSING', 'DEPLOYED'] END)[s] AS status) t
      WHERE d.user_id ${users}`,
  );
  rows.acceptance_consents = await run(
    client,
    `INSERT INTO acceptance_consents (id, offer_id, user_id, accepted_at, ip_address, user_agent, terms, terms_hash, correlation_id)
     SELECT gen_random_uuid(), o.id, o.user_id, o.accepted_at, '203.0.113.' || (1 + o.limit_cents % 250),
            'CreditApp/4.12.0 (Android 14; Pixel 8)', t.terms, encode(sha256(convert_to(t.terms::text, 'UTF8')), 'hex'), d.correlation_id
       FROM credit_offers o JOIN credit_deployments d ON d.offer_id = o.id,
            LATERAL (SELECT jsonb_build_object('offerId', o.id::text, 'userId', o.user_id, 'limitCents', o.limit_cents::text,
                                               'currency', o.currency, 'interestRateBps', o.interest_rate_bps,
                                               'expiresAt', to_char(o.expires_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS terms) t
      WHERE o.user_id ${users}`,
  );
  rows.credit_profiles = await run(
    client,
    `INSERT INTO credit_profiles (user_id, currency, limit_cents, used_cents, available_cents, interest_rate_bps, version,
                                  applied_acceptance_sequence, last_limit_change_at, updated_at)
     SELECT DISTINCT ON (d.user_id) d.user_id, d.currency, d.new_limit_cents, d.new_limit_cents / 4, d.new_limit_cents - d.new_limit_cents / 4,
            300, d.acceptance_sequence, d.acceptance_sequence, d.completed_at, d.completed_at
       FROM credit_deployments d WHERE d.user_id ${users} AND d.status = 'DEPLOYED'
      ORDER BY d.user_id, d.acceptance_sequence DESC`,
  );
  await run(
    client,
    `UPDATE users u SET last_acceptance_sequence = n FROM (
       SELECT user_id, count(*) AS n FROM credit_deployments WHERE user_id ${users} GROUP BY user_id) d WHERE d.user_id = u.id`,
  );
  // One notification per deployment's end and per expired offer; 60 % acknowledged, the rest
  // delivered in-app and pushed (the push channel settled either way). Every table of the history
  // is written in time order, as the service writes it: a BRIN index on the time is what it is
  // in production, not a scan of every range.
  rows.notifications = await run(
    client,
    `INSERT INTO notifications (id, user_id, kind, status, title, body, deep_link, dedupe_key, deployment_id, offer_id, correlation_id,
                                created_at, push_due_at, push_settled_at, acknowledged_at)
     SELECT gen_random_uuid(), user_id, kind::notification_kind, CASE WHEN ack THEN 'ACKNOWLEDGED' ELSE 'DELIVERED' END::notification_status,
            title, body, link, md5(kind || ':' || subject)::uuid, deployment_id, offer_id, correlation_id,
            at, at + interval '30 seconds', at + interval '31 seconds', CASE WHEN ack THEN at + random() * interval '2 days' END
       FROM (SELECT d.user_id, CASE WHEN d.status = 'DEPLOYED' THEN 'CREDIT_DEPLOYED' ELSE 'CREDIT_DEPLOYMENT_FAILED' END AS kind,
                    d.id::text AS subject, d.id AS deployment_id, d.offer_id, d.correlation_id, d.completed_at AS at, random() < 0.6 AS ack,
                    'Seu novo limite de crédito está disponível' AS title,
                    'Seu limite agora é de R$ ' || (d.new_limit_cents / 100) || ',00. Toque para ver os detalhes do seu crédito.' AS body,
                    'creditapp://deployments/' || d.id AS link
               FROM credit_deployments d WHERE d.user_id ${users}
             UNION ALL
             SELECT o.user_id, 'OFFER_EXPIRED', o.id::text, NULL, o.id, 'offer-expiry-' || o.id, o.expired_at, random() < 0.6,
                    'Sua oferta de crédito expirou',
                    'A oferta de limite de R$ ' || (o.limit_cents / 100) || ',00 expirou. Fique de olho: novas ofertas podem aparecer.',
                    'creditapp://offers/' || o.id
               FROM credit_offers o WHERE o.user_id ${users} AND o.status = 'EXPIRED') n
      ORDER BY at`,
  );
  // In-app for every one; a push for half of them.
  rows.notification_deliveries = await run(
    client,
    `INSERT INTO notification_deliveries (notification_id, channel, status, at, provider_message_id)
     SELECT n.id, c.channel::notification_channel, 'SENT', n.created_at + c.after,
            CASE WHEN c.channel = 'PUSH' THEN 'projects/credit-app/messages/0:' || md5(n.id::text) END
       FROM notifications n,
            LATERAL (VALUES ('IN_APP', interval '0'), ('PUSH', interval '31 seconds')) c(channel, after)
      WHERE n.user_id ${users} AND (c.channel = 'IN_APP' OR get_byte(uuid_send(n.id), 15) % 2 = 0)`,
  );
  // The downstream events of the deployments and the expiries, all sent, in sequence per user.
  rows.outbox_events = await run(
    client,
    `INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload, sent_at)
     SELECT id, user_id, sequence, type, at,
            -- As the service stores it (storedEnvelope): the envelope's other fields are the columns.
            jsonb_build_object('version', 1, 'correlationId', correlation_id, 'data', data),
            at + interval '50 ms'
       FROM (SELECT e.*, row_number() OVER (PARTITION BY e.user_id ORDER BY e.at, e.id) AS sequence
               FROM (SELECT gen_random_uuid() AS id, d.user_id, 'credit.limit.changed' AS type, d.completed_at AS at, d.correlation_id,
                            jsonb_build_object('reason', 'OFFER_ACCEPTED', 'currency', d.currency, 'previousLimitCents', NULL,
                                               'newLimitCents', d.new_limit_cents::text, 'availableCents', d.new_limit_cents::text,
                                               'usedCents', '0', 'interestRateBps', 300, 'offerId', d.offer_id::text,
                                               'deploymentId', d.id::text) AS data
                       FROM credit_deployments d WHERE d.user_id ${users} AND d.status = 'DEPLOYED'
                     UNION ALL
                     SELECT gen_random_uuid(), o.user_id, 'credit.offer.expired', o.expired_at, 'offer-expiry-' || o.id,
                            jsonb_build_object('offerId', o.id::text, 'limitCents', o.limit_cents::text, 'currency', o.currency,
                                               'interestRateBps', o.interest_rate_bps)
                       FROM credit_offers o WHERE o.user_id ${users} AND o.status = 'EXPIRED') e) s`,
  );
  await run(
    client,
    `UPDATE users u SET last_event_sequence = n FROM (
       SELECT user_id, max(sequence) AS n FROM outbox_events WHERE user_id ${users} GROUP BY user_id) e WHERE e.user_id = u.id`,
  );
  return rows;
}

export interface LiveWork {
  /** PENDING offers already past their expiry, for the sweep. */
  dueOffers: number;
  /** Deployments still QUEUED, old enough for the reconciler. */
  unfinishedDeployments: number;
  /** Downstream events not yet sent, for the relay. */
  unsentEvents: number;
  /** Notifications still PENDING, and delivered in-app with the push overdue, for their reconciler. */
  openNotifications: number;
}

/**
 * Downstream events not yet sent, for the relay, of the users `${prefix}1..users`. `round` tells
 * one load from another (a relay timed several times gets fresh events each time).
 */
export async function loadUnsentEvents(client: pg.Client, events: number, users: number, prefix = USER_PREFIX, round = 0): Promise<void> {
  await run(
    client,
    `INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
     SELECT gen_random_uuid(), '${prefix}' || (1 + ((i + 13) * 104729) % ${users}), ${1_000_000 * (round + 1)} + i, 'credit.limit.changed',
            ${NOW} - interval '1 second', '{}'::jsonb
       FROM generate_series(1, $1) i`,
    [events],
  );
}

/** PENDING offers already past their expiry, for the sweep, of the users `${prefix}1..users`. */
export async function loadDueOffers(client: pg.Client, offers: number, users: number, prefix = USER_PREFIX): Promise<void> {
  await run(
    client,
    `INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, created_at)
     SELECT gen_random_uuid(), '${prefix}' || (1 + (i * 104729) % ${users}), 500000, 300, 'BRL', 'PENDING',
            ${NOW} - random() * interval '1 hour', ${NOW} - interval '30 days'
       FROM generate_series(1, $1) i`,
    [offers],
  );
}

/**
 * Work the periodic jobs have to find among the history: a few rows each, spread over the users
 * `${prefix}1..users` (the history's, or others on an empty database: a history loaded later
 * must not find their rows as its own).
 */
export async function loadLiveWork(client: pg.Client, work: LiveWork, users: number, prefix = USER_PREFIX): Promise<void> {
  const user = (i: string) => `'${prefix}' || (1 + (${i} * 104729) % ${users})`;
  // On an empty database, the users the work belongs to are created first (a history has them).
  await run(client, `INSERT INTO users (id) SELECT '${prefix}' || n FROM generate_series(1, $1) n ON CONFLICT (id) DO NOTHING`, [users]);
  await loadDueOffers(client, work.dueOffers, users, prefix);
  await run(
    client,
    `WITH o AS (
       INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, created_at, accepted_at)
       SELECT gen_random_uuid(), ${user('i + 7')}, 600000, 300, 'BRL', 'ACCEPTED', ${NOW} + interval '20 days', ${NOW} - interval '10 days',
              ${NOW} - interval '10 minutes'
         FROM generate_series(1, $1) i
       RETURNING id, user_id, limit_cents, accepted_at)
     INSERT INTO credit_deployments (id, offer_id, user_id, status, currency, new_limit_cents, correlation_id, last_sequence, queued_at)
     SELECT gen_random_uuid(), id, user_id, 'QUEUED', 'BRL', limit_cents, gen_random_uuid()::text, 1, accepted_at FROM o`,
    [work.unfinishedDeployments],
  );
  await loadUnsentEvents(client, work.unsentEvents, users, prefix);
  await run(
    client,
    `INSERT INTO notifications (id, user_id, kind, status, title, body, deep_link, dedupe_key, correlation_id, created_at, push_due_at)
     SELECT gen_random_uuid(), ${user('i + 17')}, 'OFFER_EXPIRED', CASE WHEN i % 2 = 0 THEN 'PENDING' ELSE 'DELIVERED' END::notification_status,
            'Sua oferta de crédito expirou', 'A oferta expirou.', 'creditapp://offers', gen_random_uuid(),
            gen_random_uuid()::text, ${NOW} - interval '10 minutes', CASE WHEN i % 2 = 1 THEN ${NOW} - interval '5 minutes' END
       FROM generate_series(1, $1) i`,
    [work.openNotifications],
  );
}
