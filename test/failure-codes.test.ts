// CreditDeployment.failureCode: the stable code of every way a deployment ends FAILED today,
// recorded with the failure, and backfilled by the migration for the FAILED rows before it.
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineToken, gql } from './support/client.ts';
import { acceptOffer, ISSUE_OFFER, issueOffer, waitForFinal } from './support/fixtures.ts';
import { userWithProfile } from './support/users.ts';
import { giveUpDeploymentJobs } from './support/give-up-jobs.ts';
import { serviceForTests, startServiceInTest } from './support/service.ts';
import { testConfig as config } from './support/settings.ts';
import { lockProfile } from './support/row-locks.ts';

// The API alone; each test runs the worker when its deployment may be processed.
const service = serviceForTests({ worker: false });

const db = new pg.Client({ connectionString: config.DATABASE_URL });
beforeAll(() => db.connect());
afterAll(() => db.end());

const SYNC = 'mutation S($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }';

/** Runs the worker (deployments, notifications, reconciler) of the service while `work` runs. */
async function withWorker<T>(work: () => Promise<T>, settings: Partial<typeof config> = {}): Promise<T> {
  const worker = await startServiceInTest({ api: false, config: { ...config, ...settings } });
  const result = await work();
  await worker.close();
  return result;
}

/** Accepts a new offer of the user and waits for its deployment's end. */
async function deployAnother(userId: string, userToken: string, input: Record<string, unknown> = {}) {
  const issued = await gql(
    service.url,
    ISSUE_OFFER,
    { input: { userId, limitCents: 200_000, interestRateBps: 250, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), ...input } },
    await engineToken(),
  );
  const offerId = issued.data.issueCreditOffer.offer.id;
  return waitForFinal(service.url, (await acceptOffer(service.url, offerId, userToken)).deployment.id, userToken);
}

describe('failureCode', () => {
  it('is LIMIT_BELOW_USAGE when the offered limit is below the credit in use', async () => {
    const deployment = await withWorker(async () => {
      const { userId, userToken } = await userWithProfile({ api: service.url }, { limitCents: 100_000 });
      await gql(service.url, SYNC, { input: { userId, usedCents: 90_000 } }, await engineToken());
      return deployAnother(userId, userToken, { limitCents: 50_000 });
    });
    expect(deployment).toMatchObject({ status: 'FAILED', failureCode: 'LIMIT_BELOW_USAGE' });
    // For people, in the user's language (pt-BR without a preference); the technical reason is for ops.
    expect(deployment.failureReason).toBe('O limite oferecido de R$ 500,00 é menor que o crédito que você já está usando.');
    expect(deployment.events.at(-1)).toMatchObject({ type: 'FAILED', detail: { code: 'LIMIT_BELOW_USAGE' } });
  });

  it('is CURRENCY_MISMATCH when the offer is in another currency than the profile', async () => {
    const deployment = await withWorker(async () => {
      const { userId, userToken } = await userWithProfile({ api: service.url }, { limitCents: 100_000 });
      return deployAnother(userId, userToken, { currency: 'USD' });
    });
    expect(deployment).toMatchObject({ status: 'FAILED', failureCode: 'CURRENCY_MISMATCH' });
    expect(deployment.failureReason).toBe('O limite de $2,000.00 está em uma moeda diferente da sua conta de crédito.');
  });

  it('is OFFER_NOT_VALID when the offer is no longer ACCEPTED when the worker comes to it', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const accepted = await acceptOffer(service.url, offerId, userToken);
    // Before any worker runs, the offer changes under the queued deployment.
    await db.query(`UPDATE credit_offers SET status = 'EXPIRED', expired_at = now() WHERE id = $1`, [offerId]);

    const deployment = await withWorker(() => waitForFinal(service.url, accepted.deployment.id, userToken));
    expect(deployment).toMatchObject({ status: 'FAILED', failureCode: 'OFFER_NOT_VALID', attempts: 1 });
    expect(deployment.failureReason).toBe('A oferta de limite de R$ 1.500,00 não era mais válida quando fomos aplicá-la.');
  });

  it('is RETRIES_EXHAUSTED when transient errors outlast the retry horizon', async () => {
    const deployment = await withWorker(
      async () => {
        const { userId, userToken } = await userWithProfile({ api: service.url }, { limitCents: 100_000 });
        const lock = await lockProfile(config.DATABASE_URL, userId);
        try {
          return await deployAnother(userId, userToken);
        } finally {
          await lock.release();
        }
      },
      { DEPLOYMENT_RETRY_HORIZON_MS: 1_500 },
    );
    expect(deployment).toMatchObject({ status: 'FAILED', failureCode: 'RETRIES_EXHAUSTED' });
    // Each attempt waits 500 ms for the lock (the test's lock_timeout): two or three fit in the
    // horizon, one on a machine slow enough; the retries it had carry the public code.
    expect(deployment.attempts).toBeGreaterThanOrEqual(1);
    expect(deployment.failureReason).toBe('Não conseguimos aplicar o limite de R$ 2.000,00 por uma instabilidade em nossos sistemas. Nada foi alterado.');
    const retries = deployment.events.filter((e: { type: string }) => e.type === 'RETRY_SCHEDULED');
    expect(retries.map((e: { detail: { code: string } }) => e.detail.code)).toEqual(retries.map(() => 'DATABASE_BUSY'));
  });

  /** A worker that loses the deployment's job for good without touching the deployment, as a crash loop would. */
  it('is none when BullMQ gave up on the job within the retry horizon: the reconciler retries it, DEPLOYED', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const deploymentId: string = (await acceptOffer(service.url, offerId, userToken)).deployment.id;
    await giveUpDeploymentJobs([deploymentId]);

    const deployment = await withWorker(() => waitForFinal(service.url, deploymentId, userToken));
    expect(deployment).toMatchObject({ status: 'DEPLOYED', failureCode: null, failureReason: null, attempts: 1 });
  });

  it('is RETRIES_EXHAUSTED when BullMQ gave up on the job and the retry horizon has passed', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const deploymentId: string = (await acceptOffer(service.url, offerId, userToken)).deployment.id;
    await giveUpDeploymentJobs([deploymentId]);

    // The reconciler (on the worker's start) finds the deployment open, its job failed, the horizon past.
    const deployment = await withWorker(() => waitForFinal(service.url, deploymentId, userToken), { DEPLOYMENT_RETRY_HORIZON_MS: 0 });
    expect(deployment).toMatchObject({ status: 'FAILED', failureCode: 'RETRIES_EXHAUSTED', attempts: 0 });
    expect(deployment.failureReason).toBe('Não conseguimos aplicar o limite de R$ 1.500,00 por uma instabilidade em nossos sistemas. Nada foi alterado.');
  });
});

