// Rate limits shared by every API process (counters in Redis, rate-limiter-flexible).
// Each limit is a budget per minute for one key: a user, a service token, an IP address.
// When Redis does not answer, requests go through (the service keeps serving) and that is
// logged once per outage. Every refusal goes through `refused`, the one place to count them.
import { getOperationAST, GraphQLError, Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RedisClient } from '../platform/redis.ts';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Viewer } from '../domain/viewer.ts';

export interface RateLimitSettings {
  /** Per user and per mutation: acceptOffer, declineOffer, registerDevice, acknowledgeNotification. */
  userMutationsPerMinute: number;
  /** Per service token and per mutation: issueCreditOffer, syncCreditUsage. */
  serviceMutationsPerMinute: number;
  /** Per service token: offers issued in batches (issueCreditOffers counts each of its inputs). */
  serviceOffersPerMinute: number;
  /** Per client IP, requests without a valid token. */
  anonymousRequestsPerMinute: number;
  /** Per client IP, WebSocket connections opened. */
  webSocketConnectsPerMinute: number;
}

/** The mutations each limit covers. */
export const USER_LIMITED_FIELDS = ['acceptOffer', 'declineOffer', 'registerDevice', 'acknowledgeNotification'] as const;
export const SERVICE_LIMITED_FIELDS = ['issueCreditOffer', 'syncCreditUsage'] as const;

/** Mutations whose cost is the number of offers they carry, not one per call. */
export const OFFER_BATCH_FIELDS = ['issueCreditOffers'] as const;

export type RateLimitName = 'user-mutation' | 'service-mutation' | 'service-offers' | 'anonymous' | 'websocket-connect';

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
    redis: RedisClient,
    prefix: string,
    settings: RateLimitSettings,
    private readonly events: RateLimitEvents,
  ) {
    const limiter = (name: RateLimitName, points: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:rate:${name}`, points, duration: 60, rejectIfRedisNotReady: true });
    this.limiters = {
      'user-mutation': limiter('user-mutation', settings.userMutationsPerMinute),
      'service-mutation': limiter('service-mutation', settings.serviceMutationsPerMinute),
      'service-offers': limiter('service-offers', settings.serviceOffersPerMinute),
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

/** The refusal as the contract states it: RATE_LIMITED with retryAfterSeconds (HTTP 429 and Retry-After). */
export function rateLimitedError({ retryAfterSeconds }: RateLimitRefusal): GraphQLError {
  return new GraphQLError(`Too many requests: try again in ${retryAfterSeconds} s`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfterSeconds,
      http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
    },
  });
}

/** How many times each root field is selected (aliases count each time). */
export function rootFieldCounts(document: DocumentNode, operationName?: string | null): Map<string, number> {
  const counts = new Map<string, number>();
  const operation = getOperationAST(document, operationName);
  if (!operation) return counts;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const visit = (selectionSet: SelectionSetNode, depth: number) => {
    if (depth > 10) return; // fragment cycles are refused by validation
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) counts.set(selection.name.value, (counts.get(selection.name.value) ?? 0) + 1);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet, depth + 1);
      else {
        const fragment = fragments.get(selection.name.value);
        if (fragment) visit(fragment.selectionSet, depth + 1);
      }
    }
  };
  visit(operation.selectionSet, 0);
  return operation.operation === 'mutation' ? counts : new Map();
}

/**
 * How many offers the operation's batch fields carry, from the `inputs` argument (a list literal
 * or a variable). A malformed argument counts 1: validation refuses it before anything runs.
 */
export function offersInBatches(document: DocumentNode, variables: Record<string, unknown> | undefined, operationName?: string | null): number {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'mutation') return 0;
  const BATCH = new Set<string>(OFFER_BATCH_FIELDS);
  let offers = 0;
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || !BATCH.has(selection.name.value)) continue;
    const argument = selection.arguments?.find((a) => a.name.value === 'inputs')?.value;
    const list =
      argument?.kind === Kind.VARIABLE ? variables?.[argument.name.value] : argument?.kind === Kind.LIST ? argument.values : undefined;
    offers += Array.isArray(list) ? Math.max(1, list.length) : 1;
  }
  return offers;
}

/**
 * Per user and per service token on the mutations that need it, before anything runs: the whole
 * operation is refused when any of its limited fields is over (so nothing of it changes anything).
 */
export function mutationRateLimitPlugin(limits: RateLimits, viewerOf: (context: unknown) => Viewer | null): Plugin {
  const USER = new Set<string>(USER_LIMITED_FIELDS);
  const SERVICE = new Set<string>(SERVICE_LIMITED_FIELDS);
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const viewer = viewerOf(args.contextValue);
      if (!viewer) return; // anonymous requests are limited per IP; resolvers refuse them
      for (const [field, count] of rootFieldCounts(args.document, args.operationName)) {
        const limit = USER.has(field) ? 'user-mutation' : SERVICE.has(field) ? 'service-mutation' : null;
        if (!limit) continue;
        const refusal = await limits.consume(limit, `${field}:${viewer.userId}`, count);
        if (refusal) return setResultAndStopExecution({ errors: [rateLimitedError(refusal)] });
      }
      // A campaign's budget is in offers: a batch of 1,000 takes 1,000 from it.
      const offers = offersInBatches(args.document, args.variableValues ?? undefined, args.operationName);
      if (offers > 0) {
        const refusal = await limits.consume('service-offers', `offers:${viewer.userId}`, offers);
        if (refusal) return setResultAndStopExecution({ errors: [rateLimitedError(refusal)] });
      }
    },
  };
}
