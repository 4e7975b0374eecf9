// A client's manifest of persisted operations, read and checked before anything is stored: Apollo's
// format (what Apollo Kotlin's and Apollo iOS's codegen writes) or codegen's persisted-documents
// map (this repository's). Every operation must be valid against the served schema and within the
// document limits; one bad operation refuses the whole manifest, naming it.
import { createHash } from 'node:crypto';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { OperationType, RegisteredOperation } from '../domain/operation-registry.ts';
import { costLimitError } from './document-cost.ts';
import type { DocumentLimits } from './document-limits.ts';

export const APOLLO_MANIFEST_FORMAT = 'apollo-persisted-query-manifest';

/** Why a manifest was refused: every problem, each naming its operation. */
export class ManifestRefused extends Error {
  constructor(readonly problems: string[]) {
    super(`the manifest was refused, nothing was registered:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ManifestRefused';
  }
}

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

interface Entry {
  /** What the manifest calls it (its name, or its id when it has none). */
  label: string;
  id: string;
  body: string;
}

/** The manifest's entries, in either format; refused when it is neither. */
function entriesOf(manifest: unknown): Entry[] {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw new ManifestRefused(['a manifest is a JSON object: Apollo\'s persisted query manifest, or codegen\'s {"sha256:<hash>": "<document>"} map']);
  }
  const record = manifest as Record<string, unknown>;
  if ('format' in record || 'operations' in record) {
    if (record.format !== APOLLO_MANIFEST_FORMAT || record.version !== 1 || !Array.isArray(record.operations)) {
      throw new ManifestRefused([`an Apollo manifest has "format": "${APOLLO_MANIFEST_FORMAT}", "version": 1 and an "operations" array`]);
    }
    return record.operations.map((operation, index) => {
      const { id, body, name } = (operation ?? {}) as Record<string, unknown>;
      const label = typeof name === 'string' && name ? name : `operations[${index}]`;
      return { label, id: typeof id === 'string' ? id : '', body: typeof body === 'string' ? body : '' };
    });
  }
  return Object.entries(record).map(([key, body]) => ({
    label: key,
    id: key.replace(/^sha256:/, ''),
    body: typeof body === 'string' ? body : '',
  }));
}

/** The validation rules a stored operation must pass: the schema's, the limits' and introspection's. */
function rulesFor(limits: DocumentLimits): ValidationRule[] {
  // Reported as validation errors (without onReject, armor's rules report nothing).
  const report = { propagateOnRejection: false, onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)] };
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: false, flattenFragments: true, ...report },
    maxAliases: { n: limits.maxAliases, ...report },
    maxDirectives: { n: limits.maxDirectives, ...report },
    maxTokens: { enabled: false }, // counted by parse below
    costLimit: { enabled: false }, // ours multiplies by `first`
    blockFieldSuggestion: { enabled: false },
  }).protect().validationRules;
  return [...specifiedRules, ...armor, ...(limits.exposeSchema ? [] : [NoSchemaIntrospectionCustomRule])];
}

/** One entry checked: the operation to store, or what is wrong with it. */
function check(entry: Entry, schema: GraphQLSchema, limits: DocumentLimits, rules: ValidationRule[]): RegisteredOperation | string {
  const { label, id, body } = entry;
  if (!body) return `${label}: has no document`;
  const hash = sha256Hex(body);
  if (id !== hash) return `${label}: its id ${id || '(none)'} is not the sha256 of its document (${hash}); clients send that hash`;
  let document: DocumentNode;
  try {
    document = parse(body, { maxTokens: limits.maxTokens });
  } catch (error) {
    return `${label}: ${(error as Error).message}`;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const [operation] = operations;
  if (operations.length !== 1 || !operation) return `${label}: a persisted document holds exactly one operation (it has ${operations.length})`;
  if (!operation.name) return `${label}: the operation has no name`;
  const errors: readonly GraphQLError[] = validate(schema, document, rules);
  if (errors.length > 0) return `${label}: ${errors.map((error) => error.message).join('; ')}`;
  const tooCostly = costLimitError(schema, document, operation.name.value, {}, limits.maxCost);
  if (tooCostly) return `${label}: ${tooCostly.message}`;
  return { hash, body, name: operation.name.value, type: operation.operation as OperationType };
}

/**
 * The manifest's operations, every one valid; refused whole (ManifestRefused, naming each bad
 * operation) otherwise. The same operation listed twice is kept once.
 */
export function readManifest(manifest: unknown, schema: GraphQLSchema, limits: DocumentLimits): RegisteredOperation[] {
  const entries = entriesOf(manifest);
  if (entries.length === 0) throw new ManifestRefused(['the manifest lists no operation']);
  const rules = rulesFor(limits);
  const results = entries.map((entry) => check(entry, schema, limits, rules));
  const problems = results.filter((result): result is string => typeof result === 'string');
  if (problems.length > 0) throw new ManifestRefused(problems);
  const operations = results as RegisteredOperation[];
  return [...new Map(operations.map((operation) => [operation.hash, operation])).values()];
}
