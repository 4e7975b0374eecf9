// PostgreSQL going away under deployments in flight (a managed failover takes 10 to 60 s): no
// deployment ends FAILED, each is applied exactly once when the database is back.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/platform/config.ts';
import { engineToken, gql, token, wsSubscribe } from '../support/client.ts';
import { DEPLOYMENT } from '../support/fixtures.ts';
import { MY_NOTIFICATIONS, reader } from '../support/notification-fixtures.ts';
import { waitUntil } from '../support/wait.ts';
import { acceptMany, delay, pendingOffer, deploymentsInFlight, expectAllDeployedOnce, faultClusterForTests, unfinished, waitAllFinal, withRetries } from './cluster.ts';

const cluster = faultClusterForTests();
// The figure; FAULT_DEPLOYMENTS scales it for a quick local run.
const DEPLOYMENTS = Number(process.env.FAULT_DEPLOYMENTS ?? 300);
const STREAM = 'subscription S($id: ID!, $afterSequence: Int) { creditDeployment(id: $id, afterSequence: $afterSequence) { sequence type status } }';

describe('PostgreSQL outages with deployments in flight', () => {
  it('stopped for 15 s: all DEPLOYED after it returns, each applied once, the outage recorded as RETRY_SCHEDULED', { timeout: 180_000 }, async () => {
    const accepted = await deploymentsInFlight(cluster, DEPLOYMENTS);
    const before = await unfinished(cluster.db, accepted);
    cluster.postgres.stop('fast');
    expect(before).toBeGreaterThanOrEqual(200);
    await delay(15_000);
    await cluster.postgres.start();

    await waitAllFinal(cluster.db, accepted);
    await expectAllDeployedOnce(cluster.db, accepted);
    expect(await withRetries(cluster.db, accepted)).toBeGreaterThanOrEqual(100);
  });

  it('restarted (fast shutdown) mid-flight: all DEPLOYED, each applied once', { timeout: 180_000 }, async () => {
    const accepted = await deploymentsInFlight(cluster, DEPLOYMENTS);
    expect(await unfinished(cluster.db, accepted)).toBeGreaterThanOrEqual(200);
    await cluster.postgres.restart('fast');

    await waitAllFinal(cluster.db, accepted);
    await expectAllDeployedOnce(cluster.db, accepted);
  });

  it('killed (SIGKILL, crash recovery on start) mid-flight: all DEPLOYED, each applied once', { timeout: 180_000 }, async () => {
    const accepted = await deploymentsInFlight(cluster, DEPLOYMENTS);
    expect(await unfinished(cluster.db, accepted)).toBeGreaterThanOrEqual(200);
    cluster.postgres.kill();
    await delay(2_000);
    await cluster.postgres.start();

    await waitAllFinal(cluster.db, accepted);
    await expectAllDeployedOnce(cluster.db, accepted);
  });

  it('while it is down, every operation answers UNAVAILABLE within a second and /ready is 503; a live stream delivers again after', { timeout: 120_000 }, async () => {
    await cluster.stopWorkers();
    const [queued] = await acceptMany(cluster, 1);
    const [other] = await acceptMany(cluster, 1);
    const pending = await pendingOffer(cluster.db, other!.userId);
    const userToken = await token(queued!.userId);
    const stream = reader(wsSubscribe(cluster.url, STREAM, { id: queued!.deploymentId, afterSequence: 0 }, userToken));
    expect((await stream.next()).data.creditDeployment).toMatchObject({ sequence: 1, type: 'QUEUED' });

    cluster.postgres.stop('fast');
    try {
      const engine = await engineToken();
      const future = new Date(Date.now() + 3_600_000).toISOString();
      const operations: [string, string, Record<string, unknown>, string][] = [
        ['me', '{ me { id creditProfile { version } offers { id } notifications { id } } }', {}, userToken],
        ['creditDeployment', 'query Q($id: ID!) { creditDeployment(id: $id) { id status } }', { id: queued!.deploymentId }, userToken],
        ['creditOffer', 'query Q($id: ID!) { creditOffer(id: $id) { id status } }', { id: other!.offerId }, await token(other!.userId)],
        ['issueCreditOffer', 'mutation M($input: IssueCreditOfferInput!) { issueCreditOffer(input: $input) { __typename } }',
          { input: { userId: queued!.userId, limitCents: 1000, interestRateBps: 1, expiresAt: future } }, engine],
        ['syncCreditUsage', 'mutation M($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }',
          { input: { userId: queued!.userId, usedCents: 1 } }, engine],
        ['acceptOffer', 'mutation M($id: ID!) { acceptOffer(offerId: $id) { __typename } }', { id: pending }, await token(other!.userId)],
        ['declineOffer', 'mutation M($id: ID!) { declineOffer(offerId: $id) { __typename } }', { id: pending }, await token(other!.userId)],
        ['acknowledgeNotification', 'mutation M($id: ID!) { acknowledgeNotification(id: $id) { __typename } }', { id: queued!.offerId }, userToken],
        ['registerDevice', 'mutation M { registerDevice(token: "fault-device-token-0123456789", platform: ANDROID) { __typename } }', {}, userToken],
      ];
      for (const [name, query, variables, bearer] of operations) {
        const startedAt = Date.now();
        const result = await gql(cluster.url, query, variables, bearer);
        const ms = Date.now() - startedAt;
        expect({ name, ms: ms < 1_000, result }).toEqual({ name, ms: true, result });
        expect({ name, status: result.status, codes: result.errors?.map((e) => e.extensions?.code) }).toEqual({ name, status: 503, codes: ['UNAVAILABLE'] });
        expect(JSON.stringify(result)).not.toMatch(/stack|prisma|ECONNREFUSED|SQLSTATE/i);
      }
      expect((await fetch(`${cluster.url}/ready`)).status).toBe(503);
    } finally {
      await cluster.postgres.start();
    }

    // Nothing was half done: the offer accepted and declined during the outage is still PENDING.
    const { rows } = await cluster.db.query('SELECT status::text AS status FROM credit_offers WHERE id = $1', [pending]);
    expect(rows[0].status).toBe('PENDING');
    await waitUntil(() => fetch(`${cluster.url}/ready`).then((r) => r.ok), '/ready after the outage');
    cluster.startWorkers();
    const seen: string[] = [];
    for (;;) {
      const update = (await stream.next()).data.creditDeployment;
      seen.push(update.type);
      if (update.type === 'DEPLOYED') break;
    }
    expect(seen.at(-1)).toBe('DEPLOYED');
    await stream.close();
  });

  it('past the retry horizon (3 s), down for 10 s: the first attempt after it returns ends FAILED with RETRIES_EXHAUSTED, public text only', { timeout: 180_000 }, async () => {
    const accepted = await deploymentsInFlight(cluster, 100, { DEPLOYMENT_RETRY_HORIZON_MS: '3000' });
    cluster.postgres.stop('fast');
    await delay(10_000);
    await cluster.postgres.start();
    await waitAllFinal(cluster.db, accepted);

    const { rows } = await cluster.db.query(
      `SELECT d.id, d.user_id AS "userId", d.status::text AS status, d.failure_code::text AS code, o.status::text AS "offerStatus",
              (SELECT count(*)::int FROM deployment_events e WHERE e.deployment_id = d.id AND e.type = 'PROFILE_UPDATED') AS applied,
              (SELECT coalesce(max(version), 0) FROM credit_profiles p WHERE p.user_id = d.user_id) AS version,
              (SELECT array_agg(n.kind::text) FROM notifications n WHERE n.deployment_id = d.id) AS notifications
         FROM credit_deployments d JOIN credit_offers o ON o.id = d.offer_id WHERE d.id = ANY($1::uuid[])`,
      [accepted.map((a) => a.deploymentId)],
    );
    const failed = rows.filter((r) => r.status === 'FAILED');
    expect(failed.length).toBeGreaterThanOrEqual(50);
    // Nothing else: those that finished before the outage are DEPLOYED; none half done.
    expect(rows.filter((r) => r.status !== 'FAILED' && r.status !== 'DEPLOYED')).toEqual([]);
    for (const r of failed) {
      expect(r).toMatchObject({ code: 'RETRIES_EXHAUSTED', offerStatus: 'FAILED', applied: 0, version: 0, notifications: ['CREDIT_DEPLOYMENT_FAILED'] });
    }

    // What the customer sees: public words only, in their language.
    const forbidden = [/prisma/i, /Invalid `/, /SQLSTATE/i, /ECONNREFUSED/, ...Object.keys(parseConfig({ NODE_ENV: 'test' })).map((name) => new RegExp(name))];
    for (const r of failed.slice(0, 5)) {
      const userToken = await token(r.userId, ['customer'], { locale: 'en' });
      const deployment = (await gql(cluster.url, DEPLOYMENT, { id: r.id }, userToken)).data.creditDeployment;
      expect(deployment.failureReason).toMatch(/^We couldn't apply the R\$ [\d,.]+ limit because of trouble on our side\. Nothing was changed\.$/);
      expect(deployment.events.at(-1)).toMatchObject({ type: 'FAILED', detail: { code: 'RETRIES_EXHAUSTED' } });
      const notifications = (await gql(cluster.url, MY_NOTIFICATIONS, {}, userToken)).data.me.notifications;
      const seen = JSON.stringify({ deployment, notifications });
      for (const word of forbidden) expect(seen).not.toMatch(word);
    }
  });
});
