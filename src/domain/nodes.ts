// Objects by id alone (the GraphQL `node` and `nodes` fields that Relay and urql refetch with):
// which table holds each id, asked of every Node type's table in one statement; then the rows,
// one query per type found (the one type of a `node`). Ids keep their
// formats (UUIDs for offers, deployments and notifications, which do not collide; users' ids are
// their token's `sub`). Only what the viewer may see is found: another user's object is not.
import { visibleOwner, type Viewer } from './viewer.ts';
import { isUuid } from './errors.ts';
import { prisma } from '../platform/db.ts';

export type NodeType = 'User' | 'CreditOffer' | 'CreditDeployment' | 'Notification' | 'LimitChange';

/** At most this many ids in one `nodes` request. */
export const MAX_NODE_IDS = 100;

/** The type of each id the viewer may see; ids not found (or not theirs) are absent. */
export async function nodeTypesOf(viewer: Viewer, ids: readonly string[]): Promise<Map<string, NodeType>> {
  const unique = [...new Set(ids)];
  const uuids = unique.filter(isUuid);
  if (unique.length === 0) return new Map();
  const owner = visibleOwner(viewer);
  // Users' ids are compared as text; the other tables' only with ids that are UUIDs (the cast would fail on others).
  const rows = await prisma.$queryRaw<Array<{ id: string; type: NodeType }>>`
    SELECT id, 'User' AS type FROM users WHERE id = ANY(${unique}::text[]) AND (${owner}::text IS NULL OR id = ${owner}::text)
    UNION ALL
    SELECT id::text, 'CreditOffer' FROM credit_offers WHERE id = ANY(${uuids}::uuid[]) AND (${owner}::text IS NULL OR user_id = ${owner}::text)
    UNION ALL
    SELECT id::text, 'CreditDeployment' FROM credit_deployments WHERE id = ANY(${uuids}::uuid[]) AND (${owner}::text IS NULL OR user_id = ${owner}::text)
    UNION ALL
    SELECT id::text, 'Notification' FROM notifications WHERE id = ANY(${uuids}::uuid[]) AND (${owner}::text IS NULL OR user_id = ${owner}::text)
    UNION ALL
    SELECT id::text, 'LimitChange' FROM limit_changes WHERE id = ANY(${uuids}::uuid[]) AND (${owner}::text IS NULL OR user_id = ${owner}::text)`;
  return new Map(rows.map((row) => [row.id, row.type]));
}

/** The rows of ids of one type (full rows: the schema's fields read their columns). */
export function loadNodes(type: NodeType, ids: string[]): Promise<Array<{ id: string }>> {
  const where = { where: { id: { in: ids } } };
  switch (type) {
    case 'User':
      return prisma.user.findMany(where);
    case 'CreditOffer':
      return prisma.creditOffer.findMany(where);
    case 'CreditDeployment':
      return prisma.creditDeployment.findMany(where);
    case 'Notification':
      return prisma.notification.findMany(where);
    case 'LimitChange':
      return prisma.limitChange.findMany(where);
  }
}
