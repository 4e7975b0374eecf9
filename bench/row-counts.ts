// What a phase wrote: rows per table before and after it. The plain-SQL loop must write what the
// service writes for a deployment; comparing the rows each table gained per deployment in both
// shows when the loop (bench/sql-limit.ts) is out of step with the service's code.
import type pg from 'pg';

export type RowCounts = Record<string, number>;

export async function rowCounts(db: pg.Pool): Promise<RowCounts> {
  const { rows: tables } = await db.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY tablename`,
  );
  const counts = await Promise.all(tables.map(async (t) => (await db.query(`SELECT count(*)::int AS n FROM "${t.name}"`)).rows[0].n as number));
  return Object.fromEntries(tables.map((t, i) => [t.name, counts[i]!]));
}

/** Rows gained per table, per deployment (two decimals). */
export function gainedPer(before: RowCounts, after: RowCounts, deployments: number): RowCounts {
  return Object.fromEntries(Object.keys(after).map((t) => [t, Math.round((((after[t] ?? 0) - (before[t] ?? 0)) / deployments) * 100) / 100]));
}

export interface WritesComparison {
  /** Rows gained per deployment, by table: the service's drain and the SQL loop. */
  tables: { table: string; service: number; sqlLoop: number }[];
  /** True when every table gained the same rows per deployment in both. */
  same: boolean;
}

export function compareWrites(service: RowCounts, sqlLoop: RowCounts): WritesComparison {
  const names = [...new Set([...Object.keys(service), ...Object.keys(sqlLoop)])].sort();
  const tables = names
    .map((table) => ({ table, service: service[table] ?? 0, sqlLoop: sqlLoop[table] ?? 0 }))
    .filter((t) => t.service !== 0 || t.sqlLoop !== 0);
  return { tables, same: tables.every((t) => t.service === t.sqlLoop) };
}
