// Figure 4: the database's own limit. What one deployment writes (src/domain/deployments.ts: the
// apply with its audit events, the downstream event's outbox row and the notification it creates;
// and the notification's delivery, src/domain/notification-delivery.ts, for a user who is not in
// the app with push off: a SKIPPED push recorded, the notification settled FAILED), done as one
// hand-written transaction per deployment over plain pg: no GraphQL, no queue, no ORM, one commit
// per deployment. The bench compares the rows each table gained per deployment here and in the
// service's drain (bench/row-counts.ts): a difference means this loop is out of step with the service.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { SeededDeployment } from './seed.ts';
import { since } from './stats.ts';

export interface SqlLimitResult {
  connections: number;
  transactions: number;
  seconds: number;
  transactionsPerSecond: number;
}

interface Locked {
  user_id: string;
  currency: string;
  new_limit_cents: string;
  queued_at: Date;
  correlation_id: string;
  offer_id: string;
  offer_status: string;
  interest_rate_bps: number;
  locale: string | null;
}

/** The deployment row locked (as lockDeployment does), the offer and the user's locale read, in one statement. */
const LOCK_DEPLOYMENT = `SELECT d.user_id, d.currency, d.new_limit_cents, d.queued_at, d.correlation_id,
       o.id AS offer_id, o.status::text AS offer_status, o.interest_rate_bps, u.locale
  FROM credit_deployments d JOIN credit_offers o ON o.id = d.offer_id JOIN users u ON u.id = d.user_id
 WHERE d.id = $1 FOR UPDATE OF d`;

/** Same statement as lockProfile: creates the profile on the first deployment, locks it. */
const LOCK_PROFILE = `INSERT INTO credit_profiles (user_id, currency, limit_cents, used_cents, available_cents, interest_rate_bps, version, updated_at)
VALUES ($1, $2, 0, 0, 0, $3, 0, now())
ON CONFLICT (user_id) DO UPDATE SET updated_at = credit_profiles.updated_at
RETURNING limit_cents, used_cents, currency, version`;

const UPDATE_PROFILE = `UPDATE credit_profiles SET currency = $2, limit_cents = $3, available_cents = $4, interest_rate_bps = $5,
       version = version + 1, last_limit_change_at = $6, updated_at = $6
 WHERE user_id = $1 RETURNING version`;

/** PROCESSING_STARTED, PROFILE_UPDATED and DEPLOYED change the deployment together: one update. */
const FINISH_DEPLOYMENT = `UPDATE credit_deployments SET status = 'DEPLOYED', attempts = attempts + 1,
       started_at = coalesce(started_at, $2), previous_limit_cents = $3, completed_at = $2, processing_ms = $4,
       last_sequence = last_sequence + 3
 WHERE id = $1 RETURNING last_sequence`;

const INSERT_EVENTS = `INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail) VALUES
  ($1, $2::int - 2, 'PROCESSING_STARTED', 'PROCESSING', $3, NULL),
  ($1, $2::int - 1, 'PROFILE_UPDATED', 'PROCESSING', $3, $4),
  ($1, $2::int, 'DEPLOYED', 'DEPLOYED', $3, NULL)`;

/** The downstream event (downstream-events.ts): the user's next event sequence and the outbox row, one statement. */
const INSERT_OUTBOX = `WITH s AS (UPDATE users SET last_event_sequence = last_event_sequence + 1 WHERE id = $1 RETURNING last_event_sequence)
INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
SELECT $2, $1, s.last_event_sequence, 'credit.limit.changed', $3, $4::jsonb FROM s`;

/** notifyDeploymentEnd: one notification per deployment end, deduplicated by its key. */
const INSERT_NOTIFICATION = `INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, deployment_id, correlation_id)
VALUES (gen_random_uuid(), $1, 'CREDIT_DEPLOYED', $2, $3, $4, md5($5)::uuid, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`;

/** recordPush with push off: the SKIPPED delivery, the push settled, the notification FAILED (it reached no one). */
const SKIP_PUSH = `WITH delivery AS (INSERT INTO notification_deliveries (notification_id, channel, status, at, reason_code)
                                VALUES ($1, 'PUSH', 'SKIPPED', $2, 'PUSH_NOT_CONFIGURED'))
UPDATE notifications SET push_settled_at = $2, status = 'FAILED' WHERE id = $1 AND status = 'PENDING'`;

