// The served schema: the committed schema.graphql is what the code serves (CI fails when it is
// stale), and it keeps every promise of the public contract.
import { readFileSync } from 'node:fs';
import { buildSchema, findBreakingChanges, printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../src/schema/index.ts';

const root = new URL('..', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

describe('the GraphQL schema', () => {
  it('is the committed schema.graphql (run `npm run schema:print` after changing it)', () => {
    expect(`${printSchema(schema)}\n`).toBe(read('schema.graphql'));
  });

  it('has no breaking change against the public contract', () => {
    const contract = buildSchema(read('../shared/contract/schema.graphql'));
    expect(findBreakingChanges(contract, schema)).toEqual([]);
  });
});
