// User.creditHistory: the changes of a user's credit line over time, for the app's "your limit
// over time", from the service's own records (credit_line_changes, written in the transaction of
// each change: no consumer of the events stream needs to run).
import { CreditLimitChangeReason, prisma, type CreditLineChange } from '../platform/db.ts';
import { builder } from './builder.ts';
import { MoneyRef } from './money.ts';
import { LimitChangeTypeEnum } from './limit-change.ts';
import { newestFirst, olderThan, pageArgs, pageOf } from './pages.ts';

const CreditLimitChangeReasonEnum = builder.enumType('CreditLimitChangeReason', {
  values: {
    OFFER_ACCEPTED: { value: CreditLimitChangeReason.OFFER_ACCEPTED, description: 'A deployment applied an offer the user accepted.' },
    USAGE_SYNC: {
      value: CreditLimitChangeReason.USAGE_SYNC,
      description: 'The credit in use changed what is available; the limit stayed.',
    },
    LIMIT_DECREASE: { value: CreditLimitChangeReason.LIMIT_DECREASE, description: 'A decrease the credit engine scheduled was applied.' },
    TEMPORARY_LIMIT_ENDED: {
      value: CreditLimitChangeReason.TEMPORARY_LIMIT_ENDED,
      description: 'A temporary increase ended: the limit returned to the permanent one.',
    },
  } as const,
});

const CreditLimitChangeRef = builder.objectRef<CreditLineChange>('CreditLimitChange').implement({
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
    changeType: t.expose('changeType', { type: LimitChangeTypeEnum, nullable: true, description: 'What kind of change; null for a usage sync.' }),
    deploymentId: t.exposeID('deploymentId', { nullable: true, description: 'The deployment that made the change, if one did.' }),
  }),
});

builder.prismaObjectField('User', 'creditHistory', (t) =>
  t.field({
    type: [CreditLimitChangeRef],
    description:
      "Changes of the credit line, newest first, a page (see Lists above): the service's own record of each, written with the change.",
    args: pageArgs,
    resolve: async (user, args) => {
      const { take, after } = await pageOf(args, (id) =>
        prisma.creditLineChange.findFirst({ where: { id, userId: user.id }, select: { id: true, at: true } }),
      );
      return prisma.creditLineChange.findMany({ where: { userId: user.id, ...olderThan('at', after) }, orderBy: newestFirst('at'), take });
    },
  }),
);
