// Authentication: the caller's JWT (HS256 with JWT_SECRET, or RS256/ES256 from a JWKS).
// Every token must expire (`exp`), live at most the configured lifetime (from `iat` and from
// now; an `iat` in the future is refused), and, from a JWKS (or with requireIssuerAudience), name
// the configured issuer and audience. Clock differences are tolerated up to a few seconds.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { hasControlCharacters } from '../domain/errors.ts';
import { ROLES, type AuthResult, type Role, type Viewer } from '../domain/viewer.ts';

type AuthSuccess = Extract<AuthResult, { viewer: Viewer }>;

export interface AuthSettings {
  jwtSecret: string;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** The longest a token may live: exp - iat and exp - now, in seconds. */
  maxLifetimeSeconds: number;
  /** HS256 tokens must carry `iss` and `aud` (checked against issuer and audience whenever those are set). */
  requireIssuerAudience?: boolean;
  /** At most 5 s by the contract. */
  clockToleranceSeconds: number;
  /**
   * `exp` required and the lifetime capped (default). Off only for the bench's on/off comparison
   * (EDGE_PROTECTIONS_OFF=token-checks, refused in production): a token then needs no `exp`.
   */
  tokenChecks?: boolean;
  /** Valid tokens remembered (until they expire) so their signature is checked once; 0 checks it every time. */
  cacheSize?: number;
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
  // Imported once: given bytes, jose would import the key again for every token.
  let key: Promise<CryptoKey> | null = null;
  const hmacKey = () =>
    (key ??= crypto.subtle.importKey('raw', new TextEncoder().encode(settings.jwtSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']));
  const jwks = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : null;
  const tokenChecks = settings.tokenChecks ?? true;
  const common: JWTVerifyOptions = {
    clockTolerance: Math.min(settings.clockToleranceSeconds, 5),
    requiredClaims: tokenChecks ? ['exp', 'sub'] : ['sub'],
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
  const jwksOptions: JWTVerifyOptions = { ...common, algorithms: JWKS_ALGORITHMS, requiredClaims: ['exp', 'sub', 'iss', 'aud'] };
  const secretOptions: JWTVerifyOptions = {
    ...common,
    algorithms: ['HS256'],
    ...(settings.requireIssuerAudience ? { requiredClaims: [...(common.requiredClaims ?? []), 'iss', 'aud'] } : {}),
  };

  // An `iat` in the future would stretch `exp - iat` over any lifetime: refused beyond the
  // tolerance, and the lifetime left (exp - now) is capped as well.
  const lifetimeRefusal = (payload: JWTPayload): string | null => {
    if (!tokenChecks) return null;
    const now = Math.floor(Date.now() / 1000);
    const tolerance = common.clockTolerance as number;
    if (typeof payload.iat === 'number' && payload.iat > now + tolerance) return 'token issued in the future';
    const exp = payload.exp!;
    const start = typeof payload.iat === 'number' ? payload.iat : now;
    return exp - start > settings.maxLifetimeSeconds || exp - now > settings.maxLifetimeSeconds + tolerance ? 'token lives longer than allowed' : null;
  };

  const verified = new VerifiedTokens(settings.cacheSize ?? 10_000, common.clockTolerance as number);
  return async function authenticate(authorization) {
    if (!authorization) return { viewer: null, reason: 'missing token' };
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match?.[1]) return { viewer: null, reason: 'malformed Authorization header' };
    const token = match[1];
    const known = verified.get(token);
    if (known) return known;
    try {
      const { payload } = jwks ? await jwtVerify(token, jwks, jwksOptions) : await jwtVerify(token, await hmacKey(), secretOptions);
      const refusal = lifetimeRefusal(payload);
      if (refusal) return { viewer: null, reason: refusal };
      const viewer = viewerFromClaims(payload);
      if (!viewer) return { viewer: null, reason: 'token has no valid sub' };
      const result = {
        viewer,
        expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
        tokenId: typeof payload.jti === 'string' && payload.jti.length > 0 && payload.jti.length <= 128 ? payload.jti : `sha256:${createHash('sha256').update(token).digest('hex')}`,
        issuedAt: typeof payload.iat === 'number' ? payload.iat * 1000 : null,
      };
      verified.set(token, result);
      return result;
    } catch {
      return { viewer: null, reason: 'invalid or expired token' };
    }
  };
}

/**
 * Tokens verified already, until they expire: an app sends the same token with every request of
 * its hour, and verifying its signature again each time is most of what authentication costs.
 * Only valid tokens are kept (with their expiry checked on every use); the oldest go first.
 */
class VerifiedTokens {
  private readonly entries = new Map<string, AuthSuccess>();

  constructor(
    private readonly size: number,
    private readonly toleranceSeconds: number,
  ) {}

  get(token: string): AuthSuccess | null {
    const entry = this.entries.get(token);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt + this.toleranceSeconds * 1000 <= Date.now()) {
      this.entries.delete(token);
      return null;
    }
    return entry;
  }

  set(token: string, result: AuthSuccess) {
    if (this.size === 0) return;
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, result);
  }
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** '90s', '15m', '1h', '1d' (or a number of seconds) as seconds. */
function durationSeconds(duration: string | number): number {
  if (typeof duration === 'number') return duration;
  const match = /^(\d+)\s*([smhd])$/.exec(duration.trim());
  if (!match) throw new Error(`token lifetime ${JSON.stringify(duration)}: expected a number of seconds or e.g. '90s', '15m', '1h', '1d'`);
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

/**
 * Signs tokens with the configured secret: for development, tests, the demo and the bench. One
 * hour by default, the longest allowed. `iat` and `exp` come from one reading of the clock: set
 * apart (jose reads the clock for each), a second boundary between the two readings made a
 * token of exactly the longest lifetime live one second longer, and it was refused.
 */
export function tokenSigner(jwtSecret: string) {
  const secret = new TextEncoder().encode(jwtSecret);
  return function signToken(userId: string, roles: Role[] = ['customer'], extra: JWTPayload = {}, lifetime: string | number = '1h') {
    const issuedAt = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...extra, roles })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + durationSeconds(lifetime))
      .sign(secret);
  };
}
