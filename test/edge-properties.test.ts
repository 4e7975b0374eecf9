// A property of the whole edge: whatever one customer sends over HTTP (random documents walked
// from the schema, random arguments aimed at another user's ids, junk text, random headers), the
// API never answers 500, never sends an oversized response, never shows another user's data, and
// changes nothing unless the document is a mutation (every table's row count and the profiles'
// versions compared before and after). 2,000 cases by default; EDGE_PROPERTY_RUNS for more.
import fc from 'fast-check';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { schema } from '../src/schema/index.ts';
import { engineToken, gql, newUserId, token } from './support/client.ts';
import { ISSUE_OFFER } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const RUNS = Number(process.env.EDGE_PROPERTY_RUNS ?? 2000);
const MAX_RESPONSE_BYTES = 1024 * 1024;
// Limits far above what the cases send: the property is about what runs, not about being refused.
const service = serviceForTests({
  worker: false,
  config: {
    ...testConfig,
    RATE_LIMIT_USER_BUDGET_PER_MINUTE: 1_000_000_000,
    RATE_LIMIT_USER_MUTATIONS_PER_MINUTE: 1_000_000,
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: 1_000_000,
  },
});

/** The other user: every id and amount of theirs must stay out of the attacker's data. */
const VICTIM_LIMIT_CENTS = 987_654_321;
let victim: { userId: string; offerId: string; deploymentId: string };
let attacker: { userId: string; offerId: string; jwt: string };

beforeAll(async () => {
  const issue = async (userId: string, limitCents: number) => {
    const input = { userId, limitCents, interestRateBps: 123, expiresAt: new Date(Date.now() + 86_400_000).toISOString() };
    return (await gql(service.url, ISSUE_OFFER, { input }, await engineToken())).data.issueCreditOffer.offer.id as string;
  };
  const victimId = newUserId('victim');
  const victimOffer = await issue(victimId, VICTIM_LIMIT_CENTS);
  const accepted = await gql(service.url, 'mutation ($id: ID!) { acceptOffer(offerId: $id) { ... on AcceptOfferSuccess { deployment { id } } } }', { id: victimOffer }, await token(victimId));
  victim = { userId: victimId, offerId: await issue(victimId, VICTIM_LIMIT_CENTS), deploymentId: accepted.data.acceptOffer.deployment.id };
  const attackerId = newUserId('attacker');
  attacker = { userId: attackerId, offerId: await issue(attackerId, 50_000), jwt: await token(attackerId) };
  await gql(service.url, '{ me { id } }', {}, attacker.jwt); // the attacker's user row exists before the first snapshot
});

// ---- documents walked from the schema ----

const ids = () => fc.constantFrom(victim.offerId, victim.deploymentId, victim.userId, attacker.offerId, attacker.userId, '00000000-0000-4000-8000-000000000000', 'not-a-uuid', 'a\u0000b', '');

function valueOf(type: GraphQLInputType, depth: number): fc.Arbitrary<string> {
  const inner = getNullableType(type) as GraphQLInputType;
  if (isListType(inner)) return fc.array(valueOf(inner.ofType, depth + 1), { maxLength: 3 }).map((values) => `[${values.join(', ')}]`);
  if (isEnumType(inner)) return fc.constantFrom(...inner.getValues().map((v) => v.name), 'NOPE');
  if (isInputObjectType(inner)) {
    if (depth > 2) return fc.constant('{}');
    const fields = Object.values(inner.getFields());
    return fc.tuple(...fields.map((f) => fc.option(valueOf(f.type, depth + 1), { nil: undefined, freq: 4 }))).map(
      (values) => `{ ${fields.flatMap((f, i) => (values[i] === undefined ? [] : [`${f.name}: ${values[i]}`])).join(', ')} }`,
    );
  }
  if (isScalarType(inner)) {
    switch (inner.name) {
      case 'ID':
        return ids().map((id) => JSON.stringify(id));
      case 'Int':
      case 'SafeInt':
        return fc.constantFrom('0', '1', '-1', '20', '100', '101', '2147483648', '9007199254740993', '"7"');
      case 'Boolean':
        return fc.constantFrom('true', 'false', 'null');
      default:
        return fc.oneof(fc.constantFrom('"BRL"', '"2030-01-01T00:00:00Z"', '"x"', 'null'), fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)));
    }
  }
  return fc.constant('null');
}

const argsOf = (args: readonly GraphQLArgument[]): fc.Arbitrary<string> =>
  args.length === 0
    ? fc.constant('')
    : fc
        .tuple(...args.map((a) => fc.option(valueOf(a.type, 0), { nil: undefined, freq: isNonNullType(a.type) ? 20 : 2 })))
        .map((values) => {
          const given = args.flatMap((a, i) => (values[i] === undefined ? [] : [`${a.name}: ${values[i]}`]));
          return given.length > 0 ? `(${given.join(', ')})` : '';
        });

