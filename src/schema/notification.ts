import { requireViewer } from './guards.ts';
import { prisma, type Notification } from '../platform/db.ts';
import { acknowledgeNotification } from '../domain/notifications.ts';
import { notificationStream } from '../realtime/notification-stream.ts';
import { builder } from './builder.ts';
import { DeliveryStatusEnum, NotificationChannelEnum, NotificationKindEnum, NotificationStatusEnum } from './enums.ts';
import { NotFoundErrorRef, payload, resultUnion } from './errors.ts';
import { NodeRef } from './node.ts';

builder.prismaObject('NotificationDelivery', {
  fields: (t) => ({
    channel: t.expose('channel', { type: NotificationChannelEnum }),
    status: t.expose('status', { type: DeliveryStatusEnum }),
    at: t.expose('at', { type: 'DateTime' }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

const NotificationRef = builder.prismaObject('Notification', {
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: NotificationKindEnum }),
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
