// Limits on the documents clients send, the same on HTTP, SSE and WebSocket (all three go
// through yoga's envelop): depth, aliases, tokens and directives by graphql-armor, the cost by
// our rule (it multiplies by `first`), introspection and field suggestions off unless enabled.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { NoSchemaIntrospectionCustomRule, type ExecutionArgs, type ExecutionResult, type GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { costLimitError } from './document-cost.ts';
import { oncePerDocument } from './per-document.ts';

export interface DocumentLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
  /** Introspection and "did you mean" suggestions: for staging and development. */
  exposeSchema: boolean;
}

/** The contract's numbers. */
export const CONTRACT_LIMITS: Omit<DocumentLimits, 'exposeSchema'> = {
  maxDepth: 10,
  maxAliases: 15,
  maxTokens: 2000,
  maxDirectives: 50,
  maxCost: 10_000,
};

/**
 * The limits' plugins. `enforced` false (EDGE_PROTECTIONS_OFF=document-limits, the bench's
 * comparison only) leaves out depth, aliases, tokens, directives and cost; what the schema
 * exposes stays as configured.
 */
export function documentLimitsPlugins(limits: DocumentLimits, enforced = true): Plugin[] {
  // Reported as validation errors (a 400 with no data), not thrown out of validation.
  const asValidationError = { propagateOnRejection: false, onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)] };
  const limit = <T extends object>(options: T) => (enforced ? options : { enabled: false });
  const armor = EnvelopArmorPlugin({
    maxDepth: limit({ n: limits.maxDepth, ignoreIntrospection: false, flattenFragments: true, ...asValidationError }),
    maxAliases: limit({ n: limits.maxAliases, ...asValidationError }),
    maxTokens: limit({ n: limits.maxTokens }),
    maxDirectives: limit({ n: limits.maxDirectives, ...asValidationError }),
    costLimit: { enabled: false }, // static per field; ours multiplies by `first`
    blockFieldSuggestion: { enabled: !limits.exposeSchema },
  }) as Plugin;
  const introspection: Plugin = {
    onValidate({ addValidationRule }) {
      if (!limits.exposeSchema) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
  // The cost depends on the variables (`first: $n`): checked once they are known, before anything runs.
  // A document whose cost cannot change with its variables (most persisted operations) is costed once.
  const refuseCostly = ({ args, setResultAndStopExecution }: { args: ExecutionArgs; setResultAndStopExecution: (r: ExecutionResult) => void }) => {
    const error = oncePerDocument(`cost-limit ${limits.maxCost}`, args.document, args.operationName, () =>
      costLimitError(args.schema, args.document, args.operationName, args.variableValues, limits.maxCost),
    );
    if (error) setResultAndStopExecution({ errors: [error] });
  };
  const cost: Plugin = { onExecute: refuseCostly, onSubscribe: refuseCostly };
  if (enforced) return [armor, introspection, cost];
  return limits.exposeSchema ? [] : [armor, introspection];
}
