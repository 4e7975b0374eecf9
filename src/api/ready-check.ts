// /ready on the public port asks PostgreSQL and Redis: answered from one shared result per
// second, so that a flood of /ready (it needs no token) reaches the dependencies once a second,
// never the pool once per request.

/** `check` run at most once per `ttlMs`; callers meanwhile (and while it runs) share its result. */
export function cachedCheck(check: () => Promise<boolean>, ttlMs = 1000, now: () => number = Date.now): () => Promise<boolean> {
  let last: { at: number; result: Promise<boolean> } | null = null;
  return () => {
    const at = now();
    if (!last || at - last.at >= ttlMs) last = { at, result: check().catch(() => false) };
    return last.result;
  };
}
