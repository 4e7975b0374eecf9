// Rate limits shared by every API process (counters in Redis, one Lua script for all of them).
// Each limit is a budget per minute for one key: a user, a service token, an IP address (a /64
// for IPv6). A request takes from all the budgets that apply to it in one round trip, all or
// nothing: a refused request takes nothing. When Redis does not answer, requests go through
// (the service keeps serving) and that is logged once per outage. Every refusal goes through
// `refused`, the one place to count them.
import { createHash } from 'node:crypto';
import { getOperationAST, GraphQLError, Kind, type DocumentNode, type ExecutionArgs, type ExecutionResult, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RedisClient } from '../platform/redis.ts';
import { inSpan } from '../platform/tracing.ts';
import type { Viewer } from '../domain/viewer.ts';
import { operationCost } from './document-cost.ts';
import { oncePerDocument } from './per-document.ts';
import { addressForLogs } from './transport.ts';

export interface RateLimitSettings {
  /** Per user and per mutation: acceptOffer, declineOffer, registerDevice, acknowledgeNotification. */
  userMutationsPerMinute: number;
  /** Per service token and per mutation: issueCreditOffer, syncCreditUsage. */
  serviceMutationsPerMinute: number;
  /** Per service token: offers issued in batches (issueCreditOffers), counted one per offer. */
  serviceOffersPerMinute: number;
  /** Per client IP, requests without a valid token. */
  anonymousRequestsPerMinute: number;
  /** Per client IP, WebSocket connections opened. */
  webSocketConnectsPerMinute: number;
  /** Per customer token's user: points of every operation on every transport (OPERATION_POINTS + the document's cost). */
  userBudgetPerMinute: number;
  /** The same for service and staff tokens (credit-engine, ops). */
  serviceBudgetPerMinute: number;
}

/** The mutations each limit covers. */
export const USER_LIMITED_FIELDS = ['acceptOffer', 'declineOffer', 'registerDevice', 'acknowledgeNotification'] as const;
export const SERVICE_LIMITED_FIELDS = ['issueCreditOffer', 'syncCreditUsage'] as const;
/** Mutations that carry many offers: the service budget of offers counts each. */
export const OFFER_BATCH_FIELDS = ['issueCreditOffers'] as const;

/** What every operation costs on top of its document's cost: a cheap read still takes a connection. */
export const OPERATION_POINTS = 10;

export type RateLimitName =
  | 'user-mutation'
  | 'service-mutation'
  | 'service-offers'
  | 'anonymous'
  | 'websocket-connect'
  | 'user-budget'
  | 'service-budget';

export interface RateLimitRefusal {
  limit: RateLimitName;
  retryAfterSeconds: number;
}

/** Points to take from one key's budget. */
export interface LimitCharge {
  limit: RateLimitName;
  key: string;
  points: number;
}

export interface RateLimitEvents {
  /** A request refused: log it, count it (an address key comes as its network only). */
  refused(refusal: RateLimitRefusal & { key: string }): void;
  /** Redis did not answer: the request was let through. `recovered` when it answers again. */
  failingOpen(error: unknown): void;
  recovered(): void;
}

const WINDOW_SECONDS = 60;

// KEYS[i]: a fixed-window counter; ARGV[1]: the window in seconds; ARGV[2i], ARGV[2i+1]: the
// points to take from KEYS[i] and its budget. Either every counter takes its points ({0, 0}) or,
// when one would go over its budget, none does ({i, ms left in that counter's window}).
const CONSUME_SCRIPT = `
for i = 1, #KEYS do
  local used = tonumber(redis.call('get', KEYS[i]) or '0')
  if used + tonumber(ARGV[2 * i]) > tonumber(ARGV[2 * i + 1]) then
    return {i, redis.call('pttl', KEYS[i])}
  end
end
for i = 1, #KEYS do
  redis.call('set', KEYS[i], 0, 'EX', ARGV[1], 'NX')
  redis.call('incrby', KEYS[i], ARGV[2 * i])
end
return {0, 0}`;
const CONSUME_SHA = createHash('sha1').update(CONSUME_SCRIPT).digest('hex');

