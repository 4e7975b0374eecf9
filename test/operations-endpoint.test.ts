// An app's CI publishing its manifest over the admin port with a token of the
// operations-publisher role (no database credentials): registered, served by hash at once,
// logged with the token's subject; refused without that role, and refused whole when one
// operation is bad.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/platform/logger.ts';
import { gqlPersisted, newUserId, token } from './support/client.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const logLines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    done();
  },
});
const service = serviceForTests({ worker: false, config: { ...testConfig, GRAPHQL_ALLOW_DOCUMENTS: false, LOG_LEVEL: 'info' }, logger: createLogger('info', sink) });

const manifestText = readFileSync(new URL('./fixtures/apollo/kotlin-manifest.json', import.meta.url), 'utf8');
const manifest = JSON.parse(manifestText) as { operations: Array<{ id: string; name: string; body: string }> };

function publish(path: string, body: string, bearer?: string) {
  return fetch(`${service.adminUrl}/operations/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body,
  });
}

describe('publishing persisted operations on the admin port', () => {
  it('registers a manifest for a publisher token, logs who did it, and the operations are served', async () => {
    const response = await publish('mobile-android/4.0.0', manifestText, await token('android-ci', ['operations-publisher']));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ client: 'mobile-android', version: '4.0.0', operations: 5, added: 5, alreadyRegistered: 0 });
    expect(logLines).toContainEqual(
      expect.objectContaining({ msg: 'persisted operations registered', subject: 'android-ci', client: 'mobile-android', version: '4.0.0', operations: 5 }),
    );

    const userId = newUserId();
    const profile = manifest.operations.find((operation) => operation.name === 'MobileProfile')!;
    const served = await gqlPersisted(service.url, profile.id, {}, await token(userId));
    expect(served.data.me.id).toBe(userId);

    const again = await publish('mobile-android/4.0.0', manifestText, await token('android-ci', ['operations-publisher']));
    expect(await again.json()).toMatchObject({ added: 0, alreadyRegistered: 5 });
  });

  it('refuses tokens without the role, and bad client names, registering nothing', async () => {
    expect((await publish('mobile-android/4.1.0', manifestText)).status).toBe(401);
    expect((await publish('mobile-android/4.1.0', manifestText, await token('someone', ['ops-admin']))).status).toBe(403);
    expect((await publish('mobile-android/4.1.0', manifestText, await token('someone')).then((r) => r.status))).toBe(403);
    const badName = await publish('mobile%20android/4.1.0', manifestText, await token('android-ci', ['operations-publisher']));
    expect(badName.status).toBe(400);
    expect(logLines.some((line) => line.version === '4.1.0')).toBe(false);
  });

  it('refuses a manifest with one bad operation whole, naming it, and logs the refusal with the subject', async () => {
    const bad = structuredClone(manifest);
    bad.operations[1]!.body = bad.operations[1]!.body.replace('status', 'colour');
    bad.operations[1]!.id = createHash('sha256').update(bad.operations[1]!.body).digest('hex');
    const response = await publish('mobile-android/4.2.0', JSON.stringify(bad), await token('android-ci', ['operations-publisher']));
    expect(response.status).toBe(422);
    const body = (await response.json()) as { problems: string[] };
    expect(body.problems).toHaveLength(1);
    expect(body.problems[0]).toMatch(/^MobileOffer: Cannot query field "colour" on type "CreditOffer"/);
    expect(logLines).toContainEqual(expect.objectContaining({ msg: 'persisted operations refused', subject: 'android-ci', version: '4.2.0' }));
    const notJson = await publish('mobile-android/4.2.0', '{"format":', await token('android-ci', ['operations-publisher']));
    expect(notJson.status).toBe(400);
  });
});
