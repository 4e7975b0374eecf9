// PostgreSQL going away under deployments in flight (a managed failover takes 10 to 60 s): no
// deployment ends FAILED, each is applied exactly once when the database is back.
import { describe, expect, it } from 'vitest';
import { delay, deploymentsInFlight, expectAllDeployedOnce, faultClusterForTests, unfinished, waitAllFinal, withRetries } from './cluster.ts';

const cluster = faultClusterForTests();
const DEPLOYMENTS = 300;

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
});