export class RateLimits {
  private readonly budgets: Record<RateLimitName, number>;
  private open = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    settings: RateLimitSettings,
    private readonly events: RateLimitEvents,
  ) {
    this.budgets = {
      'user-mutation': settings.userMutationsPerMinute,
      'service-mutation': settings.serviceMutationsPerMinute,
      'service-offers': settings.serviceOffersPerMinute,
      anonymous: settings.anonymousRequestsPerMinute,
      'websocket-connect': settings.webSocketConnectsPerMinute,
      'user-budget': settings.userBudgetPerMinute,
      'service-budget': settings.serviceBudgetPerMinute,
    };
  }

  /** Takes `points` from the key's budget: null when allowed, the refusal when over. */
  async consume(limit: RateLimitName, key: string, points = 1): Promise<RateLimitRefusal | null> {
    return this.consumeAll([{ limit, key, points }]);
  }

  /**
   * Takes every charge in one round trip, or none of them: null when allowed, the first refusal
   * when one is over. On a Redis Cluster, the keys of one call must share a hash tag.
   */
  async consumeAll(charges: readonly LimitCharge[]): Promise<RateLimitRefusal | null> {
    if (charges.length === 0) return null;
    try {
      if (this.redis.status !== 'ready') throw new Error(`Redis connection is ${this.redis.status}`);
      const keys = charges.map(({ limit, key }) => `${this.prefix}:rate:${limit}:${key}`);
      const args = [WINDOW_SECONDS, ...charges.flatMap(({ limit, points }) => [points, this.budgets[limit]])];
      const [index, msLeft] = (await this.run(keys, args)) as [number, number]; 
      if (this.open) {
        this.open = false;
        this.events.recovered();
      }
      if (index === 0) return null;
      const charge = charges[index - 1]!;
      const retryAfterSeconds = Math.max(1, Math.ceil((msLeft > 0 ? msLeft : WINDOW_SECONDS * 1000) / 1000));
      const refusal = { limit: charge.limit, retryAfterSeconds };
      // Addresses reach the logs only as their network (IPv4 /24, IPv6 /48).
      const isAddress = charge.limit === 'anonymous' || charge.limit === 'websocket-connect';
      this.events.refused({ ...refusal, key: isAddress ? addressForLogs(charge.key) : charge.key });
      return refusal;
    } catch (error) {
      if (!this.open) {
        this.open = true;
        this.events.failingOpen(error);
      }
      return null;
    }
  }

  private async run(keys: string[], args: number[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(CONSUME_SHA, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return this.redis.eval(CONSUME_SCRIPT, keys.length, ...keys, ...args);
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

/** A service or staff token (credit-engine, ops): its own, larger budget. */
const isService = (viewer: Viewer) => viewer.roles.some((role) => role !== 'customer');

/**
 * A user's keys share the hash tag `{userId}`, so that on a Redis Cluster one script can take
 * from the user's budget and from their mutation limits together.
 */
const userKey = (userId: string, field?: string) => (field ? `${field}:{${userId}}` : `{${userId}}`);

/** The mutation limits an operation takes from: one point per selection of a limited field (aliases count). */
export function mutationCharges(document: DocumentNode, operationName: string | null | undefined, viewer: Viewer): LimitCharge[] {
  const USER = new Set<string>(USER_LIMITED_FIELDS);
  const SERVICE = new Set<string>(SERVICE_LIMITED_FIELDS);
  const charges: LimitCharge[] = [];
  for (const [field, count] of rootFieldCounts(document, operationName)) {
    const limit = USER.has(field) ? 'user-mutation' : SERVICE.has(field) ? 'service-mutation' : null;
    if (limit) charges.push({ limit, key: userKey(viewer.userId, field), points: count });
  }
  return charges;
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
 * Every operation of a signed-in caller, on every transport (HTTP, SSE and WebSocket all execute
 * through envelop), takes from the caller's budget the operation's points, and from the mutation
 * limits that cover its fields, in one round trip, before anything runs: over any of them, the
 * whole operation is refused (so nothing of it changes anything). Requests without a token are
 * limited per address before this; resolvers refuse them.
 */
export function callerLimitsPlugin(limits: RateLimits, viewerOf: (context: unknown) => Viewer | null): Plugin {
  const charge = async ({ args, setResultAndStopExecution }: { args: ExecutionArgs; setResultAndStopExecution: (result: ExecutionResult) => void }) => {
    const viewer = viewerOf(args.contextValue);
    if (!viewer) return;
    // The document's cost once per document text where the variables cannot change it (persisted operations).
    const cost = oncePerDocument('cost', args.document, args.operationName, () => operationCost(args.schema, args.document, args.operationName, args.variableValues));
    const points = OPERATION_POINTS + cost;
    const budget: LimitCharge = { limit: isService(viewer) ? 'service-budget' : 'user-budget', key: userKey(viewer.userId), points };
    const offers = offersInBatches(args.document, args.variableValues ?? undefined, args.operationName);
    const batch: LimitCharge[] = offers > 0 ? [{ limit: 'service-offers', key: userKey(viewer.userId, 'offers'), points: offers }] : [];
    const refusal = await inSpan('rate limit', {}, () => limits.consumeAll([budget, ...mutationCharges(args.document, args.operationName, viewer), ...batch]));
    if (refusal) setResultAndStopExecution({ errors: [rateLimitedError(refusal)] });
  };
  return { onExecute: charge, onSubscribe: charge };
}