describe('the migration', () => {
  const migrations = new URL('../prisma/migrations/', import.meta.url);
  const names = readdirSync(migrations).filter((name) => /^\d+_/.test(name)).sort();
  const index = names.findIndex((name) => name.endsWith('_pages_and_failure_codes'));
  const sql = (name: string) => readFileSync(new URL(`${name}/migration.sql`, migrations), 'utf8');
  const scratch = `${new URL(config.DATABASE_URL).pathname.slice(1)}_backfill`;
  const serverUrl = Object.assign(new URL(config.DATABASE_URL), { pathname: '/postgres' }).toString();

  async function onServer(statement: string) {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(statement).finally(() => client.end());
  }

  beforeAll(() => onServer(`CREATE DATABASE "${scratch}"`));
  afterAll(() => onServer(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`));

  it('backfills the code of the FAILED deployments from their reasons', async () => {
    expect(index).toBeGreaterThan(0);
    const client = new pg.Client({ connectionString: Object.assign(new URL(serverUrl), { pathname: `/${scratch}` }).toString() });
    await client.connect();
    try {
      for (const name of names.slice(0, index)) await client.query(sql(name));
      const rows: [status: string, reason: string | null, code: string | null][] = [
        ['FAILED', 'the offered limit R$ 500,00 is below the credit in use R$ 900,00', 'LIMIT_BELOW_USAGE'],
        ['FAILED', 'the offer is in USD but the credit profile is in BRL', 'CURRENCY_MISMATCH'],
        ['FAILED', 'the offer is no longer valid (it is EXPIRED)', 'OFFER_NOT_VALID'],
        ['FAILED', 'gave up after 5 attempts: the offer is no longer valid', 'RETRIES_EXHAUSTED'],
        ['FAILED', 'processing stopped: job stalled more than allowable limit', 'RETRIES_EXHAUSTED'],
        ['DEPLOYED', null, null],
        ['QUEUED', null, null],
      ];
      await client.query(`INSERT INTO users (id) VALUES ('backfill-user')`);
      for (const [status, reason] of rows) {
        await client.query(
          `WITH o AS (
             INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at)
             VALUES (gen_random_uuid(), 'backfill-user', 100000, 250, 'BRL', 'ACCEPTED', now()) RETURNING id)
           INSERT INTO credit_deployments (id, offer_id, user_id, currency, new_limit_cents, correlation_id, status, failure_reason)
           SELECT gen_random_uuid(), o.id, 'backfill-user', 'BRL', 100000, $2, $1::credit_deployment_status, $2 FROM o`,
          [status, reason ?? status],
        );
      }
      await client.query(`UPDATE credit_deployments SET failure_reason = NULL WHERE status <> 'FAILED'`);

      await client.query(sql(names[index]!));

      const { rows: after } = await client.query(`SELECT correlation_id AS key, failure_code AS code FROM credit_deployments`);
      const codeOf = new Map(after.map((row) => [row.key, row.code]));
      for (const [status, reason, code] of rows) expect([status, reason, codeOf.get(reason ?? status)]).toEqual([status, reason, code]);
    } finally {
      await client.end();
    }
  });
});
