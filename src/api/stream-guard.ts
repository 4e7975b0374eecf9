// Streams follow their token and their quota, on SSE and WebSocket alike (both subscribe
// through yoga's envelop): a subscription takes one of the user's slots (released when the
// stream ends, however it ends), and at the token's expiry the stream ends with UNAUTHENTICATED.
// (On WebSocket the server also closes the whole socket with 4403 at that moment.)
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { SubscriptionSlot } from '../realtime/subscription-quota.ts';

export interface StreamCaller {
  userId: string;
  /** When the caller's token expires (ms since the epoch). */
  expiresAt: number | null;
}

export interface StreamGuardDeps {
  callerOf(context: unknown): StreamCaller | null;
  acquire(userId: string): Promise<SubscriptionSlot | null>;
  maxPerUser: number;
}

export const tokenExpiredError = () =>
  new GraphQLError('The token expired: subscribe again with a fresh token', { extensions: { code: 'UNAUTHENTICATED' } });

const tooManyError = (max: number) =>
  new GraphQLError(`At most ${max} live subscriptions per user: end one before starting another`, {
    extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
  });

export function streamGuardPlugin(deps: StreamGuardDeps): Plugin {
  return {
    async onSubscribe({ args, setResultAndStopExecution }) {
      const caller = deps.callerOf(args.contextValue);
      if (!caller) return; // the resolver answers UNAUTHENTICATED
      const slot = await deps.acquire(caller.userId);
      if (!slot) {
        setResultAndStopExecution({ errors: [tooManyError(deps.maxPerUser)] });
        return;
      }
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return void slot.release();
          setResult(guardStream(result, caller.expiresAt, () => void slot.release()));
        },
        onSubscribeError: () => void slot.release(),
      };
    },
  };
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof Object(value)[Symbol.asyncIterator] === 'function';
}

/** The source's messages until the token expires (then one UNAUTHENTICATED error); `onEnd` once, however it ends. */
export function guardStream(
  source: AsyncIterable<ExecutionResult>,
  expiresAt: number | null,
  onEnd: () => void,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  let expire!: () => void;
  const expired = new Promise<'expired'>((resolve) => (expire = () => resolve('expired')));
  // setTimeout holds at most 2^31-1 ms; tokens live far less.
  const timer = expiresAt === null ? null : setTimeout(expire, Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1));
  const end = () => {
    if (ended) return false;
    ended = true;
    if (timer) clearTimeout(timer);
    onEnd();
    return true;
  };
  const done = { done: true, value: undefined } as const;
  return {
    async next() {
      if (ended) return done;
      const next = await Promise.race([iterator.next(), expired]);
      if (next === 'expired') {
        if (!end()) return done;
        void iterator.return?.();
        return { done: false, value: { errors: [tokenExpiredError()] } };
      }
      if (next.done) end();
      return next;
    },
    async return() {
      end();
      await iterator.return?.();
      return done;
    },
    async throw(error: unknown) {
      end();
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
