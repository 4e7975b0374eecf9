// LimitChange: a change of a user's limit decided ahead of its time (a decrease with notice, a
// temporary increase's end), the credit engine's mutations that schedule and cancel decreases,
// and User.scheduledLimitChanges (what is coming, soonest first).
import { GraphQLError } from 'graphql';
import { LimitChangeStatus, LimitChangeType, LimitDecreaseReason, prisma, type LimitChange } from '../platform/db.ts';
import { isDomainError, isUuid } from '../domain/errors.ts';
import { cancelLimitChange, scheduledLimitChanges, scheduleLimitDecrease } from '../domain/limit-changes.ts';
import { enqueueNotifications } from '../jobs/producers.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';
import { NotFoundErrorRef, payload, resultUnion, ValidationErrorRef } from './errors.ts';
import { requireRole } from './guards.ts';
import { MoneyRef } from './money.ts';
import { NodeRef } from './node.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageArgs } from './pages.ts';

export const LimitChangeTypeEnum = builder.enumType('LimitChangeType', {
  values: {
    INCREASE: { value: LimitChangeType.INCREASE, description: 'An accepted offer raised the limit.' },
    DECREASE: { value: LimitChangeType.DECREASE, description: 'The credit engine lowered the limit, with notice.' },
    TEMPORARY_START: { value: LimitChangeType.TEMPORARY_START, description: 'An accepted temporary offer raised the limit until its end.' },
    TEMPORARY_END: { value: LimitChangeType.TEMPORARY_END, description: 'A temporary increase ended: the limit returned to the permanent one.' },
  } as const,
});

const LimitChangeStatusEnum = builder.enumType('LimitChangeStatus', {
  values: {
    SCHEDULED: { value: LimitChangeStatus.SCHEDULED, description: 'Coming at effectiveAt (a decrease: once its notice period ran from the notice).' },
    APPLIED: { value: LimitChangeStatus.APPLIED },
    CANCELLED: { value: LimitChangeStatus.CANCELLED, description: 'It will not happen (cancelled by the engine, or replaced by a later decision).' },
  } as const,
});

export const LimitDecreaseReasonEnum = builder.enumType('LimitDecreaseReason', {
  values: {
    RISK_DETERIORATION: { value: LimitDecreaseReason.RISK_DETERIORATION, description: "The customer's risk worsened: may apply at once, the customer told first." },
    INACTIVITY: { value: LimitDecreaseReason.INACTIVITY },
    PORTFOLIO_REVIEW: { value: LimitDecreaseReason.PORTFOLIO_REVIEW },
    CUSTOMER_REQUEST: { value: LimitDecreaseReason.CUSTOMER_REQUEST, description: 'The customer asked: may apply at once.' },
  } as const,
});

const money = (cents: bigint | null, currency: string) => (cents === null ? null : { cents, currency });

export const LimitChangeRef = builder.objectRef<LimitChange>('LimitChange').implement({
  interfaces: [NodeRef],
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'decisionSequence' in value,
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.expose('type', { type: LimitChangeTypeEnum }),
    status: t.expose('status', { type: LimitChangeStatusEnum }),
    newLimit: t.field({ type: MoneyRef, resolve: (c) => ({ cents: c.newLimitCents, currency: c.currency }) }),
    previousLimit: t.field({ type: MoneyRef, nullable: true, description: 'Null until applied.', resolve: (c) => money(c.previousLimitCents, c.currency) }),
    decreaseReason: t.expose('decreaseReason', {
      type: LimitDecreaseReasonEnum,
      nullable: true,
      description: 'Why a decrease was asked; null for a temporary end.',
    }),
    effectiveAt: t.expose('effectiveAt', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    appliedAt: t.expose('appliedAt', { type: 'DateTime', nullable: true }),
    cancelledAt: t.expose('cancelledAt', { type: 'DateTime', nullable: true }),
  }),
});

const ScheduleLimitDecreaseInput = builder.inputType('ScheduleLimitDecreaseInput', {
  fields: (t) => ({
    userId: t.id(),
    newLimitCents: t.field({ type: 'SafeInt' }),
    reason: t.field({ type: LimitDecreaseReasonEnum }),
    effectiveAt: t.field({ type: 'DateTime', required: false, description: 'Default: now + the notice period.' }),
  }),
});

