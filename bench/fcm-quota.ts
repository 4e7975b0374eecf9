// A fake FCM with a project quota, for the campaign bench: answers 200 up to `perMinute` sends in
// any trailing minute and FCM's project-level 429 (RESOURCE_EXHAUSTED) beyond, counting both. It
// also answers the OAuth token step of the service account it makes (`serviceAccountJson`), so the
// production build's workers push to it through FCM_API_URL as they would to a staging double.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const QUOTA_BODY = JSON.stringify({
  error: {
    code: 429,
    message: "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' of service 'fcm.googleapis.com' for consumer 'project_number:1'.",
    status: 'RESOURCE_EXHAUSTED',
  },
});

export class QuotaFcm {
  /** When each accepted send arrived (ms). */
  readonly accepted: number[] = [];
  refused = 0;
  private server: Server | null = null;
  port = 0;

  constructor(private readonly perMinute: number) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/token') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ access_token: 'bench-access-token', expires_in: 3600, token_type: 'Bearer' }));
        }
        const now = Date.now();
        // Sends accepted in the trailing minute (the list is in time order).
        let first = this.accepted.length;
        while (first > 0 && this.accepted[first - 1]! > now - 60_000) first -= 1;
        if (this.accepted.length - first >= this.perMinute) {
          this.refused += 1;
          res.writeHead(429, { 'content-type': 'application/json; charset=UTF-8' });
          return res.end(QUOTA_BODY);
        }
        this.accepted.push(now);
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify({ name: `projects/bench/messages/${this.accepted.length}` }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** A service account key whose token step this fake answers (FCM_SERVICE_ACCOUNT_JSON); once started. */
  serviceAccountJson(): string {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return JSON.stringify({
      type: 'service_account',
      project_id: 'credit-bench',
      client_email: 'push@credit-bench.iam.gserviceaccount.com',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      token_uri: `http://127.0.0.1:${this.port}/token`,
    });
  }

  /** The most sends accepted in any window of `windowMs` (sliding), scaled to a minute. */
  peakPerMinute(windowMs: number): number {
    let peak = 0;
    let first = 0;
    for (let last = 0; last < this.accepted.length; last += 1) {
      while (this.accepted[last]! - this.accepted[first]! >= windowMs) first += 1;
      peak = Math.max(peak, last - first + 1);
    }
    return (peak * 60_000) / windowMs;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
