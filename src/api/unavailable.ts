// A dependency that is down answers as such: an operation that failed because the database (or
// Redis) is unreachable, failing over or busy is a top-level error with extensions.code
// "UNAVAILABLE" (HTTP 503 when the whole request is refused), never a masked internal error.
// Operations are single statements or transactions: one that failed changed nothing.
import { GraphQLError } from 'graphql';
import { maskError, type YogaServerOptions } from 'graphql-yoga';
import { classifyTransient } from '../domain/transient-failures.ts';
import type { Logger } from '../platform/logger.ts';

const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable. Nothing was changed; try again shortly.';

/** The underlying error of a GraphQL error (resolvers' errors come wrapped). */
function causeOf(error: unknown): unknown {
  return error instanceof GraphQLError && error.originalError ? causeOf(error.originalError) : error;
}

export function unavailableAwareMasking(logger: Logger): NonNullable<YogaServerOptions<object, object>['maskedErrors']> {
  return {
    maskError(error, message, isDev) {
      const cause = causeOf(error);
      const { code } = classifyTransient(cause);
      if (code === 'TEMPORARY_FAILURE') return maskError(error, message, isDev);
      // The raw error goes to the logs only.
      logger.warn({ err: cause, code }, 'operation failed: a dependency is unavailable');
      const path = error instanceof GraphQLError ? error.path : undefined;
      return new GraphQLError(UNAVAILABLE_MESSAGE, { path, extensions: { code: 'UNAVAILABLE', http: { status: 503 } } });
    },
  };
}