const changePayload = (name: string) =>
  builder.objectRef<{ change: LimitChange }>(name).implement({
    fields: (t) => ({ change: t.field({ type: LimitChangeRef, resolve: (p) => p.change }) }),
  });

const ScheduleLimitDecreaseResult = resultUnion('ScheduleLimitDecreaseResult', changePayload('ScheduleLimitDecreaseSuccess'), [
  ValidationErrorRef,
  NotFoundErrorRef,
]);
const CancelLimitChangeResult = resultUnion('CancelLimitChangeResult', changePayload('CancelLimitChangeSuccess'), [NotFoundErrorRef, ValidationErrorRef]);

/** The notices a change created: their jobs take the first delivery step (the reconciler enqueues any lost). */
async function deliver(ctx: Context, notifications: readonly { id: string; correlationId: string }[]) {
  await enqueueNotifications(ctx.services.notificationQueue, notifications.map((n) => ({ notificationId: n.id, correlationId: n.correlationId })), ctx.log);
}

builder.mutationFields((t) => ({
  scheduleLimitDecrease: t.field({
    type: ScheduleLimitDecreaseResult,
    description:
      'Role credit-engine. Lowers a limit at effectiveAt (default: now + the notice period, counted from the notice reaching the user); ' +
      "sooner only for RISK_DETERIORATION or CUSTOMER_REQUEST. The user is told now (LIMIT_DECREASE_SCHEDULED) and when it applies; their PENDING offers are withdrawn.",
    args: { input: t.arg({ type: ScheduleLimitDecreaseInput }) },
    resolve: async (_root, { input }, ctx) => {
      const engine = requireRole(ctx.auth, 'credit-engine');
      const result = await scheduleLimitDecrease(
        { userId: input.userId, newLimitCents: input.newLimitCents, reason: input.reason, effectiveAt: input.effectiveAt ?? null },
        { actor: engine.userId, correlationId: ctx.origin.correlationId },
        ctx.services.limitChanges,
      );
      if (!isDomainError(result)) {
        await deliver(ctx, result.notifications);
        ctx.log.info({ limitChangeId: result.change.id, effectiveAt: result.change.effectiveAt }, 'limit decrease scheduled');
      }
      return payload(isDomainError(result) ? result : result.change, 'change');
    },
  }),
  cancelLimitChange: t.field({
    type: CancelLimitChangeResult,
    description: 'Role credit-engine. Cancels a SCHEDULED decrease; its user is told it no longer happens. Cancelling a cancelled one answers it again.',
    args: { id: t.arg.id() },
    resolve: async (_root, { id }, ctx) => {
      const engine = requireRole(ctx.auth, 'credit-engine');
      const result = await cancelLimitChange(id, { actor: engine.userId, correlationId: ctx.origin.correlationId });
      if (!isDomainError(result)) await deliver(ctx, result.notifications);
      return payload(isDomainError(result) ? result : result.change, 'change');
    },
  }),
}));

builder.prismaObjectField('User', 'scheduledLimitChanges', (t) =>
  t.field({
    type: [LimitChangeRef],
    description: 'The SCHEDULED changes of the limit, soonest first, a page (`first` 1 to 100, `after` the id of the last one seen).',
    args: pageArgs,
    resolve: async (user, args) => {
      const take = args.first ?? DEFAULT_PAGE_SIZE;
      if (take < 1 || take > MAX_PAGE_SIZE) throw new GraphQLError(`first must be between 1 and ${MAX_PAGE_SIZE} (it is ${take})`, { extensions: { code: 'BAD_USER_INPUT' } });
      let after: { at: Date; id: string } | null = null;
      if (args.after != null) {
        const found = isUuid(args.after) ? await prisma.limitChange.findFirst({ where: { id: args.after, userId: user.id }, select: { id: true, effectiveAt: true } }) : null;
        if (!found) throw new GraphQLError('after is not the id of an item of this list', { extensions: { code: 'BAD_USER_INPUT' } });
        after = { at: found.effectiveAt, id: found.id };
      }
      return scheduledLimitChanges(user.id, take, after);
    },
  }),
);
