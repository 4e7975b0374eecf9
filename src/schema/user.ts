import { requireViewer } from '../auth.ts';
import { prisma } from '../db.ts';
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
  }),
});

builder.queryField('me', (t) =>
  t.prismaField({
    type: 'User',
    description: 'The authenticated user. UNAUTHENTICATED without a token.',
    resolve: (query, _root, _args, ctx) => {
      const { userId } = requireViewer(ctx.auth);
      // A valid token is proof of the user: the first request creates them.
      return prisma.user.upsert({ ...query, where: { id: userId }, create: { id: userId }, update: {} });
    },
  }),
);
