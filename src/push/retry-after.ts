// FCM's Retry-After, which firebase-admin does not pass on with its errors: the HTTP agent of the
// firebase-admin app sees every response, and keeps the Retry-After of the latest 429. A quota
// answer is the project's, so whichever send saw it, the whole bucket honours it.
import type { ClientRequest, IncomingMessage } from 'node:http';
import https from 'node:https';

/** How long a Retry-After seen stays the answer to "how long to pause" (it is about the 429 just received). */
const FRESH_MS = 5_000;

/** The Retry-After header as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export class RetryAfterAgent extends https.Agent {
  private latest: { ms: number; seenAt: number } | null = null;

  constructor() {
    super({ keepAlive: true });
  }

  /** Node calls this for every request the agent carries: the one place to see every response. */
  addRequest(request: ClientRequest, options: unknown): void {
    request.once('response', (response: IncomingMessage) => {
      if (response.statusCode !== 429) return;
      const ms = retryAfterMs(response.headers['retry-after']);
      if (ms !== null) this.latest = { ms, seenAt: Date.now() };
    });
    (https.Agent.prototype as unknown as { addRequest(r: ClientRequest, o: unknown): void }).addRequest.call(this, request, options);
  }

  /** The Retry-After of a 429 received in the last few seconds, less the time since; null when none. */
  retryAfter = (): number | null => {
    if (!this.latest || Date.now() - this.latest.seenAt > FRESH_MS) return null;
    return Math.max(0, this.latest.ms - (Date.now() - this.latest.seenAt));
  };
}
