// The errors the API answers with (extensions.code), and which of them are worth retrying.

export interface ApiError {
  message: string;
  extensions?: { code?: string; retryAfterSeconds?: number; [key: string]: unknown };
  path?: ReadonlyArray<string | number>;
}

/** A request the API refused or failed; `errors` are its answer, `status` the HTTP status (0 on a socket). */
export class ApiRequestError extends Error {
  constructor(
    readonly errors: readonly ApiError[],
    readonly status: number,
  ) {
    super(errors.map((error) => `${error.extensions?.code ?? 'ERROR'}: ${error.message}`).join('; ') || `HTTP ${status}`);
    this.name = 'ApiRequestError';
  }

  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

/** A dependency down (nothing was changed) or a rate limit: the same request may be sent again. */
export const RETRYABLE_CODES = ['UNAVAILABLE', 'RATE_LIMITED'];

/** How long the server asked to wait (retryAfterSeconds), in ms, if it said. */
export function retryAfterMs(errors: readonly ApiError[], retryAfterHeader: string | null): number | null {
  const fromBody = errors.find((error) => typeof error.extensions?.retryAfterSeconds === 'number')?.extensions?.retryAfterSeconds;
  const seconds = fromBody ?? (retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : null);
  return seconds === null ? null : seconds * 1000;
}
