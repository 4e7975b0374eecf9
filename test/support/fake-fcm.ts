// A local stand-in for FCM's HTTP v1 endpoint, and a real firebase-admin app that talks to it.
//
// There is no FCM emulator. The app gets a Credential whose access token is fixed, and an
// https.Agent whose connections are plain TCP to this server: everything else is firebase-admin's
// own code (message validation, the request body, the URL with the project id, the Bearer header,
// and the mapping of error responses to `messaging/...` codes).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { deleteApp, initializeApp, type App, type Credential } from 'firebase-admin/app';
import { getMessaging, type Messaging } from 'firebase-admin/messaging';

export const FCM_PROJECT = 'credit-app-test';
export const FCM_ACCESS_TOKEN = 'test-access-token-0123456789';

export interface FcmRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The JSON body firebase-admin sent: `{ message: { token, notification, data, android, apns } }`. */
  body: any;
  /** What the fake answered. */
  status: number;
}

export interface FcmReply {
  status: number;
  body: unknown;
}

/** FCM's answer for a token whose app was uninstalled (firebase-admin: registration-token-not-registered). */
export const UNREGISTERED: FcmReply = {
  status: 404,
  body: {
    error: {
      code: 404,
      message: 'Requested entity was not found.',
      status: 'NOT_FOUND',
      details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }],
    },
  },
};

/** FCM's answer for a token that is not a token at all (firebase-admin: invalid-argument, naming the token). */
export const INVALID_TOKEN: FcmReply = {
  status: 400,
  body: {
    error: {
      code: 400,
      message: 'The registration token is not a valid FCM registration token',
      status: 'INVALID_ARGUMENT',
      details: [
        { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'INVALID_ARGUMENT' },
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.token', description: 'Invalid registration token' }] },
      ],
    },
  },
};

/** A transient server error (firebase-admin: internal-error). */
export const INTERNAL: FcmReply = {
  status: 500,
  body: { error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' } },
};

/** An answer the fake keeps to itself until `release()`: a send whose sender may die meanwhile. */
export const HOLD: FcmReply = { status: 0, body: null };

/** Firebase Messaging of a real firebase-admin app whose requests go to a fake FCM on `port` (in this process or another). */
/** `keepAlive` as production's agent has it (the benches); a connection per send otherwise (tests that close the fake mid-send). */
export function fakeFcmMessaging(port: number, projectId = FCM_PROJECT, keepAlive = false): { app: App; messaging: Messaging } {
  class ToFakeFcm extends https.Agent {
    override createConnection(): net.Socket {
      return net.connect(port, '127.0.0.1');
    }
  }
  const credential: Credential = { getAccessToken: async () => ({ access_token: FCM_ACCESS_TOKEN, expires_in: 3600 }) };
  const app = initializeApp({ credential, projectId, httpAgent: new ToFakeFcm({ keepAlive }) }, `fake-fcm-${randomUUID()}`);
  return { app, messaging: getMessaging(app) };
}

interface Waiter {
  predicate: (request: FcmRequest) => boolean;
  resolve: (request: FcmRequest) => void;
}

export class FakeFcm {
  readonly requests: FcmRequest[] = [];
  private readonly scripted = new Map<string, FcmReply[]>();
  private waiters: Waiter[] = [];
  private readonly apps: App[] = [];
  private server: Server | null = null;
  private held: (() => void)[] = [];
  private port = 0;
  private sent = 0;

  /** The next sends to `token` get these answers, in order; after them, 200. */
  replyTo(token: string, ...replies: FcmReply[]) {
    this.scripted.set(token, [...(this.scripted.get(token) ?? []), ...replies]);
  }

  /** Requests that carried this notification (its id is in the message data). */
  requestsFor(notificationId: string): FcmRequest[] {
    return this.requests.filter((r) => r.body?.message?.data?.notificationId === notificationId);
  }

  /** The first request, received or to come, that matches. */
  waitFor(predicate: (request: FcmRequest) => boolean, timeoutMs = 10_000): Promise<FcmRequest> {
    const seen = this.requests.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { predicate, resolve };
      this.waiters.push(waiter);
      setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching FCM request within ${timeoutMs} ms; got ${this.requests.length}`));
      }, timeoutMs).unref();
    });
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk));
      req.on('end', () => {
        const body = raw ? JSON.parse(raw) : null;
        const token: string | undefined = body?.message?.token;
        const reply = (token && this.scripted.get(token)?.shift()) || {
          status: 200,
          body: { name: `projects/${FCM_PROJECT}/messages/${++this.sent}` },
        };
        const request: FcmRequest = { method: req.method!, path: req.url!, headers: req.headers, body, status: reply.status };
        this.requests.push(request);
        const answer = (status: number, replyBody: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
          res.end(JSON.stringify(replyBody));
        };
        if (reply === HOLD) this.held.push(() => answer(200, { name: `projects/${FCM_PROJECT}/messages/${++this.sent}` }));
        else answer(reply.status, reply.body);
        for (const waiter of this.waiters.filter((w) => w.predicate(request))) {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          waiter.resolve(request);
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The port it listens on (for a worker process of the test's). */
  get listeningPort(): number {
    return this.port;
  }

  /** Answers (200) the sends held so far, if their senders still listen. */
  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  /** Firebase Messaging of a real firebase-admin app whose requests come here. */
  messaging(projectId = FCM_PROJECT): Messaging {
    const { app, messaging } = fakeFcmMessaging(this.port, projectId);
    this.apps.push(app);
    return messaging;
  }

  async close(): Promise<void> {
    await Promise.all(this.apps.map((app) => deleteApp(app)));
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
