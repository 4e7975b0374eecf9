// The cost of a document, as the contract's header defines it: 1 per field; a list field
// multiplies the cost of its selection by its `first` (20 where it has none, 100 at most, since
// a larger `first` is refused anyway). graphql-armor's cost limit is static per field, so it
// cannot see that `offers(first: 100)` is a hundred times `offers(first: 1)`; this rule can,
// because it reads `first` from the document or from the request's variables, coerced as
// execution will coerce them (a variable's default included).
import {
  getVariableValues,
  getNamedType,
  getOperationAST,
  TypeInfo,
  ValidationContext,
  type DocumentNode,
  type GraphQLSchema,
  getNullableType,
  GraphQLError,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type ASTVisitor,
  type FieldNode,
  type GraphQLNamedType,
  type SelectionSetNode,
  type ValidationRule,
  type ValueNode,
  visit,
} from 'graphql';

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

type Variables = Record<string, unknown> | null | undefined;

/** The `first` a list field will use: a literal, a variable's value, or the default page. */
function pageSize(field: FieldNode, variables: Variables): number {
  const arg = field.arguments?.find((a) => a.name.value === 'first');
  const value = arg ? valueOf(arg.value, variables) : null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) return DEFAULT_PAGE;
  return Math.min(Math.floor(value), MAX_PAGE);
}

function valueOf(node: ValueNode, variables: Variables): unknown {
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.VARIABLE) return variables?.[node.name.value];
  return null;
}

/** The cost of one selection set on `type`; fragments count where they are spread. */
export function selectionCost(
  context: ValidationContext,
  selectionSet: SelectionSetNode,
  type: GraphQLNamedType | undefined,
  variables: Variables,
  spreading: ReadonlySet<string> = new Set(),
): number {
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      const definition = isObjectType(type) || isInterfaceType(type) ? type.getFields()[selection.name.value] : undefined;
      if (!definition) {
        cost += 1; // an unknown field: another rule reports it
        continue;
      }
      const inner = selection.selectionSet
        ? selectionCost(context, selection.selectionSet, getNamedType(definition.type), variables, spreading)
        : 0;
      const times = isListType(getNullableType(definition.type)) ? pageSize(selection, variables) : 1;
      cost += 1 + times * inner;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const on = selection.typeCondition ? context.getSchema().getType(selection.typeCondition.name.value) : type;
      cost += selectionCost(context, selection.selectionSet, on ?? undefined, variables, spreading);
    } else {
      const name = selection.name.value;
      const fragment = context.getFragment(name);
      if (!fragment || spreading.has(name)) continue; // unknown or cyclic: other rules report it
      const on = context.getSchema().getType(fragment.typeCondition.name.value) ?? undefined;
      cost += selectionCost(context, fragment.selectionSet, on, variables, new Set([...spreading, name]));
    }
  }
  return cost;
}

const pageVariablesOf = new WeakMap<DocumentNode, ReadonlySet<string>>();

/** The names of the variables given as a `first` anywhere in the document (a parsed document is reused: kept per document). */
function pageVariables(document: DocumentNode): ReadonlySet<string> {
  let names = pageVariablesOf.get(document);
  if (!names) {
    const found = new Set<string>();
    visit(document, {
      Argument(argument) {
        if (argument.name.value === 'first' && argument.value.kind === Kind.VARIABLE) found.add(argument.value.name.value);
      },
    });
    pageVariablesOf.set(document, (names = found));
  }
  return names;
}

/**
 * The cost of the operation the request runs (0 when there is none), with its variables as
 * execution sees them: coerced, defaults filled in. Values that do not coerce fail execution
 * anyway; they are costed as sent.
 */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Variables): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  // Only the variables a `first` reads are coerced: a campaign's 1,000 offer inputs are not
  // coerced twice (execution does it) to find no page size in them.
  const paging = pageVariables(document);
  const definitions = (operation.variableDefinitions ?? []).filter((d) => paging.has(d.variable.name.value));
  const coerced = definitions.length > 0 ? getVariableValues(schema, definitions, variables ?? {}, { maxErrors: 1 }).coerced : undefined;
  const context = new ValidationContext(schema, document, new TypeInfo(schema), () => {});
  return selectionCost(context, operation.selectionSet, schema.getRootType(operation.operation) ?? undefined, coerced ?? variables);
}

/**
 * The refusal of an operation that costs more than `maxCost`, or null. Checked when the request's
 * variables are known (yoga caches validation by document, so a rule could not see them).
 */
export function costLimitError(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Variables,
  maxCost: number,
): GraphQLError | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const cost = operationCost(schema, document, operationName, variables);
  if (cost <= maxCost) return null;
  return new GraphQLError(`Query cost limit of ${maxCost} exceeded, found ${cost}.`, {
    nodes: [operation],
    extensions: { code: 'QUERY_TOO_COSTLY', http: { status: 400 } },
  });
}

/** A validation rule refusing operations that cost more than `maxCost`. */
export function costLimitRule(maxCost: number, variables: Variables): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const root = context.getSchema().getRootType(operation.operation) ?? undefined;
      const cost = selectionCost(context, operation.selectionSet, root, variables);
      if (cost > maxCost) {
        context.reportError(
          new GraphQLError(`Query cost limit of ${maxCost} exceeded, found ${cost}.`, {
            nodes: [operation],
            extensions: { code: 'QUERY_TOO_COSTLY' },
          }),
        );
      }
    },
  });
}
