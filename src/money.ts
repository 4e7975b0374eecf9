// Money in integer minor units. Formatting goes through decimal strings, never floats.

export interface Money {
  cents: bigint;
  currency: string;
}

const ISO_4217 = new Set(Intl.supportedValuesOf('currency'));

export function isCurrencyCode(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && ISO_4217.has(code);
}

/** Digits after the decimal point for a currency (2 for BRL, 0 for JPY). */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** "150000" cents of BRL -> "1500.00": exact for any amount. */
export function toDecimalString({ cents, currency }: Money): string {
  const digits = minorDigits(currency);
  const sign = cents < 0n ? '-' : '';
  const abs = (cents < 0n ? -cents : cents).toString().padStart(digits + 1, '0');
  if (digits === 0) return sign + abs;
  return `${sign}${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
}

const LOCALE_OF_CURRENCY: Record<string, string> = { BRL: 'pt-BR', USD: 'en-US', EUR: 'de-DE', GBP: 'en-GB' };

/** Localized for the currency (or the given locale), e.g. 'R$ 1.500,00'. */
export function formatMoney(money: Money, locale = LOCALE_OF_CURRENCY[money.currency] ?? 'en-US'): string {
  const formatter = new Intl.NumberFormat(locale, { style: 'currency', currency: money.currency });
  // Intl formats decimal strings exactly (no conversion to a float on the way).
  const text = formatter.format(toDecimalString(money) as unknown as number);
  // Intl separates symbol and amount with a no-break space; clients expect a plain space.
  return text.replace(/\u00a0|\u202f/g, ' ');
}
