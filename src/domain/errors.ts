// Expected failures of domain operations. They are returned (not thrown) and become the typed
// members of the mutation result unions.
import type { CreditOfferStatus } from '../platform/db.ts';

export class NotFoundError {
  constructor(readonly message = 'Not found') {}
}

export class ValidationError {
  constructor(
    readonly message: string,
    readonly field: string | null = null,
  ) {}
}

export class OfferExpiredError {
  readonly message: string;
  constructor(readonly expiredAt: Date) {
    this.message = `The offer expired at ${expiredAt.toISOString()}`;
  }
}

export class OfferNotPendingError {
  readonly message: string;
  constructor(readonly status: CreditOfferStatus) {
    this.message = `The offer is ${status}, not PENDING`;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids of offers and deployments are UUIDs; anything else cannot exist. */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
