import { GraphQLError } from 'graphql';
import { visibleById, visibleOwner } from '../domain/viewer.ts';
import { requireViewer } from './guards.ts';
import { prisma, type DeploymentEvent } from '../platform/db.ts';
import { isUuid } from '../domain/errors.ts';
import { deploymentVisible } from '../domain/deployment-events.ts';
import { failureText } from '../domain/failure-text.ts';
import { deploymentStream, listenEarly } from '../realtime/deployment-stream.ts';
import { builder } from './builder.ts';
import { CreditDeploymentStatusEnum, DeploymentFailureCodeEnum } from './enums.ts';
import { MoneyRef } from './money.ts';
import { NodeRef } from './node.ts';

export const CreditDeploymentRef = builder.prismaObject('CreditDeployment', {
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    offer: t.relation('offer'),
    status: t.expose('status', { type: CreditDeploymentStatusEnum }),
    attempts: t.exposeInt('attempts', { description: 'Processing attempts started so far.' }),
    previousLimit: t.field({
      type: MoneyRef,
      nullable: true,
      description: 'The limit before this deployment applied; null until applied.',
      select: { previousLimitCents: true, currency: true },
      resolve: (d) => (d.previousLimitCents === null ? null : { cents: d.previousLimitCents, currency: d.currency }),
    }),
    newLimit: t.field({
      type: MoneyRef,
      select: { newLimitCents: true, currency: true },
      resolve: (d) => ({ cents: d.newLimitCents, currency: d.currency }),
    }),
    failureCode: t.expose('failureCode', {
      type: DeploymentFailureCodeEnum,
      nullable: true,
      description: 'Why it ended FAILED; null otherwise.',
    }),
    failureReason: t.string({
      nullable: true,
      description: "Why it ended FAILED, for people, in the user's language; never internal error text.",
      // Rendered from the code in the viewer's language (their token's, else the one stored for
      // the user): the stored reason is for ops and may name technical causes.
      select: { status: true, failureCode: true, newLimitCents: true, currency: true, user: { select: { locale: true } } },
      resolve: (d, _args, ctx) =>
        d.status === 'FAILED'
          ? failureText(d.failureCode, { cents: d.newLimitCents, currency: d.currency }, ctx.auth.viewer?.locale ?? d.user.locale)
          : null,
    }),
    correlationId: t.exposeString('correlationId', {
      description: 'Carried from the accepting request through the job, the logs and the audit trail.',
    }),
    queuedAt: t.expose('queuedAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    processingMs: t.exposeInt('processingMs', { nullable: true, description: 'From queuedAt to completedAt.' }),
    events: t.relation('events', {
      description: 'Audit trail, oldest first, append-only.',
      query: { orderBy: { sequence: 'asc' } },
    }),
  }),
});

builder.queryField('creditDeployment', (t) =>
  t.prismaField({
    type: 'CreditDeployment',
    nullable: true,
    description: 'A deployment of the authenticated user (or any, for ops/credit-engine). Null when not found or not theirs.',
    args: { id: t.arg.id() },
    resolve: (query, _root, { id }, ctx) => {
      const viewer = requireViewer(ctx.auth);
      if (!isUuid(id)) return null;
      return prisma.creditDeployment.findFirst({ ...query, where: visibleById(viewer, id) });
    },
  }),
);

const CreditDeploymentUpdateRef = builder.objectRef<DeploymentEvent>('CreditDeploymentUpdate').implement({
  description: "One message of a deployment's live stream: one audit event and the deployment as it stands.",
  fields: (t) => ({
    sequence: t.exposeInt('sequence', { description: 'The sequence of the audit event that this message reports.' }),
    type: t.exposeString('type', { description: "That event's type." }),
    status: t.expose('status', { type: CreditDeploymentStatusEnum }),
    at: t.expose('at', { type: 'DateTime' }),
    deployment: t.prismaField({
      type: 'CreditDeployment',
      resolve: (query, event) => prisma.creditDeployment.findUniqueOrThrow({ ...query, where: { id: event.deploymentId } }),
    }),
  }),
});

builder.subscriptionField('creditDeployment', (t) =>
  t.field({
    type: CreditDeploymentUpdateRef,
    description: [
      'Live status of one deployment of the authenticated user, one message per audit event.',
      'Without afterSequence the first message is the current state (the newest event), so nothing',
      'is missed by subscribing late. With afterSequence, every event with a greater sequence is',
      'replayed first, oldest first, from the audit trail: a client that reconnects resumes with no',
      'gap and no duplicate. Then live messages follow with increasing sequence; the stream',
      "completes after DEPLOYED or FAILED. A deployment that is not the caller's is an error with",
      'extensions.code = "NOT_FOUND".',
    ].join('\n'),
    args: { id: t.arg.id(), afterSequence: t.arg.int({ required: false }) },
    subscribe: async (_root, { id, afterSequence }, ctx) => {
      const viewer = requireViewer(ctx.auth);
      const notFound = () => new GraphQLError('Deployment not found', { extensions: { code: 'NOT_FOUND' } });
      if (!isUuid(id)) throw notFound();
      // Listening starts while the visibility is read (the stream's first read waits for it, not for the check).
      const early = listenEarly(ctx.services.liveUpdates, id);
      const visible = await deploymentVisible(id, visibleOwner(viewer)).catch((error: unknown) => {
        early.drop();
        throw error;
      });
      if (!visible) {
        early.drop();
        throw notFound();
      }
      return deploymentStream(ctx.services.liveUpdates, id, { afterSequence: afterSequence ?? null, early });
    },
    resolve: (event) => event,
  }),
);
