// Authentication: the caller's JWT (HS256 with JWT_SECRET, or RS256/ES256 from a JWKS).
// Every token must expire (`exp`), live at most the configured lifetime, and, from a JWKS, name
// the configured issuer and audience. Clock differences are tolerated up to a few seconds.
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { hasControlCharacters } from '../domain/errors.ts';
import { ROLES, type AuthResult, type Role, type Viewer } from '../domain/viewer.ts';

export interface AuthSettings {
  jwtSecret: string;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** The longest a token may live: exp - iat (or exp - now without iat), in seconds. */
  maxLifetimeSeconds: number;
  /** At most 5 s by the contract. */
  clockToleranceSeconds: number;
  /**
   * `exp` required and the lifetime capped (default). Off only for the bench's on/off comparison
   * (EDGE_PROTECTIONS_OFF=token-checks, refused in production): a token then needs no `exp`.
   */
  tokenChecks?: boolean;
}

/** The algorithms of identity providers' keys; a JWKS token signed any other way is refused. */
const JWKS_ALGORITHMS = ['RS256', 'ES256'];

function viewerFromClaims(payload: JWTPayload): Viewer | null {
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128 || hasControlCharacters(sub)) return null;
  const claimed = Array.isArray(payload.roles) ? payload.roles : [];
  const roles = ROLES.filter((role) => claimed.includes(role));
  const locale = typeof payload.locale === 'string' ? payload.locale : undefined;
  return { userId: sub, roles: roles.length > 0 ? roles : ['customer'], ...(locale ? { locale } : {}) };
}

export type Authenticate = (authorization: string | null | undefined) => Promise<AuthResult>;

/** Verifies `Authorization` values ("Bearer <JWT>") with the configured key. */
export function createAuthenticator(settings: AuthSettings): Authenticate {
  const secret = new TextEncoder().encode(settings.jwtSecret);
  const jwks = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : null;
  const tokenChecks = settings.tokenChecks ?? true;
  const common: JWTVerifyOptions = {
    clockTolerance: Math.min(settings.clockToleranceSeconds, 5),
    requiredClaims: tokenChecks ? ['exp', 'sub'] : ['sub'],
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
  const jwksOptions: JWTVerifyOptions = { ...common, algorithms: JWKS_ALGORITHMS, requiredClaims: ['exp', 'sub', 'iss', 'aud'] };
  const secretOptions: JWTVerifyOptions = { ...common, algorithms: ['HS256'] };

  const lifetimeExceeded = (payload: JWTPayload) => {
    if (!tokenChecks) return false;
    const exp = payload.exp!;
    const start = typeof payload.iat === 'number' ? payload.iat : Math.floor(Date.now() / 1000);
    return exp - start > settings.maxLifetimeSeconds;
  };

  return async function authenticate(authorization) {
    if (!authorization) return { viewer: null, reason: 'missing token' };
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match?.[1]) return { viewer: null, reason: 'malformed Authorization header' };
    try {
      const { payload } = jwks ? await jwtVerify(match[1], jwks, jwksOptions) : await jwtVerify(match[1], secret, secretOptions);
      if (lifetimeExceeded(payload)) return { viewer: null, reason: 'token lives longer than allowed' };
      const viewer = viewerFromClaims(payload);
      return viewer ? { viewer, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null } : { viewer: null, reason: 'token has no valid sub' };
    } catch {
      return { viewer: null, reason: 'invalid or expired token' };
    }
  };
}

/** Signs tokens with the configured secret: for development, tests and the demo. One hour by default, the longest allowed. */
export function tokenSigner(jwtSecret: string) {
  const secret = new TextEncoder().encode(jwtSecret);
  return function signToken(userId: string, roles: Role[] = ['customer'], extra: JWTPayload = {}, expiresIn: string | number = '1h') {
    return new SignJWT({ ...extra, roles })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(secret);
  };
}
