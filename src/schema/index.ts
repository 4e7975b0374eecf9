// The GraphQL schema: every type file registers itself with the builder; this file only collects them.
import { builder } from './builder.ts';
import { guardPersonalFields } from './personal-fields.ts';
import './scalars.ts';
import './node.ts';
import './money.ts';
import './enums.ts';
import './errors.ts';
import './user.ts';
import './credit-profile.ts';
import './credit-offer.ts';
import './credit-deployment.ts';
import './deployment-event.ts';
import './notification.ts';
import './notification-preferences.ts';
import './device.ts';
import './credit-history.ts';
import './limit-change.ts';

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

export const schema = guardPersonalFields(builder.toSchema({ sortSchema: false }));
