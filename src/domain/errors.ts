// Expected failures of domain operations. They are returned (not thrown): a domain operation
// gives back its entity or one of these, and the schema maps them to the typed members of the
// mutation result unions.
import type { CreditOfferStatus } from '../platform/db.ts';

/** The one base of every expected failure. */
export abstract class DomainError {
  abstract readonly message: string;
}

export function isDomainError(value: unknown): value is DomainError {
  return value instanceof DomainError;
}

export class NotFoundError extends DomainError {
  constructor(readonly message = 'Not found') {
    super();
  }
}

export class ValidationError extends DomainError {
  constructor(
    readonly message: string,
    readonly field: string | null = null,
  ) {
    super();
  }
}

export class OfferExpiredError extends DomainError {
  readonly message: string;
  constructor(readonly expiredAt: Date) {
    super();
    this.message = `The offer expired at ${expiredAt.toISOString()}`;
  }
}

export class OfferNotPendingError extends DomainError {
  readonly message: string;
  constructor(readonly status: CreditOfferStatus) {
    super();
    this.message = `The offer is ${status}, not PENDING`;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids of offers and deployments are UUIDs; anything else cannot exist. */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

// C0 and C1 control characters, DEL. Postgres refuses NUL in text; none belongs in an id.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** An id or reference with control characters names nothing (and never reaches the database). */
export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}
