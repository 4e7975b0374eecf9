// Sessions of the admin port's browser sign-in: the cookie holds an opaque random id, never the
// token; Redis maps the id's sha256 to the token's subject and roles, until the token expires.
import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../platform/redis.ts';

export interface AdminSession {
  userId: string;
  roles: string[];
}

export interface AdminSessions {
  /** A new session for `session` that ends at `expiresAt` (ms since the epoch): its id, for the cookie. */
  create(session: AdminSession, expiresAt: number): Promise<string>;
  /** The session of an id, or null (unknown, expired, or Redis unreachable). */
  get(id: string): Promise<AdminSession | null>;
}

export function redisAdminSessions(redis: RedisClient, prefix: string): AdminSessions {
  // Only the id's hash is stored: a copy of Redis yields no cookie that signs anyone in.
  const key = (id: string) => `${prefix}:admin-session:${createHash('sha256').update(id).digest('hex')}`;
  return {
    async create(session, expiresAt) {
      const id = randomBytes(32).toString('base64url');
      await redis.set(key(id), JSON.stringify(session), 'PX', Math.max(1, expiresAt - Date.now()));
      return id;
    },
    async get(id) {
      if (!/^[\w-]{43}$/.test(id)) return null;
      const stored = await redis.get(key(id)).catch(() => null);
      return stored ? (JSON.parse(stored) as AdminSession) : null;
    },
  };
}
