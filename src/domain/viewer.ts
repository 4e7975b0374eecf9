// Who is calling: the user a valid token names, with their roles. The API authenticates; the
// domain and the schema only read the viewer.

/** `ops` reads everything and the queue board; `ops-admin` may also retry or remove a job there. */
/** `operations-publisher`: an app's CI registering its persisted operations on the admin port, nothing else. */
export type Role = 'customer' | 'credit-engine' | 'ops' | 'ops-admin' | 'operations-publisher';
export const ROLES: readonly Role[] = ['customer', 'credit-engine', 'ops', 'ops-admin', 'operations-publisher'];

export interface Viewer {
  userId: string;
  roles: Role[];
  /** From the token's `locale` claim, when present. */
  locale?: string;
}

/** What authentication found: a viewer (and when the proof expires, ms since the epoch), or why there is none. */
export type AuthResult =
  | {
      viewer: Viewer;
      expiresAt: number | null;
      /** The token's `jti`, or "sha256:" and the token's hash: which token proved it (consent evidence). */
      tokenId?: string;
      /** The token's `iat`, ms since the epoch. */
      issuedAt?: number | null;
    }
  | { viewer: null; reason: string };

/**
 * A person's inbox (notifications, their deliveries) and credit history: the user themself, and
 * staff (read-only). Not the credit engine, which sees everything else it needs of any user.
 */
export function mayReadPersonal(viewer: Viewer, ownerId: string): boolean {
  return viewer.userId === ownerId || viewer.roles.some((role) => role === 'ops' || role === 'ops-admin');
}

/** Staff and services may read any user's objects; customers only their own. */
export function canSeeAll(viewer: Viewer): boolean {
  return viewer.roles.some((role) => role === 'ops' || role === 'ops-admin' || role === 'credit-engine');
}

/**
 * Whose offers and deployments (and nodes) the viewer may read by id: null for any user's, else
 * their own id. The one statement of the rule: Prisma filters (`visibleById`) and SQL take it from here.
 */
export function visibleOwner(viewer: Viewer): string | null {
  return canSeeAll(viewer) ? null : viewer.userId;
}

/** The filter for one object by id that the viewer may read (see visibleOwner). */
export function visibleById(viewer: Viewer, id: string): { id: string; userId?: string } {
  const owner = visibleOwner(viewer);
  return owner === null ? { id } : { id, userId: owner };
}
