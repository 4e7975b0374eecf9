// FCM_API_URL: pushes go to an FCM-compatible endpoint (here the fake FCM) through the real
// firebase-admin, and the service account's OAuth token step goes to its token_uri (a local token
// endpoint that checks the signed assertion); refused in production unless said explicitly.
import { createVerify, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/platform/config.ts';
import { firebasePush } from '../src/push/firebase.ts';
import { fcmMessage } from '../src/push/push-sender.ts';
import { pushSettings } from '../src/settings.ts';
import { FakeFcm } from './support/fake-fcm.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const fcm = new FakeFcm();
const assertions: Record<string, any>[] = [];
let tokenServer: Server;
let tokenUri = '';

beforeAll(async () => {
  await fcm.start();
  tokenServer = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk));
    req.on('end', () => {
      const assertion = new URLSearchParams(raw).get('assertion') ?? '';
      const [header, claims, signature] = assertion.split('.');
      const valid = createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, Buffer.from(signature ?? '', 'base64url'));
      if (!valid) {
        res.writeHead(401).end();
        return;
      }
      assertions.push(JSON.parse(Buffer.from(claims!, 'base64url').toString()));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'staging-access-token', expires_in: 3600, token_type: 'Bearer' }));
    });
  });
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
  tokenUri = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`;
});
afterAll(async () => {
  await fcm.close();
  await new Promise((resolve) => tokenServer.close(resolve));
});

const stagingKey = () =>
  JSON.stringify({
    type: 'service_account',
    project_id: 'credit-staging',
    client_email: 'push@credit-staging.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    token_uri: tokenUri,
  });

describe('FCM_API_URL', () => {
  it('sends through the real firebase-admin to the stand-in, with a token from the key’s token_uri', async () => {
    const config = parseConfig({
      NODE_ENV: 'test',
      FCM_PROJECT_ID: 'credit-staging',
      FCM_SERVICE_ACCOUNT_JSON: stagingKey(),
      FCM_API_URL: `http://127.0.0.1:${fcm.listeningPort}`,
    });
    const push = firebasePush(pushSettings(config))!;
    try {
      const message = { notificationId: 'n-staging', kind: 'OFFER_RECEIVED', title: 'T', body: 'B', deepLink: 'app://credit/offers/o', collapseKey: 'offer-o', badge: 1, timeSensitive: false, expiresAt: null };
      const name = await push.messaging.send(fcmMessage('staging-device', message));
      expect(name).toMatch(/^projects\/.+\/messages\/\d+$/);
      const [request] = fcm.requestsFor('n-staging');
      expect(request).toMatchObject({ method: 'POST', path: '/v1/projects/credit-staging/messages:send' });
      expect(request!.headers.authorization).toBe('Bearer staging-access-token');
      expect(assertions.at(-1)).toMatchObject({ iss: 'push@credit-staging.iam.gserviceaccount.com', aud: tokenUri, scope: 'https://www.googleapis.com/auth/firebase.messaging' });
    } finally {
      await push.close();
    }
  });

  it('is refused in production unless said explicitly', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48), CONSENT_HMAC_KEY: 'k'.repeat(48), FCM_API_URL: 'https://fcm-double.staging.internal' };
    expect(() => parseConfig(production)).toThrow(/FCM_API_URL: pushes would go to a stand-in/);
    expect(parseConfig({ ...production, FCM_API_URL_IN_PRODUCTION: 'true' }).FCM_API_URL).toBe('https://fcm-double.staging.internal');
  });
});
