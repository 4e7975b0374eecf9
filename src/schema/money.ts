import { formatMoney, type Money } from '../domain/money.ts';
import { builder } from './builder.ts';

export const MoneyRef = builder.objectRef<Money>('Money').implement({
  description: 'Money in exact minor units: no floating point anywhere on its way.',
  fields: (t) => ({
    cents: t.field({
      type: 'SafeInt',
      description: 'Amount in minor units (centavos for BRL).',
      // Amounts are stored as BigInt; every one fits a SafeInt, as they enter through SafeInt.
      resolve: (money) => Number(money.cents),
    }),
    currency: t.exposeString('currency', { description: 'ISO 4217 code, e.g. BRL.' }),
    formatted: t.string({
      description: "Human-readable, localized for the currency, e.g. 'R$ 1.500,00'.",
      resolve: (money) => formatMoney(money),
    }),
  }),
});