/** Text of the same length as the service's (its pt-BR wording); what it says does not matter here. */
function notification(d: Locked, deploymentId: string): unknown[] {
  const amount = `R$ ${(Number(d.new_limit_cents) / 100).toFixed(2).replace('.', ',')}`;
  return [
    d.user_id,
    'Seu novo limite está disponível',
    `Seu limite de crédito agora é de ${amount}.`,
    `app://credit/deployments/${deploymentId}`,
    `CREDIT_DEPLOYED:${deploymentId}`,
    deploymentId,
    d.correlation_id,
  ];
}

/** One deployment's transaction (exported for the floors: its latency alone, one at a time). */
export async function deployOne(client: pg.PoolClient, id: string): Promise<void> {
  const now = new Date();
  await client.query('BEGIN');
  try {
    const d = (await client.query<Locked>(LOCK_DEPLOYMENT, [id])).rows[0]!;
    const profile = (await client.query(LOCK_PROFILE, [d.user_id, d.currency, d.interest_rate_bps])).rows[0];
    const limit = BigInt(d.new_limit_cents);
    const used = BigInt(profile.used_cents);
    const available = limit > used ? limit - used : 0n;
    const { version } = (await client.query(UPDATE_PROFILE, [d.user_id, d.currency, limit, available, d.interest_rate_bps, now])).rows[0];
    await client.query(`UPDATE credit_offers SET status = 'DEPLOYED' WHERE id = $1`, [d.offer_id]);
    const processingMs = Math.max(0, now.getTime() - d.queued_at.getTime());
    const { last_sequence } = (await client.query(FINISH_DEPLOYMENT, [id, now, profile.limit_cents, processingMs])).rows[0];
    const detail = { previousLimitCents: String(profile.limit_cents), newLimitCents: String(limit), availableCents: String(available), interestRateBps: d.interest_rate_bps, profileVersion: version };
    await client.query(INSERT_EVENTS, [id, last_sequence, d.correlation_id, detail]);
    const eventId = randomUUID();
    // What the outbox stores of the envelope (storedEnvelope): the rest is the row's columns.
    const envelope = {
      version: 1, correlationId: d.correlation_id,
      data: { reason: 'OFFER_ACCEPTED', currency: d.currency, previousLimitCents: profile.version === 0 ? null : String(profile.limit_cents),
              newLimitCents: String(limit), availableCents: String(available), usedCents: String(used), interestRateBps: d.interest_rate_bps,
              offerId: d.offer_id, deploymentId: id },
    };
    await client.query(INSERT_OUTBOX, [d.user_id, eventId, now, envelope]);
    const created = (await client.query<{ id: string }>(INSERT_NOTIFICATION, notification(d, id))).rows[0];
    if (created) await client.query(SKIP_PUSH, [created.id, now]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

/** Deploys every given deployment, `connections` transactions at a time, as fast as Postgres allows. */
export async function runSqlLimit(databaseUrl: string, deployments: SeededDeployment[], connections: number): Promise<SqlLimitResult> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: connections });
  // An idle client's error (the database dropped by the clean-up) must not end the run unreported.
  pool.on('error', (error) => console.error(`[bench] SQL loop connection: ${error.message}`));
  try {
    // Connect first: the limit is about transactions, not connection set-up.
    const connected = await Promise.allSettled(Array.from({ length: connections }, () => pool.connect()));
    const refused = connected.find((c) => c.status === 'rejected');
    if (refused) {
      // Released, or pool.end() below would wait for them forever.
      for (const c of connected) if (c.status === 'fulfilled') c.value.release();
      throw new Error(`the SQL loop could not open ${connections} connections (PostgreSQL's max_connections?): ${String(refused.reason)}`);
    }
    const clients = connected.map((c) => (c as PromiseFulfilledResult<pg.PoolClient>).value);
    let next = 0;
    const begin = performance.now();
    await Promise.all(
      clients.map(async (client) => {
        while (next < deployments.length) await deployOne(client, deployments[next++]!.id);
        client.release();
      }),
    );
    const seconds = since(begin) / 1000;
    return { connections, transactions: deployments.length, seconds: round(seconds), transactionsPerSecond: round(deployments.length / seconds) };
  } finally {
    await pool.end();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;
