// The typed errors of mutation results, a helper to build the result unions, and one to map a
// domain result (its entity, or a domain error) to a member of them.
import type { ObjectRef } from '@pothos/core';
import { isDomainError, NotFoundError, OfferExpiredError, OfferNotPendingError, ValidationError, type DomainError } from '../domain/errors.ts';
import { builder } from './builder.ts';
import { CreditOfferStatusEnum } from './enums.ts';

export const ErrorInterface = builder.interfaceRef<{ message: string }>('Error').implement({
  fields: (t) => ({ message: t.exposeString('message') }),
});

export const NotFoundErrorRef = builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'Not found, or not visible to the caller (never reveals which).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({ message: t.exposeString('message') }),
});

export const ValidationErrorRef = builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    message: t.exposeString('message'),
    field: t.exposeString('field', { nullable: true, description: "The input field at fault, e.g. 'input.limitCents'." }),
  }),
});

export const OfferExpiredErrorRef = builder.objectType(OfferExpiredError, {
  name: 'OfferExpiredError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof OfferExpiredError,
  fields: (t) => ({
    message: t.exposeString('message'),
    expiredAt: t.expose('expiredAt', { type: 'DateTime' }),
  }),
});

export const OfferNotPendingErrorRef = builder.objectType(OfferNotPendingError, {
  name: 'OfferNotPendingError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof OfferNotPendingError,
  fields: (t) => ({
    message: t.exposeString('message'),
    status: t.expose('status', { type: CreditOfferStatusEnum }),
  }),
});

const ERROR_TYPE_NAMES = new Map<unknown, string>([
  [NotFoundError, 'NotFoundError'],
  [ValidationError, 'ValidationError'],
  [OfferExpiredError, 'OfferExpiredError'],
  [OfferNotPendingError, 'OfferNotPendingError'],
]);

/** A result union: the success type, or one of the typed errors (told apart by their class). */
export function resultUnion<Success extends object, Errors extends object>(
  name: string,
  success: ObjectRef<typeof builder.$inferSchemaTypes, Success>,
  errors: ObjectRef<typeof builder.$inferSchemaTypes, Errors>[],
) {
  return builder.unionType(name, {
    types: [success, ...errors],
    resolveType: (value) => ERROR_TYPE_NAMES.get(value.constructor) ?? success.name,
  });
}

/** A domain result as its union's member: the error as it is, the entity in its success payload under `key`. */
export function payload<Result, Key extends string>(
  result: Result,
  key: Key,
): Extract<Result, DomainError> | Record<Key, Exclude<Result, DomainError>> {
  return isDomainError(result)
    ? (result as Extract<Result, DomainError>)
    : ({ [key]: result } as Record<Key, Exclude<Result, DomainError>>);
}
