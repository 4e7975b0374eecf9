// Tokens never reach the logs: with every log line on (trace), a caller's JWT, sent on HTTP, SSE
// and WebSocket, valid or not, and a device's push token, appear nowhere in what is written.
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { gql, newUserId, sseSubscribe, token } from './support/client.ts';
import { captureLogs } from './support/logs.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const written = captureLogs('trace');
const service = serviceForTests({ worker: false, config: { ...testConfig, LOG_LEVEL: 'trace' }, logger: written.logger });

describe('logs', () => {
  it('carry no token, whatever the transport and whether or not it is valid', async () => {
    const userId = newUserId();
    const jwt = await token(userId);
    const forged = `${jwt.slice(0, -8)}AAAAAAAA`;
    const pushToken = `fcm-${newUserId()}-secretpart`;

    await gql(service.url, '{ me { id } }', {}, jwt);
    await gql(service.url, '{ me { id } }', {}, forged);
    await gql(service.url, '{ me { id ', {}, jwt); // a syntax error
    await gql(service.url, 'mutation ($t: String!) { registerDevice(token: $t, platform: IOS) { __typename } }', { t: pushToken }, jwt);
    const stream = sseSubscribe(service.url, 'subscription { creditDeployment(id: "00000000-0000-4000-8000-000000000000") { sequence } }', {}, jwt);
    expect((await stream.next()).value?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await stream.return(undefined);
    for (const authorization of [`Bearer ${jwt}`, `Bearer ${forged}`]) {
      const client = createClient({
        url: `${service.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization },
        retryAttempts: 0,
      });
      await new Promise<void>((resolve) => client.subscribe({ query: '{ me { id } }' }, { next: () => {}, error: () => resolve(), complete: resolve }));
      await client.dispose();
    }

    const logs = written.text();
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('device registered'); // the requests were logged
    for (const secret of [jwt.split('.')[2]!, forged.split('.')[2]!, 'secretpart']) expect(logs).not.toContain(secret);
  });

  it('redact credentials wherever a log line carries them', () => {
    const { logger, lines } = captureLogs('info');
    const secret = 'eyJhbGciOiJIUzI1NiJ9.payload.signature-that-must-not-leak';
    logger.info({ req: { headers: { authorization: `Bearer ${secret}` } } }, 'request');
    logger.info({ connectionParams: { authorization: `Bearer ${secret}` } }, 'socket');
    logger.info({ token: secret, device: { token: secret } }, 'device');
    logger.child({ correlationId: 'c' }).warn({ authorization: secret }, 'child');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).not.toContain('signature-that-must-not-leak');
  });
});
