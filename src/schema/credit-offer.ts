import { GraphQLError } from 'graphql';
import { visibleById } from '../domain/viewer.ts';
import { requireRole, requireViewer } from './guards.ts';
import { prisma, type CreditDeployment, type CreditOffer } from '../platform/db.ts';
import { isDomainError, isUuid } from '../domain/errors.ts';
import { enqueueDeploymentBestEffort, enqueueFirstSteps, enqueueNotifications } from '../jobs/producers.ts';
import { acceptOffer, awaitsJob, declineOffer } from '../domain/offers.ts';
import { withdrawCampaignOffers, withdrawCreditOffer } from '../domain/offer-withdrawal.ts';
import { issueCreditOffer, issueCreditOffers, MAX_OFFERS_PER_BATCH } from '../domain/offer-batches.ts';
import { builder } from './builder.ts';
import { CreditOfferStatusEnum } from './enums.ts';
import { NotFoundErrorRef, OfferExpiredErrorRef, OfferNotPendingErrorRef, payload, resultUnion, ValidationErrorRef } from './errors.ts';
import { CreditDeploymentRef } from './credit-deployment.ts';
import { MoneyRef } from './money.ts';
import { NodeRef } from './node.ts';

export const CreditOfferRef = builder.prismaObject('CreditOffer', {
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    user: t.relation('user'),
    limit: t.field({
      type: MoneyRef,
      select: { limitCents: true, currency: true },
      resolve: (o) => ({ cents: o.limitCents, currency: o.currency }),
    }),
    interestRateBps: t.exposeInt('interestRateBps'),
    status: t.expose('status', { type: CreditOfferStatusEnum }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    acceptedAt: t.expose('acceptedAt', { type: 'DateTime', nullable: true }),
    campaignId: t.exposeID('campaignId', { nullable: true, description: 'The campaign the offer was issued in, when it was given.' }),
    temporaryUntil: t.expose('temporaryUntil', {
      type: 'DateTime',
      nullable: true,
      description: 'A temporary increase: accepting it raises the limit until this time, then it returns to the permanent one.',
    }),
    deployment: t.relation('deployment', { nullable: true, description: 'Null until accepted.' }),
  }),
});

builder.queryField('creditOffer', (t) =>
  t.prismaField({
    type: 'CreditOffer',
    nullable: true,
    description: 'An offer of the authenticated user (or any offer, for ops/credit-engine). Null when not found or not theirs.',
    args: { id: t.arg.id() },
    resolve: (query, _root, { id }, ctx) => {
      const viewer = requireViewer(ctx.auth);
      if (!isUuid(id)) return null;
      return prisma.creditOffer.findFirst({ ...query, where: visibleById(viewer, id) });
    },
  }),
);

const IssueCreditOfferInput = builder.inputType('IssueCreditOfferInput', {
  fields: (t) => ({
    userId: t.id({ description: "The user's id (the `sub` of their tokens); the user is created if new." }),
    limitCents: t.field({ type: 'SafeInt' }),
    interestRateBps: t.int(),
    currency: t.string({ required: false, defaultValue: 'BRL' }),
    expiresAt: t.field({ type: 'DateTime' }),
    externalRef: t.string({
      required: false,
      description: "The issuer's own id for this offer: issuing twice with the same key returns the same offer.",
    }),
    campaignId: t.id({ required: false, description: "The issuer's campaign this offer belongs to (reports; finding its pending offers)." }),
    temporaryUntil: t.field({
      type: 'DateTime',
      required: false,
      description: 'A temporary increase: the limit holds until this time (after expiresAt), then returns to the permanent one by itself.',
    }),
  }),
});

const offerPayload = (name: string) =>
  builder.objectRef<{ offer: CreditOffer }>(name).implement({
    fields: (t) => ({ offer: t.field({ type: CreditOfferRef, resolve: (p) => p.offer }) }),
  });

const IssueCreditOfferResult = resultUnion('IssueCreditOfferResult', offerPayload('IssueCreditOfferSuccess'), [
  ValidationErrorRef,
]);

builder.mutationField('issueCreditOffer', (t) =>
  t.field({
    type: IssueCreditOfferResult,
    description: 'Role credit-engine.',
    args: { input: t.arg({ type: IssueCreditOfferInput }) },
    resolve: async (_root, { input }, ctx) => {
      requireRole(ctx.auth, 'credit-engine');
      const result = await issueCreditOffer(input, ctx.services.caps.offers, new Date(), ctx.origin.correlationId);
      if (isDomainError(result)) return payload(result, 'offer');
      // Its OFFER_RECEIVED's job takes the first delivery step (in-app to a present user, else the
      // push), in the background as a campaign's: an offer's announcement never goes ahead of a
      // deployment's result. Best effort: the notification reconciler enqueues one whose job never reached Redis.
      const jobs = result.received.map((n) => ({ notificationId: n.id, correlationId: n.correlationId, background: true }));
      await enqueueNotifications(ctx.services.notificationQueue, jobs, ctx.log);
      return payload(result.offer, 'offer');
    },
  }),
);

