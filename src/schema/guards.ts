// Authorization at the resolvers: a missing viewer is UNAUTHENTICATED, a missing role FORBIDDEN.
import { GraphQLError } from 'graphql';
import type { AuthResult, Role, Viewer } from '../domain/viewer.ts';

export function requireViewer(auth: AuthResult): Viewer {
  if (auth.viewer) return auth.viewer;
  throw new GraphQLError(`Authentication required: ${auth.reason}`, { extensions: { code: 'UNAUTHENTICATED' } });
}

export function requireRole(auth: AuthResult, ...allowed: Role[]): Viewer {
  const viewer = requireViewer(auth);
  if (viewer.roles.some((role) => allowed.includes(role))) return viewer;
  throw new GraphQLError(`This operation needs the role ${allowed.join(' or ')}`, { extensions: { code: 'FORBIDDEN' } });
}
