// What the edge does for every HTTP request before GraphQL: the client's address, the size of
// the body, and the headers every response carries.
import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';

/**
 * The client's address. Behind `trustedProxies` proxies, each appending the address it saw to
 * X-Forwarded-For, the client is the entry that many places from the end; anything further
 * left was written by the client itself and proves nothing. Without trusted proxies (or with a
 * header shorter than the chain), the socket's address.
 */
export function clientIp(req: IncomingMessage, trustedProxies: number): string | null {
  const socketAddress = req.socket.remoteAddress ?? null;
  if (trustedProxies <= 0) return socketAddress;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((hop) => hop.trim())
    .filter((hop) => hop.length > 0);
  const candidate = hops[hops.length - trustedProxies];
  return candidate && /^[0-9a-fA-F:.]{2,45}$/.test(candidate) ? candidate : socketAddress;
}

/**
 * Why a request body cannot be read, as an HTTP status: 413 when it says it is larger than
 * `maxBytes`, 411 when it does not say (chunked: the app always sends a length). null when fine.
 */
export function bodyRefusal(req: IncomingMessage, maxBytes: number): 411 | 413 | null {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > maxBytes ? 413 : null;
  return req.headers['transfer-encoding'] ? 411 : null;
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Security headers on every response; a strict CSP except on the GraphiQL page (inline scripts). */
export const securityHeadersPlugin: Plugin = {
  onResponse({ response }) {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
    if (!response.headers.get('content-type')?.startsWith('text/html')) {
      response.headers.set('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    }
  },
};
