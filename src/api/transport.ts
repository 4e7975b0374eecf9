// What the edge does for every HTTP request before GraphQL: the client's address, the size of
// the body, and the headers every response carries.
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
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

/** The eight 16-bit groups of an IPv6 address (an IPv4 tail included), or null. */
function ipv6Groups(address: string): number[] | null {
  if (!isIPv6(address)) return null;
  let text = address.replace(/%.*$/, ''); // a zone id names an interface, not a client
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4) {
    const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const part = (p: string | null | undefined) => (p ? p.split(':').map((g) => parseInt(g, 16)) : []);
  const left = part(head);
  const right = part(tail);
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
}

const hex = (groups: number[]) => groups.map((g) => g.toString(16)).join(':');

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it carries. */
function mappedIPv4(groups: number[]): string | null {
  if (groups.slice(0, 5).some((g) => g !== 0) || groups[5] !== 0xffff) return null;
  return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
}

/**
 * The key of an address in per-address limits: an IPv4 address as it is, an IPv6 address by its
 * /64 (one subscriber's network: a host picks any of its 2^64 addresses, each would otherwise be
 * a fresh budget).
 */
export function addressKey(address: string | null): string {
  if (!address) return 'unknown';
  const groups = ipv6Groups(address);
  if (!groups) return address;
  return mappedIPv4(groups) ?? `${hex(groups.slice(0, 4))}::/64`;
}

/** An address as logs may carry it: its IPv4 /24 or IPv6 /48, never the client's own address. */
export function addressForLogs(address: string | null): string {
  if (!address || address === 'unknown') return 'unknown';
  const groups = ipv6Groups(address.replace(/\/\d+$/, ''));
  const v4 = isIPv4(address) ? address : groups ? mappedIPv4(groups) : null;
  if (v4) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  return groups ? `${hex(groups.slice(0, 3))}::/48` : 'unknown';
}

/**
 * Calls `noticed` for every request that carries X-Forwarded-For while no proxy is trusted:
 * behind a load balancer with TRUSTED_PROXIES=0, every client would share the balancer's address
 * (one rate limit bucket, and the balancer's address in consent evidence).
 */
export function forwardedForWatch(trustedProxies: number, noticed: () => void) {
  return (req: IncomingMessage) => {
    if (trustedProxies === 0 && req.headers['x-forwarded-for'] !== undefined) noticed();
  };
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
