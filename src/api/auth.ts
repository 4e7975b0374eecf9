// Authentication: the caller's JWT (HS256 with JWT_SECRET, or a JWKS in production).
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ROLES, type AuthResult, type Role, type Viewer } from '../domain/viewer.ts';

export interface AuthSettings {
  jwtSecret: string;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

function viewerFromClaims(payload: JWTPayload): Viewer | null {
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 128) return null;
  const claimed = Array.isArray(payload.roles) ? payload.roles : [];
  const roles = ROLES.filter((role) => claimed.includes(role));
  const locale = typeof payload.locale === 'string' ? payload.locale : undefined;
  return { userId: payload.sub, roles: roles.length > 0 ? roles : ['customer'], ...(locale ? { locale } : {}) };
}

export type Authenticate = (authorization: string | null | undefined) => Promise<AuthResult>;

/** Verifies `Authorization` values ("Bearer <JWT>") with the configured key. */
export function createAuthenticator(settings: AuthSettings): Authenticate {
  const secret = new TextEncoder().encode(settings.jwtSecret);
  const jwks = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : null;
  const verifyOptions = {
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
  return async function authenticate(authorization) {
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
  };
}

/** Signs tokens with the configured secret: for development, tests and the demo. */
export function tokenSigner(jwtSecret: string) {
  const secret = new TextEncoder().encode(jwtSecret);
  return function signToken(userId: string, roles: Role[] = ['customer'], extra: JWTPayload = {}, expiresIn: string | number = '12h') {
    return new SignJWT({ ...extra, roles })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(secret);
  };
}
