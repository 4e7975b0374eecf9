// Rate limits shared by every API process (counters in Redis, rate-limiter-flexible).
// Each limit is a budget per minute for one key: a user, a service token, an IP address.
// When Redis does not answer, requests go through (the service keeps serving) and that is
// logged once per outage. Every refusal goes through `refused`, the one place to count them.
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateLimitSettings {
  /** Per user and per mutation: acceptOffer, declineOffer, registerDevice, acknowledgeNotification. */
  userMutationsPerMinute: number;
  /** Per service token and per mutation: issueCreditOffer, syncCreditUsage. */
  serviceMutationsPerMinute: number;
  /** Per client IP, requests without a valid token. */
  anonymousRequestsPerMinute: number;
  /** Per client IP, WebSocket connections opened. */
  webSocketConnectsPerMinute: number;
}

/** The mutations each limit covers. */
export const USER_LIMITED_FIELDS = ['acceptOffer', 'declineOffer', 'registerDevice', 'acknowledgeNotification'] as const;
export const SERVICE_LIMITED_FIELDS = ['issueCreditOffer', 'syncCreditUsage'] as const;

export type RateLimitName = 'user-mutation' | 'service-mutation' | 'anonymous' | 'websocket-connect';

export interface RateLimitRefusal {
  limit: RateLimitName;
  retryAfterSeconds: number;
}

export interface RateLimitEvents {
  /** A request refused: log it, count it. */
  refused(refusal: RateLimitRefusal & { key: string }): void;
  /** Redis did not answer: the request was let through. `recovered` when it answers again. */
  failingOpen(error: unknown): void;
  recovered(): void;
}

export class RateLimits {
  private readonly limiters: Record<RateLimitName, RateLimiterRedis>;
  private open = false;

  constructor(
    redis: Redis,
    prefix: string,
    settings: RateLimitSettings,
    private readonly events: RateLimitEvents,
  ) {
    const limiter = (name: RateLimitName, points: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:rate:${name}`, points, duration: 60, rejectIfRedisNotReady: true });
    this.limiters = {
      'user-mutation': limiter('user-mutation', settings.userMutationsPerMinute),
      'service-mutation': limiter('service-mutation', settings.serviceMutationsPerMinute),
      anonymous: limiter('anonymous', settings.anonymousRequestsPerMinute),
      'websocket-connect': limiter('websocket-connect', settings.webSocketConnectsPerMinute),
    };
  }

  /** Takes `points` from the key's budget: null when allowed, the refusal when over. */
  async consume(limit: RateLimitName, key: string, points = 1): Promise<RateLimitRefusal | null> {
    try {
      await this.limiters[limit].consume(key, points);
      if (this.open) {
        this.open = false;
        this.events.recovered();
      }
      return null;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        const refusal = { limit, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
        this.events.refused({ ...refusal, key });
        return refusal;
      }
      if (!this.open) {
        this.open = true;
        this.events.failingOpen(rejection);
      }
      return null;
    }
  }
}
