// Money in integer minor units. Formatting goes through decimal strings, never floats.

export interface Money {
  cents: bigint;
  currency: string;
}

const ISO_4217 = new Set(Intl.supportedValuesOf('currency'));

export function isCurrencyCode(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && ISO_4217.has(code);
}

// Building an Intl.NumberFormat costs far more than using one (tens of microseconds, more under
// load), and every notification and every `formatted` field formats money: build each once. The
// caches are bounded by the currencies and locales in use; a code Intl rejects throws as before.
const formats = new Map<string, Intl.NumberFormat>();
const digits = new Map<string, number>();

function currencyFormat(locale: string, currency: string): Intl.NumberFormat {
  const key = `${locale} ${currency}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency });
    formats.set(key, format);
  }
  return format;
}

/** Digits after the decimal point for a currency (2 for BRL, 0 for JPY). */
export function minorDigits(currency: string): number {
  let n = digits.get(currency);
  if (n === undefined) {
    n = currencyFormat('en', currency).resolvedOptions().maximumFractionDigits ?? 2;
    digits.set(currency, n);
  }
  return n;
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
  // Intl formats decimal strings exactly (no conversion to a float on the way).
  const text = currencyFormat(locale, money.currency).format(toDecimalString(money) as unknown as number);
  // Intl separates symbol and amount with a no-break space; clients expect a plain space.
  return text.replace(/\u00a0|\u202f/g, ' ');
}
