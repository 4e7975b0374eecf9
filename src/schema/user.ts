import { requireViewer } from './guards.ts';
import { prisma } from '../platform/db.ts';
import { ensureUser } from '../domain/users.ts';
import { builder } from './builder.ts';
import { CreditOfferStatusEnum } from './enums.ts';
import { NodeRef } from './node.ts';

builder.prismaObject('User', {
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    creditProfile: t.relation('creditProfile', { nullable: true, description: 'Null until the user has a credit profile.' }),
    offers: t.relation('offers', {
      description: 'Newest first.',
      args: { status: t.arg({ type: CreditOfferStatusEnum, required: false }) },
      query: (args) => ({ where: args.status ? { status: args.status } : {}, orderBy: { createdAt: 'desc' } }),
    }),
    deployments: t.relation('deployments', {
      description: 'Newest first.',
      query: { orderBy: { queuedAt: 'desc' } },
    }),
    notifications: t.relation('notifications', {
      description: 'Newest first.',
      args: { unacknowledgedOnly: t.arg.boolean({ required: false, defaultValue: false }) },
      query: (args) => ({
        where: args.unacknowledgedOnly ? { status: { not: 'ACKNOWLEDGED' } } : {},
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
    }),
  }),
});

builder.queryField('me', (t) =>
  t.prismaField({
    type: 'User',
    description: 'The authenticated user. UNAUTHENTICATED without a token.',
    resolve: async (query, _root, _args, ctx) => {
      const viewer = requireViewer(ctx.auth);
      // A valid token is proof of the user: the first request creates them.
      await ensureUser(viewer);
      return prisma.user.findUniqueOrThrow({ ...query, where: { id: viewer.userId } });
    },
  }),
);
