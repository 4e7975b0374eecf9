// What each table and each of its indexes holds on disk, partitions counted under their parent
// table and parent index: where a deployment's bytes go (bench/growth.ts).
import type pg from 'pg';

/** Bytes by `table` (heap, TOAST, free space and visibility maps) and by `table.index`. */
export type RelationSizes = Record<string, number>;

export async function relationSizes(db: pg.Pool): Promise<RelationSizes> {
  const { rows } = await db.query<{ name: string; bytes: string }>(
    `WITH tables AS (
       SELECT c.oid, coalesce(p.relname, c.relname) AS name
         FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
        WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace)
     SELECT name, sum(pg_table_size(oid))::bigint::text AS bytes FROM tables GROUP BY name
     UNION ALL
     SELECT t.name || '.' || coalesce(pi.relname, ic.relname), sum(pg_relation_size(ix.indexrelid))::bigint::text
       FROM tables t JOIN pg_index ix ON ix.indrelid = t.oid JOIN pg_class ic ON ic.oid = ix.indexrelid
       LEFT JOIN pg_inherits ii ON ii.inhrelid = ic.oid LEFT JOIN pg_class pi ON pi.oid = ii.inhparent
      GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes)]));
}

/** Updates so far by table (partitions under their parent): all of them, and those that were HOT (no index touched). */
export async function updateCounts(db: pg.Pool): Promise<Record<string, { updates: number; hot: number }>> {
  const { rows } = await db.query<{ name: string; updates: string; hot: string }>(
    `SELECT coalesce(p.relname, s.relname) AS name, sum(s.n_tup_upd)::bigint::text AS updates, sum(s.n_tup_hot_upd)::bigint::text AS hot
       FROM pg_stat_user_tables s LEFT JOIN pg_inherits i ON i.inhrelid = s.relid LEFT JOIN pg_class p ON p.oid = i.inhparent
      GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, { updates: Number(r.updates), hot: Number(r.hot) }]));
}

/** Growth between two measurements divided by `per`, relations that did not grow left out, largest first. */
export function growthPer(before: RelationSizes, after: RelationSizes, per: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([name, bytes]) => [name, Math.round((bytes - (before[name] ?? 0)) / per)] as const)
      .filter(([, bytes]) => bytes !== 0)
      .sort((a, b) => b[1] - a[1]),
  );
}
