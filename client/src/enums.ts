// Enum values this client was built knowing. The API may add values (the contract allows it): a
// value not listed here is surfaced as `{ unknown: value }`, for the app to show generically,
// never coerced into a known one nor thrown on.

export const CREDIT_DEPLOYMENT_STATUSES = ['QUEUED', 'PROCESSING', 'RETRYING', 'DEPLOYED', 'FAILED'] as const;
export const NOTIFICATION_KINDS = ['CREDIT_DEPLOYED', 'CREDIT_DEPLOYMENT_FAILED', 'OFFER_EXPIRED'] as const;

export type Known<T extends readonly string[]> = T[number];
export type EnumValue<T extends string> = T | { unknown: string };

/** The value as a known member of `known`, or `{ unknown: value }`. */
export function enumValue<const T extends readonly string[]>(value: string, known: T): EnumValue<Known<T>> {
  return (known as readonly string[]).includes(value) ? (value as Known<T>) : { unknown: value };
}

export const isUnknown = <T extends string>(value: EnumValue<T>): value is { unknown: string } => typeof value === 'object';
