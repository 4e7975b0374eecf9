// The queue board on the admin port: opened in headless Chromium with an ops token it shows the
// three queues (a screenshot is kept in test/artifacts/); without a token, or with a customer's,
// its page and its JSON routes are refused. /manage lets ops-admin retry or remove a job, logged
// with the actor, and refuses to retry a deployment that is already final.
import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { token } from './support/client.ts';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { captureLogs } from './support/logs.ts';
import { serviceForTests } from './support/service.ts';

const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const QUEUES = ['credit-deployments', 'credit-notifications', 'credit-offer-expiry'];

const logs = captureLogs('info');
const service = serviceForTests({ logger: logs.logger });

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(() => browser?.close());

const bearer = async (userId: string, role: 'ops' | 'ops-admin' | 'customer') => ({ authorization: `Bearer ${await token(userId, [role])}` });

describe('the queue board', () => {
  it('shows the three queues to ops in a browser, after signing in with a token', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${service.adminUrl}/login`);
    await page.fill('input[name=token]', await token('alice.ops', ['ops']));
    await page.click('button[type=submit]');
    await page.waitForURL(`${service.adminUrl}/board**`);
    for (const queue of QUEUES) await page.getByText(queue, { exact: false }).first().waitFor();
    await page.getByText('Loading...').waitFor({ state: 'detached' });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('queue-board.png', ARTIFACTS).pathname, fullPage: true });
    await page.close();
  });

  it('is refused without a token, in the browser and on its JSON routes', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${service.adminUrl}/board`);
    expect(response?.status()).toBe(401);
    expect(await page.textContent('body')).toContain('Not signed in');
    expect(await page.getByText('credit-deployments').count()).toBe(0);
    await page.close();

    const json = await fetch(`${service.adminUrl}/board/api/queues`);
    expect(json.status).toBe(401);
    const customer = await fetch(`${service.adminUrl}/board/api/queues`, { headers: await bearer('bob', 'customer') });
    expect(customer.status).toBe(403);
    const ops = await fetch(`${service.adminUrl}/board/api/queues`, { headers: await bearer('alice.ops', 'ops') });
    expect(ops.status).toBe(200);
    const body = (await ops.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(QUEUES);
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('lets ops-admin remove a job (logged with the sub), never ops; a final deployment is not retried', async () => {
    const offer = await issueOffer(service.url);
    const id = (await acceptOffer(service.url, offer.offerId, offer.userToken)).deployment.id as string;
    expect((await waitForFinal(service.url, id, offer.userToken)).status).toBe('DEPLOYED');
    const job = `${service.adminUrl}/manage/api/queues/credit-deployments/${id}`;
    const readJob = async () => fetch(`${service.adminUrl}/board/api/queues/credit-deployments/${id}`, { headers: await bearer('alice.ops', 'ops') });
    expect((await readJob()).status).toBe(200);

    const asOps = await fetch(`${job}/retry`, { method: 'PUT', headers: await bearer('alice.ops', 'ops') });
    expect(asOps.status).toBe(403);
    const retry = await fetch(`${job}/retry`, { method: 'PUT', headers: await bearer('carol.admin', 'ops-admin') });
    expect(retry.status).toBe(409);
    expect(((await retry.json()) as { error: string }).error).toContain('already DEPLOYED');
    const empty = await fetch(`${service.adminUrl}/manage/api/queues/credit-deployments/empty`, { method: 'PUT', headers: await bearer('carol.admin', 'ops-admin') });
    expect(empty.status).toBe(403);

    const remove = await fetch(`${job}/clean`, { method: 'PUT', headers: await bearer('carol.admin', 'ops-admin') });
    expect(remove.status).toBeLessThan(300);
    expect((await readJob()).status).toBe(404);
    expect(logs.entries).toContainEqual(expect.objectContaining({ msg: 'board action', actor: 'carol.admin', action: 'remove', jobId: id }));
    expect(logs.entries).toContainEqual(expect.objectContaining({ msg: 'board action refused', actor: 'carol.admin', action: 'retry', jobId: id }));
  });
});
