import { requireViewer } from './guards.ts';
import { prisma } from '../platform/db.ts';
import { languageOf } from '../domain/notification-content.ts';
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
    resolve: (query, _root, _args, ctx) => {
      const viewer = requireViewer(ctx.auth);
      // A valid token is proof of the user: the first request creates them. The token's language
      // is kept for the notifications written later, without a token at hand.
      const locale = languageOf(viewer.locale);
      return prisma.user.upsert({
        ...query,
        where: { id: viewer.userId },
        create: { id: viewer.userId, locale },
        update: locale ? { locale } : {},
      });
    },
  }),
);