builder.mutationField('issueCreditOffers', (t) =>
  t.field({
    type: [IssueCreditOfferResult],
    description:
      `Role credit-engine. Issues 1 to ${MAX_OFFERS_PER_BATCH} offers at once (a campaign): one result per input, in input order. ` +
      'Each input is validated on its own (a ValidationError names `inputs[i].field`); the others are issued. Idempotent per externalRef, as issueCreditOffer.',
    args: { inputs: t.arg({ type: [IssueCreditOfferInput] }) },
    resolve: async (_root, { inputs }, ctx) => {
      requireRole(ctx.auth, 'credit-engine');
      const issued = await issueCreditOffers(inputs, ctx.services.caps.offers, new Date(), ctx.origin.correlationId);
      if (isDomainError(issued)) throw new GraphQLError(issued.message, { extensions: { code: 'BAD_USER_INPUT', field: issued.field } });
      const { results, received } = issued;
      // One job takes their OFFER_RECEIVED's first delivery steps in the worker, behind the
      // notifications of users' own actions (a campaign's); the reconciler enqueues any whose job is lost.
      await enqueueFirstSteps(ctx.services.notificationQueue, received, ctx.log);
      ctx.log.info({ offers: inputs.length, refused: results.filter(isDomainError).length }, 'offers issued in a batch');
      return results.map((result) => payload(result, 'offer'));
    },
  }),
);

const AcceptOfferSuccess = builder.objectRef<{ deployment: CreditDeployment }>('AcceptOfferSuccess').implement({
  fields: (t) => ({
    // The full row is at hand: relations a client asks for are loaded by the Prisma plugin.
    deployment: t.field({
      type: CreditDeploymentRef,
      description: 'Accepting an offer that is already accepted returns its existing deployment: acceptance is idempotent.',
      resolve: (parent) => parent.deployment,
    }),
  }),
});

const offerErrors = [NotFoundErrorRef, OfferExpiredErrorRef, OfferNotPendingErrorRef];
const AcceptOfferResult = resultUnion('AcceptOfferResult', AcceptOfferSuccess, offerErrors);

builder.mutationField('acceptOffer', (t) =>
  t.field({
    type: AcceptOfferResult,
    description: "The offer's owner. Returns at once; the deployment runs in a background worker.",
    args: { offerId: t.arg.id() },
    resolve: async (_root, { offerId }, ctx) => {
      const result = await acceptOffer(requireViewer(ctx.auth), offerId, ctx.origin, ctx.services.consentKey);
      if (!isDomainError(result)) {
        if (awaitsJob(result)) await enqueueDeploymentBestEffort(ctx.services.deploymentQueue, result, ctx.log);
        ctx.log.info({ deploymentId: result.id, offerId }, 'offer accepted');
      }
      return payload(result, 'deployment');
    },
  }),
);

const DeclineOfferResult = resultUnion('DeclineOfferResult', offerPayload('DeclineOfferSuccess'), offerErrors);

builder.mutationField('declineOffer', (t) =>
  t.field({
    type: DeclineOfferResult,
    args: { offerId: t.arg.id() },
    resolve: async (_root, { offerId }, ctx) => payload(await declineOffer(requireViewer(ctx.auth), offerId), 'offer'),
  }),
);

const WithdrawCreditOfferResult = resultUnion('WithdrawCreditOfferResult', offerPayload('WithdrawCreditOfferSuccess'), [
  NotFoundErrorRef,
  OfferNotPendingErrorRef,
]);

builder.mutationField('withdrawCreditOffer', (t) =>
  t.field({
    type: WithdrawCreditOfferResult,
    description:
      'Role credit-engine. A PENDING offer becomes WITHDRAWN (accepting it then answers OfferNotPendingError); its user\'s unanswered ' +
      'notifications about it are acknowledged. An accepted offer cannot be withdrawn (OfferNotPendingError). Withdrawing a withdrawn offer answers it again.',
    args: { id: t.arg.id() },
    resolve: async (_root, { id }, ctx) => {
      requireRole(ctx.auth, 'credit-engine');
      const result = await withdrawCreditOffer(id);
      if (!isDomainError(result)) ctx.log.info({ offerId: id }, 'offer withdrawn');
      return payload(result, 'offer');
    },
  }),
);

const WithdrawCampaignOffersSuccess = builder.objectRef<{ withdrawn: number }>('WithdrawCampaignOffersSuccess').implement({
  fields: (t) => ({ withdrawn: t.exposeInt('withdrawn', { description: 'How many PENDING offers of the campaign were withdrawn now.' }) }),
});

const WithdrawCampaignOffersResult = resultUnion('WithdrawCampaignOffersResult', WithdrawCampaignOffersSuccess, [ValidationErrorRef]);

builder.mutationField('withdrawCampaignOffers', (t) =>
  t.field({
    type: WithdrawCampaignOffersResult,
    description: "Role credit-engine. Withdraws every PENDING offer issued with this campaignId (as withdrawCreditOffer); accepted ones stay.",
    args: { campaignId: t.arg.id() },
    resolve: async (_root, { campaignId }, ctx) => {
      requireRole(ctx.auth, 'credit-engine');
      const result = await withdrawCampaignOffers(campaignId);
      if (!isDomainError(result)) ctx.log.info({ campaignId, withdrawn: result }, 'campaign offers withdrawn');
      return isDomainError(result) ? result : { withdrawn: result };
    },
  }),
);
