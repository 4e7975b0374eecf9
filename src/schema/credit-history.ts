// User.creditHistory: the changes of a user's credit line over time, as the insights consumer
// recorded them from the events stream (docs/events.md), for the app's "your limit over time".
import { CreditLimitChangeReason, prisma, type CreditHistoryEntry } from '../platform/db.ts';
import { builder } from './builder.ts';
import { MoneyRef } from './money.ts';
import { newestFirst, olderThan, pageArgs, pageOf } from './pages.ts';

const CreditLimitChangeReasonEnum = builder.enumType('CreditLimitChangeReason', {
  values: {
    OFFER_ACCEPTED: { value: CreditLimitChangeReason.OFFER_ACCEPTED, description: 'A deployment applied an offer the user accepted.' },
    USAGE_SYNC: {
      value: CreditLimitChangeReason.USAGE_SYNC,
      description: 'The credit in use changed what is available; the limit stayed.',
    },
  } as const,
});

const CreditLimitChangeRef = builder.objectRef<CreditHistoryEntry>('CreditLimitChange').implement({
  description: "A change of the user's credit line.",
  fields: (t) => ({
    id: t.exposeID('id'),
    at: t.expose('at', { type: 'DateTime' }),
    previousLimit: t.field({
      type: MoneyRef,
      nullable: true,
      description: 'Null when the user had no credit line before.',
      resolve: (change) => (change.previousLimitCents === null ? null : { cents: change.previousLimitCents, currency: change.currency }),
    }),
    newLimit: t.field({ type: MoneyRef, resolve: (change) => ({ cents: change.newLimitCents, currency: change.currency }) }),
    available: t.field({
      type: MoneyRef,
      description: 'What was available after the change.',
      resolve: (change) => ({ cents: change.availableCents, currency: change.currency }),
    }),
    reason: t.expose('reason', { type: CreditLimitChangeReasonEnum }),
    deploymentId: t.exposeID('deploymentId', { nullable: true, description: 'The deployment that made the change, if one did.' }),
  }),
});

builder.prismaObjectField('User', 'creditHistory', (t) =>
  t.field({
    type: [CreditLimitChangeRef],
    description:
      'Changes of the credit line, newest first, a page (see Lists above). Kept by the insights consumer of the events stream: a change shows shortly after it commits.',
    args: pageArgs,
    resolve: async (user, args) => {
      const { take, after } = await pageOf(args, (id) =>
        prisma.creditHistoryEntry.findFirst({ where: { id, userId: user.id }, select: { id: true, at: true } }),
      );
      return prisma.creditHistoryEntry.findMany({ where: { userId: user.id, ...olderThan('at', after) }, orderBy: newestFirst('at'), take });
    },
  }),
);
