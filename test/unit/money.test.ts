// Money: integer minor units, formatted through decimal strings, exact for any amount.
import { describe, expect, it } from 'vitest';
import { formatMoney, isCurrencyCode, minorDigits, toDecimalString } from '../../src/domain/money.ts';

describe('money', () => {
  it('formats BRL as Brazilians write it, with a plain space', () => {
    expect(formatMoney({ cents: 250_000n, currency: 'BRL' })).toBe('R$ 2.500,00');
    expect(formatMoney({ cents: 5n, currency: 'BRL' })).toBe('R$ 0,05');
    expect(formatMoney({ cents: 0n, currency: 'BRL' })).toBe('R$ 0,00');
  });

  it('is exact to the cent beyond what a float can hold', () => {
    // 2^53 + 1 cents: a float would round the last digit away.
    expect(toDecimalString({ cents: 9_007_199_254_740_993n, currency: 'BRL' })).toBe('90071992547409.93');
    expect(formatMoney({ cents: 9_007_199_254_740_993n, currency: 'USD' })).toBe('$90,071,992,547,409.93');
  });

  it('follows the currency\'s minor digits (JPY has none) and keeps the sign', () => {
    expect(minorDigits('JPY')).toBe(0);
    expect(toDecimalString({ cents: 1500n, currency: 'JPY' })).toBe('1500');
    expect(toDecimalString({ cents: -1n, currency: 'BRL' })).toBe('-0.01');
  });

  it('accepts ISO 4217 codes only', () => {
    expect(isCurrencyCode('BRL')).toBe(true);
    expect(isCurrencyCode('brl')).toBe(false);
    expect(isCurrencyCode('XYZ')).toBe(false);
    expect(isCurrencyCode('BRLL')).toBe(false);
  });
});
