// The reference client (client/) against a production-configured API, as an app uses it: hashes
// only, with the app's codegen documents. A token that expires mid-stream is replaced (a fresh one
// asked for on reconnect) and the deployment stream resumes with every sequence exactly once; the
// notification is acknowledged; a 503 and a 429 are retried after the wait the server asked for.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CREDIT_DEPLOYMENT_STATUSES, CreditClient, enumValue, followDeployment, watchNotifications, ApiRequestError } from '../client/src/index.ts';
import { tokenSigner } from '../src/api/auth.ts';
import {
  AppAcceptOfferDocument,
  AppAcknowledgeNotificationDocument,
  AppDeploymentStreamDocument,
  AppNotificationStreamDocument,
  AppProfileDocument,
} from '../src/generated/graphql/graphql.ts';
import { prisma } from '../src/platform/db.ts';
import { startService, type RunningService } from '../src/service.ts';
import { newUserId } from './support/client.ts';
import { issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';
import { waitUntil } from './support/wait.ts';

const production = { ...testConfig, GRAPHQL_ALLOW_DOCUMENTS: false, GRAPHQL_EXPOSE_SCHEMA: false, GRAPHIQL: false };
// The API alone: deployments wait QUEUED until a test starts a worker.
const service = serviceForTests({ worker: false, config: production });
const sign = tokenSigner(testConfig.JWT_SECRET);
const app = { clientName: 'credit-app', clientVersion: '1.0.0', webSocketImpl: WebSocket };

const started: RunningService[] = [];
afterAll(async () => {
  for (const running of started) await running.close();
});

describe('the reference client', () => {
  it('refreshes a token that expires mid-stream and resumes the stream with every sequence exactly once; acknowledges the notification', async () => {
    const { offerId, userId } = await issueOffer(service.url);
    let tokensGiven = 0;
    const socketEvents: string[] = [];
    let reconnected!: () => void;
    const reconnect = new Promise<void>((resolve) => (reconnected = resolve));
    const client = new CreditClient({
      ...app,
      url: service.url,
      // The request's and the first connect's tokens live 2 s: the socket is closed (4403) at the
      // expiry, mid-stream. Later ones live an hour (a notification sent while a socket reconnects
      // is not replayed: a second expiry would race the one this test waits for).
      getToken: async () => {
        tokensGiven += 1;
        return sign(userId, ['customer'], {}, tokensGiven <= 2 ? '2s' : '1h');
      },
      onSocket: (event) => {
        socketEvents.push(event.type === 'closed' ? `closed ${event.code}` : 'connected');
        if (event.type === 'connected' && socketEvents.filter((e) => e === 'connected').length === 2) reconnected();
      },
    });
    try {
      const accepted = await client.request(AppAcceptOfferDocument, { offerId });
      if (accepted.acceptOffer.__typename !== 'AcceptOfferSuccess') throw new Error(accepted.acceptOffer.__typename);
      const deploymentId = accepted.acceptOffer.deployment.id;

      const acknowledged: string[] = [];
      const notifications = watchNotifications(client, AppNotificationStreamDocument, AppAcknowledgeNotificationDocument, (notification) => {
        acknowledged.push(`${notification.kind}`);
      });
      const sequences: number[] = [];
      const statuses: unknown[] = [];
      const followed = followDeployment(client, AppDeploymentStreamDocument, { id: deploymentId, afterSequence: 0 }, (update) => {
        sequences.push(update.sequence);
        statuses.push(update.knownStatus);
      });

      await reconnect;
      expect(socketEvents.slice(0, 3)).toEqual(['connected', 'closed 4403', 'connected']);
      expect(sequences).toEqual([1]);

      // Now the deployment moves on: the rest of its timeline reaches the resumed stream.
      started.push(await startService({ api: false, worker: true, adminPort: 0, config: production }));
      await followed.done;
      expect(sequences).toEqual([1, 2, 3, 4]);
      expect(statuses).toEqual(['QUEUED', 'PROCESSING', 'PROCESSING', 'DEPLOYED']);
      expect(tokensGiven).toBeGreaterThanOrEqual(3); // the request, the first connect, the reconnect

      // The deployment's notification is acknowledged (the offer's own OFFER_RECEIVED may be too).
      const notification = await waitUntil(
        () => prisma.notification.findFirst({ where: { userId, kind: 'CREDIT_DEPLOYED', acknowledgedAt: { not: null } } }),
        'the notification acknowledged',
      );
      expect(notification.kind).toBe('CREDIT_DEPLOYED');
      expect(acknowledged).toContain('CREDIT_DEPLOYED');
      notifications.stop();
    } finally {
      await client.close();
    }
  });

  it('retries a 503 and a 429, waiting what the server asked for, and does not retry what retrying cannot fix', async () => {
    const userId = newUserId();
    // A front that answers as the API does when its database is down, then when rate limited, then passes requests on.
    const answers = [
      { status: 503, body: { errors: [{ message: 'The service is temporarily unavailable. Nothing was changed; try again shortly.', extensions: { code: 'UNAVAILABLE' } }] } },
      { status: 429, body: { errors: [{ message: 'Too many requests: try again in 1 s', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 } }] }, headers: { 'retry-after': '1' } },
    ];
    const front = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const canned = answers.shift();
      if (canned) {
        res.writeHead(canned.status, { 'content-type': 'application/json', ...canned.headers });
        return res.end(JSON.stringify(canned.body));
      }
      const response = await fetch(`${service.url}${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body: Buffer.concat(chunks) });
      res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await response.arrayBuffer()));
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    const retries: Array<{ code: string | undefined; waitMs: number }> = [];
    const client = new CreditClient({
      ...app,
      url: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
      getToken: () => sign(userId, ['customer']),
      retry: { baseDelayMs: 50 },
      onRetry: ({ code, waitMs }) => retries.push({ code, waitMs }),
    });
    try {
      const startedAt = Date.now();
      const profile = await client.request(AppProfileDocument, {});
      expect(profile.me.id).toBe(userId);
      expect(retries.map((retry) => retry.code)).toEqual(['UNAVAILABLE', 'RATE_LIMITED']);
      expect(retries[1]!.waitMs).toBe(1000);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);

      const unknownHash = { ...AppProfileDocument, __meta__: { hash: 'b'.repeat(64) } } as typeof AppProfileDocument;
      const refused = await client.request(unknownHash, {}).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ApiRequestError);
      expect((refused as ApiRequestError).code).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect(retries).toHaveLength(2);
    } finally {
      await client.close();
      front.close();
    }
  });

  it('surfaces an enum value it was not built with as unknown, not as a known one', () => {
    expect(enumValue('DEPLOYED', CREDIT_DEPLOYMENT_STATUSES)).toBe('DEPLOYED');
    expect(enumValue('PAUSED_FOR_REVIEW', CREDIT_DEPLOYMENT_STATUSES)).toEqual({ unknown: 'PAUSED_FOR_REVIEW' });
  });
});
