import { requireRole } from './guards.ts';
import { syncCreditUsage } from '../domain/profiles.ts';
import type { CreditProfile } from '../platform/db.ts';
import { builder } from './builder.ts';
import { NotFoundErrorRef, payload, resultUnion, ValidationErrorRef } from './errors.ts';
import { MoneyRef } from './money.ts';

export const CreditProfileRef = builder.prismaObject('CreditProfile', {
  fields: (t) => ({
    limit: t.field({
      type: MoneyRef,
      select: { limitCents: true, currency: true },
      resolve: (p) => ({ cents: p.limitCents, currency: p.currency }),
    }),
    used: t.field({
      type: MoneyRef,
      select: { usedCents: true, currency: true },
      resolve: (p) => ({ cents: p.usedCents, currency: p.currency }),
    }),
    available: t.field({
      type: MoneyRef,
      description: 'limit - used, never negative.',
      select: { availableCents: true, currency: true },
      resolve: (p) => ({ cents: p.availableCents, currency: p.currency }),
    }),
    permanentLimit: t.field({
      type: MoneyRef,
      description: 'The limit without a temporary increase: what `limit` returns to at temporaryUntil (equal to `limit` when none is active).',
      select: { limitCents: true, permanentLimitCents: true, currency: true },
      resolve: (p) => ({ cents: p.permanentLimitCents ?? p.limitCents, currency: p.currency }),
    }),
    temporaryUntil: t.expose('temporaryUntil', {
      type: 'DateTime',
      nullable: true,
      description: 'When the active temporary increase ends (`limit` is then the temporary one); null when none is active.',
    }),
    overLimit: t.boolean({
      description: 'The credit in use is above the limit (after a decrease): `available` is then zero.',
      select: { limitCents: true, usedCents: true },
      resolve: (p) => p.usedCents > p.limitCents,
    }),
    interestRateBps: t.exposeInt('interestRateBps', { description: 'Annual interest rate in basis points (1% = 100).' }),
    version: t.exposeInt('version', { description: 'Increases by one on every change of the profile.' }),
    lastLimitChangeAt: t.expose('lastLimitChangeAt', { type: 'DateTime', nullable: true }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const SyncCreditUsageInput = builder.inputType('SyncCreditUsageInput', {
  fields: (t) => ({
    userId: t.id(),
    usedCents: t.field({ type: 'SafeInt', description: 'The credit in use now, from the ledger.' }),
  }),
});

const SyncCreditUsageSuccess = builder.objectRef<{ profile: CreditProfile }>('SyncCreditUsageSuccess').implement({
  fields: (t) => ({ profile: t.field({ type: CreditProfileRef, resolve: (p) => p.profile }) }),
});

const SyncCreditUsageResult = resultUnion('SyncCreditUsageResult', SyncCreditUsageSuccess, [
  ValidationErrorRef,
  NotFoundErrorRef,
]);

builder.mutationField('syncCreditUsage', (t) =>
  t.field({
    type: SyncCreditUsageResult,
    description: 'Role credit-engine.',
    args: { input: t.arg({ type: SyncCreditUsageInput }) },
    resolve: async (_root, { input }, ctx) => {
      requireRole(ctx.auth, 'credit-engine');
      return payload(await syncCreditUsage(input.userId, input.usedCents, ctx.origin.correlationId), 'profile');
    },
  }),
);