function selectionOf(type: GraphQLNamedType, depth: number): fc.Arbitrary<string> {
  if (isUnionType(type) || isInterfaceType(type)) {
    const members = isUnionType(type) ? type.getTypes() : schema.getPossibleTypes(type);
    return fc
      .subarray([...members], { minLength: 1, maxLength: Math.min(3, members.length) })
      .chain((chosen) => fc.tuple(...chosen.map((member) => selectionOf(member, depth + 1).map((s) => `... on ${member.name} ${s}`))))
      .map((parts) => `{ __typename ${parts.join(' ')} }`);
  }
  if (!isObjectType(type)) return fc.constant('');
  if (depth > 5) return fc.constant('{ __typename }');
  const fields = Object.values(type.getFields());
  return fc
    .uniqueArray(fc.constantFrom(...fields), { minLength: 1, maxLength: 4, selector: (f) => f.name })
    .chain((chosen) => fc.tuple(...chosen.map((f) => fieldOf(f, depth))))
    .map((parts) => `{ ${parts.join(' ')} }`);
}

const fieldOf = (field: GraphQLField<unknown, unknown>, depth: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.option(fc.constantFrom('a', 'b', 'c'), { freq: 5 }), argsOf(field.args), selectionOf(getNamedType(field.type), depth + 1))
    .map(([alias, args, selection]) => `${alias ? `${alias}: ` : ''}${field.name}${args} ${selection}`);

const operation = (kind: 'query' | 'mutation'): fc.Arbitrary<{ kind: string; text: string }> => {
  const root = kind === 'query' ? schema.getQueryType()! : schema.getMutationType()!;
  return fc
    .uniqueArray(fc.constantFrom(...Object.values(root.getFields())), { minLength: 1, maxLength: 3, selector: (f) => f.name })
    .chain((chosen) => fc.tuple(...chosen.map((f) => fieldOf(f, 0))))
    .map((parts) => ({ kind, text: `${kind} { ${parts.join(' ')} }` }));
};

const junk = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('{', 'query {', '{ me { id } } }', '{ __schema { types { name } } }'));

const request = fc.record({
  document: fc.oneof(
    { weight: 6, arbitrary: operation('query') },
    { weight: 3, arbitrary: operation('mutation') },
    { weight: 1, arbitrary: junk.map((text) => ({ kind: 'junk', text })) },
  ),
  variables: fc.oneof(fc.constant({}), fc.dictionary(fc.constantFrom('id', 'n', 'first'), fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null)), { maxKeys: 2 })),
  headers: fc.record(
    {
      'x-forwarded-for': fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })),
      'x-request-id': fc.string({ maxLength: 40 }),
      'user-agent': fc.string({ maxLength: 80 }),
      accept: fc.constantFrom('application/json', 'application/graphql-response+json', '*/*'),
    },
    { requiredKeys: [] },
  ),
  authorization: fc.constantFrom('attacker', 'attacker', 'attacker', 'none', 'malformed'),
});

// ---- what is compared ----

const TABLES = (await prisma.$queryRaw<{ name: string }[]>`
  SELECT table_name AS name FROM information_schema.tables
   WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations' ORDER BY 1`).map((t) => t.name);

async function snapshot(): Promise<string> {
  const counts = TABLES.map((t) => `(SELECT count(*) FROM "${t}")::text`).join(` || ',' || `);
  const [row] = await prisma.$queryRawUnsafe<{ state: string }[]>(
    `SELECT ${counts} || ';' || coalesce((SELECT string_agg(user_id || ':' || version, ',' ORDER BY user_id) FROM credit_profiles), '') AS state`,
  );
  return row!.state;
}

const headerValue = (value: string) => value.replace(/[^\x20-\x7e]/g, '');

describe('the edge, under random requests from one customer', () => {
  it(`never answers 500, oversized, with another user's data, or with a change from a non-mutation (${RUNS} cases)`, async () => {
    const victimMarks = [victim.userId, victim.offerId, victim.deploymentId, String(VICTIM_LIMIT_CENTS)];
    await fc.assert(
      fc.asyncProperty(request, async ({ document, variables, headers, authorization }) => {
        const before = document.kind === 'query' ? await snapshot() : null;
        const auth: Record<string, string> = authorization === 'attacker' ? { authorization: `Bearer ${attacker.jwt}` } : authorization === 'malformed' ? { authorization: 'Bearer nope' } : {};
        const response = await fetch(`${service.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, headerValue(v)])), ...auth },
          body: JSON.stringify({ query: document.text, variables }),
          signal: AbortSignal.timeout(20_000), // an answer that never comes fails the case, not the run
        });
        const text = await response.text();
        expect(response.status, `${response.status} for ${document.text}: ${text.slice(0, 300)}`).toBeLessThan(500);
        expect(text.length).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
        let data: unknown = null;
        try {
          data = (JSON.parse(text) as { data?: unknown }).data ?? null;
        } catch {
          data = null; // not JSON (e.g. a 4xx from the transport): no data in it
        }
        const shown = JSON.stringify(data);
        for (const mark of victimMarks) expect(shown, `another user's ${mark} in ${document.text}`).not.toContain(mark);
        if (before !== null) expect(await snapshot(), `a query changed something: ${document.text}`).toBe(before);
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: 10 * 60_000 },
    );
  }, 15 * 60_000);
});
