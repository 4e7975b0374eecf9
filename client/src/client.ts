// The reference client of the credit deployment API. Everything goes by hash (persisted
// operations); HTTP requests carry a fresh token each and are retried when the API says UNAVAILABLE
// or RATE_LIMITED, after the wait it asked for; streams run over one graphql-ws socket that asks
// for a token on every connect, reconnects after the 4403 close a token's expiry causes, and
// resumes each deployment stream after the last sequence it delivered.
import { createClient, type Client as SocketClient } from 'graphql-ws';
import { backoffMs, DEFAULT_RETRY, sleep, type RetrySettings } from './backoff.ts';
import { ApiRequestError, RETRYABLE_CODES, retryAfterMs, type ApiError } from './errors.ts';
import { operationNameOf, persistedExtensions, type PersistedDocument } from './persisted.ts';

export interface CreditClientOptions {
  /** The API's base URL, e.g. https://api.example.com (the /graphql path is added). */
  url: string;
  /** A valid token, asked for before every HTTP request and every socket connect (fresh ones after expiry). */
  getToken: () => Promise<string> | string;
  /** Sent as apollographql-client-name / -version: the usage of each registered version is counted by them. */
  clientName: string;
  clientVersion: string;
  /** Node before 22 has no global WebSocket: pass `ws`'s. */
  webSocketImpl?: unknown;
  fetch?: typeof fetch;
  retry?: Partial<RetrySettings>;
  /** Told of every retry (for logs). */
  onRetry?: (event: { operation: string | undefined; attempt: number; waitMs: number; code: string | undefined }) => void;
  /** Socket life, for apps that show "reconnecting". */
  onSocket?: (event: { type: 'connected' } | { type: 'closed'; code: number }) => void;
}

interface HttpAnswer<R> {
  data?: R | null;
  errors?: ApiError[];
}

export class CreditClient {
  private readonly retry: RetrySettings;
  private readonly fetchImpl: typeof fetch;
  private socket: SocketClient | null = null;

  constructor(private readonly options: CreditClientOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** A query or mutation by hash. Throws ApiRequestError with the API's errors; retries only what may be retried. */
  async request<R, V>(document: PersistedDocument<R, V>, variables: V): Promise<R> {
    const operationName = operationNameOf(document);
    for (let attempt = 0; ; attempt += 1) {
      const { status, answer, retryAfterHeader } = await this.post(document, variables, operationName);
      const errors = answer.errors ?? [];
      if (errors.length === 0 && answer.data) return answer.data;
      const failure = new ApiRequestError(errors, status);
      const retryable = RETRYABLE_CODES.includes(failure.code ?? '') || status === 503 || status === 429;
      if (!retryable || attempt + 1 >= this.retry.maxAttempts) throw failure;
      const waitMs = retryAfterMs(errors, retryAfterHeader) ?? backoffMs(attempt, this.retry);
      this.options.onRetry?.({ operation: operationName, attempt: attempt + 1, waitMs, code: failure.code });
      await sleep(waitMs);
    }
  }

  private async post<V>(document: PersistedDocument<unknown, V>, variables: V, operationName: string | undefined) {
    const response = await this.fetchImpl(`${this.options.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${await this.options.getToken()}`,
        'apollographql-client-name': this.options.clientName,
        'apollographql-client-version': this.options.clientVersion,
      },
      body: JSON.stringify({ operationName, variables, extensions: persistedExtensions(document) }),
    });
    const text = await response.text();
    let answer: HttpAnswer<any>;
    try {
      answer = JSON.parse(text) as HttpAnswer<any>;
    } catch {
      // A proxy's page, not the API's answer.
      answer = { errors: [{ message: `HTTP ${response.status}`, extensions: { code: response.status === 503 ? 'UNAVAILABLE' : undefined } }] };
    }
    return { status: response.status, answer, retryAfterHeader: response.headers.get('retry-after') };
  }

  /** The one socket of this client: connected on first use, a token asked for on every connect. */
  private sockets(): SocketClient {
    this.socket ??= createClient({
      url: `${this.options.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: this.options.webSocketImpl,
      connectionParams: async () => ({ authorization: `Bearer ${await this.options.getToken()}` }),
      // Closed at the token's expiry (4403): graphql-ws reconnects (it retries 4403) with a fresh token.
      retryAttempts: Number.MAX_SAFE_INTEGER,
      retryWait: (retries) => sleep(backoffMs(retries, this.retry)),
      shouldRetry: () => true,
      on: {
        connected: () => this.options.onSocket?.({ type: 'connected' }),
        closed: (event) => this.options.onSocket?.({ type: 'closed', code: (event as { code?: number }).code ?? 0 }),
      },
    });
    return this.socket;
  }

  /**
   * A subscription by hash. `variables` is read at every (re)subscription: a caller may change it
   * (followDeployment moves `afterSequence` forward) and a reconnect sends the latest.
   */
  subscribe<R, V>(
    document: PersistedDocument<R, V>,
    variables: V,
    sink: { next: (data: R) => void; error: (error: ApiRequestError | Error) => void; complete: () => void },
  ): () => void {
    const payload = { operationName: operationNameOf(document), query: '', variables: variables as Record<string, unknown>, extensions: persistedExtensions(document) };
    return this.sockets().subscribe<R>(payload, {
      next: (result) => {
        if (result.errors?.length) return sink.error(new ApiRequestError(result.errors as ApiError[], 0));
        if (result.data) sink.next(result.data);
      },
      error: (error) => sink.error(Array.isArray(error) ? new ApiRequestError(error as ApiError[], 0) : (error as Error)),
      complete: sink.complete,
    });
  }

  /** Closes the socket (ends every stream). */
  async close(): Promise<void> {
    await this.socket?.dispose();
    this.socket = null;
  }
}
