// Authentication: the caller's JWT (HS256 with JWT_SECRET, or a JWKS in production).
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { GraphQLError } from 'graphql';
import { config } from './config.ts';

export type Role = 'customer' | 'credit-engine' | 'ops';
const ROLES: readonly Role[] = ['customer', 'credit-engine', 'ops'];

export interface Viewer {
  userId: string;
  roles: Role[];
  /** From the token's `locale` claim, when present. */
  locale?: string;
}

/** What authentication found: a viewer, or why there is none. */
export type AuthResult = { viewer: Viewer } | { viewer: null; reason: string };

const secret = new TextEncoder().encode(config.JWT_SECRET);
const jwks = config.JWT_JWKS_URL ? createRemoteJWKSet(new URL(config.JWT_JWKS_URL)) : null;
const verifyOptions = {
  ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}),
  ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}),
};

function viewerFromClaims(payload: JWTPayload): Viewer | null {
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 128) return null;
  const claimed = Array.isArray(payload.roles) ? payload.roles : [];
  const roles = ROLES.filter((role) => claimed.includes(role));
  const locale = typeof payload.locale === 'string' ? payload.locale : undefined;
  return { userId: payload.sub, roles: roles.length > 0 ? roles : ['customer'], ...(locale ? { locale } : {}) };
}

/** Verifies an `Authorization` value ("Bearer <JWT>"). */
export async function authenticate(authorization: string | null | undefined): Promise<AuthResult> {
  if (!authorization) return { viewer: null, reason: 'missing token' };
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match?.[1]) return { viewer: null, reason: 'malformed Authorization header' };
  try {
    const { payload } = jwks
      ? await jwtVerify(match[1], jwks, verifyOptions)
      : await jwtVerify(match[1], secret, { ...verifyOptions, algorithms: ['HS256'] });
    const viewer = viewerFromClaims(payload);
    return viewer ? { viewer } : { viewer: null, reason: 'token has no valid sub' };
  } catch {
    return { viewer: null, reason: 'invalid or expired token' };
  }
}

/** Signs a token with the configured secret: for development, tests and the demo. */
export function signToken(userId: string, roles: Role[] = ['customer'], extra: JWTPayload = {}, expiresIn: string | number = '12h') {
  return new SignJWT({ ...extra, roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(secret);
}

export function requireViewer(auth: AuthResult): Viewer {
  if (auth.viewer) return auth.viewer;
  throw new GraphQLError(`Authentication required: ${auth.reason}`, { extensions: { code: 'UNAUTHENTICATED' } });
}

export function requireRole(auth: AuthResult, ...allowed: Role[]): Viewer {
  const viewer = requireViewer(auth);
  if (viewer.roles.some((role) => allowed.includes(role))) return viewer;
  throw new GraphQLError(`This operation needs the role ${allowed.join(' or ')}`, { extensions: { code: 'FORBIDDEN' } });
}

/** Staff and services may read any user's objects; customers only their own. */
export function canSeeAll(viewer: Viewer): boolean {
  return viewer.roles.includes('ops') || viewer.roles.includes('credit-engine');
}
