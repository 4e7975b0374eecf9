// The statements a piece of code sends to PostgreSQL, caught on the wire (every pg client of this
// process: Prisma's pool and raw queries alike), and what the planner would do with each.
import pg from 'pg';

export interface Statement {
  text: string;
  values: unknown[];
}

interface QueryConfig {
  text?: string;
  values?: unknown[];
}

/** The statements `action` sends (queries only: not BEGIN, COMMIT, SET, ...), with their parameters. */
export async function statementsOf(action: () => Promise<unknown>): Promise<Statement[]> {
  const caught: Statement[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, values?: unknown, ...rest: unknown[]) {
    const text = typeof config === 'string' ? config : (config as QueryConfig)?.text;
    const params = Array.isArray(values) ? values : ((config as QueryConfig)?.values ?? []);
    if (text && /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(text)) caught.push({ text, values: params });
    return (original as (...args: unknown[]) => unknown).call(this, config, values, ...rest);
  } as typeof original;
  try {
    await action();
  } finally {
    pg.Client.prototype.query = original;
  }
  return caught;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'CTE Name'?: string;
  'Plan Rows': number;
  Plans?: PlanNode[];
}

/** The plan PostgreSQL would run the statement with (EXPLAIN does not execute it). */
export async function planOf(db: pg.Client, statement: Statement): Promise<PlanNode> {
  const { rows } = await db.query({ text: `EXPLAIN (FORMAT JSON) ${statement.text}`, values: statement.values });
  return (rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
}

/** Every node of a plan (EXPLAIN's, or EXPLAIN ANALYZE's with its actual rows). */
export function* planNodes<N extends { Plans?: N[] }>(plan: N): Generator<N> {
  yield plan;
  for (const child of plan.Plans ?? []) yield* planNodes(child);
}

export interface PlanRules {
  /** Tables too large to be read whole by a hot or periodic statement. */
  largeTables: ReadonlySet<string>;
  /** A sort of more rows than this is a sort of a whole user's list (or worse). */
  maxSortedRows: number;
}

/** What is wrong with a plan: a sequential scan of a large table, a sort of too many rows. */
export function planProblems(plan: PlanNode, rules: PlanRules): string[] {
  const problems: string[] = [];
  for (const node of planNodes(plan)) {
    if (node['Node Type'] === 'Seq Scan' && rules.largeTables.has(node['Relation Name'] ?? '')) {
      problems.push(`Seq Scan on ${node['Relation Name']}`);
    }
    const sorted = node.Plans?.[0]?.['Plan Rows'] ?? 0;
    if ((node['Node Type'] === 'Sort' || node['Node Type'] === 'Incremental Sort') && sorted > rules.maxSortedRows) {
      problems.push(`${node['Node Type']} of ${sorted} rows`);
    }
  }
  return problems;
}

/**
 * The joins of a plan whose two sides are both the statement's own CTEs (through a Hash, Sort or
 * Materialize): rows the planner cannot estimate, joined by a guess. Each as "Node Type (cte, cte)".
 */
export function joinsOfItsOwnResults(plan: PlanNode): string[] {
  const cteUnder = (node: PlanNode): string | null =>
    node['Node Type'] === 'CTE Scan'
      ? (node['CTE Name'] ?? 'cte')
      : ['Hash', 'Sort', 'Materialize'].includes(node['Node Type']) && node.Plans?.length === 1
        ? cteUnder(node.Plans[0]!)
        : null;
  const joins: string[] = [];
  for (const node of planNodes(plan)) {
    if (!['Nested Loop', 'Hash Join', 'Merge Join'].includes(node['Node Type']) || node.Plans?.length !== 2) continue;
    const [outer, inner] = node.Plans.map(cteUnder);
    if (outer && inner) joins.push(`${node['Node Type']} (${outer}, ${inner})`);
  }
  return joins;
}

/** Each statement with what is wrong with its plan; only the ones with something wrong. */
export async function badPlans(db: pg.Client, statements: Statement[], rules: PlanRules) {
  const bad: { statement: string; problems: string[] }[] = [];
  for (const statement of statements) {
    const problems = planProblems(await planOf(db, statement), rules);
    if (problems.length > 0) bad.push({ statement: statement.text.replace(/\s+/g, ' ').slice(0, 400), problems });
  }
  return bad;
}
