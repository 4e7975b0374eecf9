import { requireViewer } from './guards.ts';
import { prisma } from '../platform/db.ts';
import { ensureUser, userNeedsWrite } from '../domain/users.ts';
import { UNACKNOWLEDGED } from '../domain/notifications.ts';
import { builder } from './builder.ts';
import { CreditOfferStatusEnum } from './enums.ts';
import { NodeRef } from './node.ts';
import { newestFirst, olderThan, pageArgs, pageOf } from './pages.ts';


builder.prismaObject('User', {
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    creditProfile: t.relation('creditProfile', { nullable: true, description: 'Null until the user has a credit profile.' }),
    offers: t.prismaField({
      type: ['CreditOffer'],
      description: 'Newest first, a page (see Lists above).',
      args: { status: t.arg({ type: CreditOfferStatusEnum, required: false }), ...pageArgs },
      resolve: async (query, user, { status, ...args }) => {
        const { take, after } = await pageOf(args, (id) =>
          prisma.creditOffer
            .findFirst({ where: { id, userId: user.id }, select: { id: true, createdAt: true } })
            .then((offer) => offer && { id: offer.id, at: offer.createdAt }),
        );
        return prisma.creditOffer.findMany({
          ...query,
          where: { userId: user.id, ...(status ? { status } : {}), ...olderThan('createdAt', after) },
          orderBy: newestFirst('createdAt'),
          take,
        });
      },
    }),
    deployments: t.prismaField({
      type: ['CreditDeployment'],
      description: 'Newest first, a page (see Lists above).',
      args: pageArgs,
      resolve: async (query, user, args) => {
        const { take, after } = await pageOf(args, (id) =>
          prisma.creditDeployment
            .findFirst({ where: { id, userId: user.id }, select: { id: true, queuedAt: true } })
            .then((deployment) => deployment && { id: deployment.id, at: deployment.queuedAt }),
        );
        return prisma.creditDeployment.findMany({
          ...query,
          where: { userId: user.id, ...olderThan('queuedAt', after) },
          orderBy: newestFirst('queuedAt'),
          take,
        });
      },
    }),
    notifications: t.prismaField({
      type: ['Notification'],
      description: 'Newest first, a page (see Lists above).',
      args: { unacknowledgedOnly: t.arg.boolean({ required: false, defaultValue: false }), ...pageArgs },
      resolve: async (query, user, { unacknowledgedOnly, ...args }) => {
        const { take, after } = await pageOf(args, (id) =>
          prisma.notification
            .findFirst({ where: { id, userId: user.id }, select: { id: true, createdAt: true } })
            .then((notification) => notification && { id: notification.id, at: notification.createdAt }),
        );
        return prisma.notification.findMany({
          ...query,
          where: { userId: user.id, ...(unacknowledgedOnly ? UNACKNOWLEDGED : {}), ...olderThan('createdAt', after) },
          orderBy: newestFirst('createdAt'),
          take,
        });
      },
    }),
    unacknowledgedNotificationCount: t.relationCount('notifications', {
      description: "Notifications not yet acknowledged: the app's badge.",
      where: UNACKNOWLEDGED,
    }),
  }),
});

/** Pothos' query for the user, reading the stored locale too (included anyway unless it selects). */
function withLocale<Q extends { select?: object }>(query: Q): Q {
  return query.select ? { ...query, select: { ...query.select, locale: true } } : query;
}

builder.queryField('me', (t) =>
  t.prismaField({
    type: 'User',
    description: 'The authenticated user. UNAUTHENTICATED without a token.',
    resolve: async (query, _root, _args, ctx) => {
      const viewer = requireViewer(ctx.auth);
      const where = { id: viewer.userId };
      // A valid token is proof of the user: the first request creates them. Every later one only
      // reads (the app asks for `me` all the time; a write per call would lock the row each time).
      const found = await prisma.user.findUnique({ ...withLocale(query), where });
      if (found && !userNeedsWrite(found, viewer)) return found;
      await ensureUser(viewer);
      return prisma.user.findUniqueOrThrow({ ...query, where });
    },
  }),
);
