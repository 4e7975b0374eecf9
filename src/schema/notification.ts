import { requireViewer } from './guards.ts';
import { prisma, type Notification } from '../platform/db.ts';
import { acknowledgeNotification } from '../domain/notifications.ts';
import { notificationStream } from '../realtime/notification-stream.ts';
import { builder } from './builder.ts';
import { deliveryError, deliveryReason } from '../domain/delivery-reasons.ts';
import { categoryOf } from '../domain/notification-categories.ts';
import { DeliveryStatusEnum, NotificationCategoryEnum, NotificationChannelEnum, NotificationKindEnum, NotificationStatusEnum } from './enums.ts';
import { NotFoundErrorRef, payload, resultUnion } from './errors.ts';
import { NodeRef } from './node.ts';

/** What a delivery says is rendered from its stored code in the viewer's language (their token's, else the user's stored one). */
const deliveryWords = { status: true, reasonCode: true, notification: { select: { user: { select: { locale: true } } } } } as const;

builder.prismaObject('NotificationDelivery', {
  fields: (t) => ({
    channel: t.expose('channel', { type: NotificationChannelEnum }),
    status: t.expose('status', { type: DeliveryStatusEnum }),
    at: t.expose('at', { type: 'DateTime' }),
    error: t.string({
      nullable: true,
      description: "Why it FAILED or was SKIPPED, in the user's language; never the push provider's own text.",
      select: deliveryWords,
      resolve: (d, _args, ctx) => deliveryError(d, ctx.auth.viewer?.locale ?? d.notification.user.locale),
    }),
    reason: t.string({
      nullable: true,
      description: "Why it was SKIPPED, DEFERRED or FAILED, in the user's language (null when SENT).",
      select: deliveryWords,
      resolve: (d, _args, ctx) => deliveryReason(d, ctx.auth.viewer?.locale ?? d.notification.user.locale),
    }),
    scheduledFor: t.expose('scheduledFor', { type: 'DateTime', nullable: true, description: 'When a DEFERRED push will go.' }),
  }),
});

const NotificationRef = builder.prismaObject('Notification', {
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: NotificationKindEnum }),
    category: t.field({ type: NotificationCategoryEnum, select: { kind: true }, resolve: (n) => categoryOf(n.kind) }),
    status: t.expose('status', { type: NotificationStatusEnum }),
    title: t.exposeString('title'),
    body: t.exposeString('body'),
    deepLink: t.exposeString('deepLink', { description: 'In-app route, e.g. app://credit/deployments/<id>.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    acknowledgedAt: t.expose('acknowledgedAt', { type: 'DateTime', nullable: true }),
    deliveries: t.relation('deliveries', {
      description: 'Every delivery attempt, oldest first.',
      query: { orderBy: [{ at: 'asc' }, { id: 'asc' }] },
    }),
  }),
});

const AcknowledgeNotificationSuccess = builder.objectRef<{ notification: Notification }>('AcknowledgeNotificationSuccess').implement({
  fields: (t) => ({
    // The full row is at hand: relations a client asks for are loaded by the Prisma plugin.
    notification: t.field({ type: NotificationRef, resolve: (parent) => parent.notification }),
  }),
});

const AcknowledgeNotificationResult = resultUnion('AcknowledgeNotificationResult', AcknowledgeNotificationSuccess, [NotFoundErrorRef]);

builder.mutationField('acknowledgeNotification', (t) =>
  t.field({
    type: AcknowledgeNotificationResult,
    args: { id: t.arg.id() },
    resolve: async (_root, { id }, ctx) => {
      return payload(await acknowledgeNotification(requireViewer(ctx.auth), id), 'notification');
    },
  }),
);

builder.subscriptionField('notifications', (t) =>
  t.prismaField({
    type: 'Notification',
    description: "In-app delivery of the authenticated user's new notifications.",
    subscribe: (_root, _args, ctx) => {
      const viewer = requireViewer(ctx.auth);
      return notificationStream(ctx.services.liveUpdates, ctx.services.presence, viewer.userId);
    },
    resolve: (query, notificationId: string, _args, ctx) =>
      prisma.notification.findFirstOrThrow({ ...query, where: { id: notificationId, userId: requireViewer(ctx.auth).userId } }),
  }),
);
