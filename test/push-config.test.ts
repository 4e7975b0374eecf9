// Push settings: on with a project id and a service account, off without, and a half-done
// setup is an error at start rather than push silently off.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/platform/config.ts';
import { firebasePush } from '../src/push/firebase.ts';
import { pushSettings } from '../src/settings.ts';

// A real key (firebase-admin parses it at start); no token is ever requested with it here.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY = JSON.stringify({
  type: 'service_account',
  project_id: 'credit-app',
  client_email: 'push@credit-app.iam.gserviceaccount.com',
  private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
});

describe('push settings', () => {
  it('are off by default, with defaults for the timings', () => {
    const config = parseConfig({ NODE_ENV: 'test' });
    expect(config).toMatchObject({ PUSH_FALLBACK_AFTER_MS: 30_000, OFFER_EXPIRY_INTERVAL_MS: 60_000, PUSH_ATTEMPTS: 5 });
    expect(firebasePush(pushSettings(config))).toBeNull();
  });

  it('refuse a project id without a service account', () => {
    expect(() => parseConfig({ NODE_ENV: 'test', FCM_PROJECT_ID: 'credit-app' })).toThrow(/FCM_PROJECT_ID: push needs a service account/);
  });

  it('refuse inline JSON that is not a service account key', () => {
    expect(() => parseConfig({ NODE_ENV: 'test', FCM_PROJECT_ID: 'credit-app', FCM_SERVICE_ACCOUNT_JSON: '{"project_id": "x"}' })).toThrow(
      /FCM_SERVICE_ACCOUNT_JSON: must be a service account key/,
    );
    expect(() => parseConfig({ NODE_ENV: 'test', FCM_SERVICE_ACCOUNT_JSON: 'not json' })).toThrow(/FCM_SERVICE_ACCOUNT_JSON: must be the JSON/);
  });

  it('turn push on with a project id and an inline service account', async () => {
    const push = firebasePush(pushSettings(parseConfig({ NODE_ENV: 'test', FCM_PROJECT_ID: 'credit-app', FCM_SERVICE_ACCOUNT_JSON: KEY })));
    expect(push).not.toBeNull();
    expect(push!.messaging.app.options.projectId).toBe('credit-app');
    await push!.close();
  });

  it('stop the start when the service account cannot be used', () => {
    const broken = JSON.stringify({ ...JSON.parse(KEY), private_key: 'not a key' });
    expect(() => firebasePush(pushSettings(parseConfig({ NODE_ENV: 'test', FCM_PROJECT_ID: 'credit-app', FCM_SERVICE_ACCOUNT_JSON: broken })))).toThrow(/private key/);
  });
});
