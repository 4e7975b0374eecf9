// The Node interface, and `node` / `nodes`: any object by its id, as Relay and urql's graphcache
// refetch it. Visible as through the typed fields: another user's object is null.
import { GraphQLError } from 'graphql';
import { isUuid } from '../domain/errors.ts';
import { loadNodes, MAX_NODE_IDS, nodeTypesOf, type NodeType } from '../domain/nodes.ts';
import { builder } from './builder.ts';
import { requireViewer } from './guards.ts';

/** What `node` and `nodes` return: the row, and the type whose table holds it. */
interface FoundNode {
  id: string;
  __nodeType?: NodeType;
}

export const NodeRef = builder.interfaceRef<FoundNode>('Node').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
  resolveType: (node) => node.__nodeType ?? null,
});

/** The ids' objects the viewer may see, in the ids' order (null for the others), from one lookup. */
async function nodesFor(viewer: Parameters<typeof nodeTypesOf>[0], ids: readonly string[]): Promise<Array<FoundNode | null>> {
  const canonical = ids.map((id) => (isUuid(id) ? id.toLowerCase() : id));
  const types = await nodeTypesOf(viewer, canonical);
  const byType = new Map<NodeType, string[]>();
  for (const [id, type] of types) byType.set(type, [...(byType.get(type) ?? []), id]);
  const rows = new Map<string, FoundNode>();
  await Promise.all(
    [...byType].map(async ([type, typeIds]) => {
      for (const row of await loadNodes(type, typeIds)) rows.set(row.id, { ...row, __nodeType: type });
    }),
  );
  return canonical.map((id) => rows.get(id) ?? null);
}

builder.queryFields((t) => ({
  node: t.field({
    type: NodeRef,
    nullable: true,
    description: 'Any object by its id; null when not found or not visible to the caller.',
    args: { id: t.arg.id() },
    resolve: async (_root, { id }, ctx) => (await nodesFor(requireViewer(ctx.auth), [id]))[0] ?? null,
  }),
  nodes: t.field({
    type: [NodeRef],
    nullable: { list: false, items: true },
    description: `Objects by their ids (at most ${MAX_NODE_IDS}), in the same order; null for each one not found or not visible.`,
    args: { ids: t.arg.idList() },
    resolve: async (_root, { ids }, ctx) => {
      const viewer = requireViewer(ctx.auth);
      if (ids.length > MAX_NODE_IDS) {
        throw new GraphQLError(`At most ${MAX_NODE_IDS} ids in one nodes request`, { extensions: { code: 'BAD_USER_INPUT' } });
      }
      return nodesFor(viewer, ids);
    },
  }),
}));
