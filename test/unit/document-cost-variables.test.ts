// The cost rule counts `first` as execution will see it: a variable's default counts when the
// request leaves the variable out (before, `query($n: Int = 100)` was costed at the default page).
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { costLimitError, operationCost } from '../../src/api/document-cost.ts';
import { schema } from '../../src/schema/index.ts';

const OFFERS = (definition: string) => parse(`query (${definition}) { me { offers(first: $n) { id status } } }`);

describe('the cost of a list read through a variable', () => {
  it("uses the variable's default when the request leaves it out", () => {
    expect(operationCost(schema, OFFERS('$n: Int = 100'), null, {})).toBe(1 + 1 + 100 * 2);
  });

  it('uses the value sent over the default', () => {
    expect(operationCost(schema, OFFERS('$n: Int = 100'), null, { n: 5 })).toBe(1 + 1 + 5 * 2);
  });

  it('uses the default page without value or default', () => {
    expect(operationCost(schema, OFFERS('$n: Int'), null, {})).toBe(1 + 1 + 20 * 2);
  });

  it('refuses a document whose default makes it too costly', () => {
    expect(costLimitError(schema, OFFERS('$n: Int = 100'), null, {}, 100)?.extensions.code).toBe('QUERY_TOO_COSTLY');
  });
});
