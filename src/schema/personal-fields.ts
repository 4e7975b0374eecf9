// Least privilege: a person's inbox and credit history are theirs. The fields that hold them are
// read by the user themself and by staff (`ops`, read-only), not by the credit engine, whose
// token needs offers, profiles and deployments (with their events), never a person's inbox.
// Enforced here, over the built schema, so that every path to these fields (a user reached
// through an offer, a node by id) is covered, whoever adds the path.
import { defaultFieldResolver, GraphQLError, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { mayReadPersonal } from '../domain/viewer.ts';
import type { Context } from './context.ts';

/** Type -> field -> the id of the person the field's data belongs to, from its parent row. */
export const PERSONAL_FIELDS: Record<string, Record<string, (parent: Record<string, unknown>) => unknown>> = {
  User: {
    notifications: (user) => user.id,
    unacknowledgedNotificationCount: (user) => user.id,
    creditHistory: (user) => user.id,
  },
  Notification: {
    deliveries: (notification) => notification.userId,
  },
};

/** Wraps the personal fields' resolvers with the owner-or-staff rule: FORBIDDEN at that path otherwise. */
export function guardPersonalFields(schema: GraphQLSchema): GraphQLSchema {
  for (const [typeName, fields] of Object.entries(PERSONAL_FIELDS)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) throw new Error(`personal fields: no object type ${typeName}`);
    for (const [fieldName, ownerOf] of Object.entries(fields)) {
      const field = type.getFields()[fieldName];
      if (!field) throw new Error(`personal fields: no field ${typeName}.${fieldName}`);
      const resolve: GraphQLFieldResolver<Record<string, unknown>, Context> = field.resolve ?? defaultFieldResolver;
      field.resolve = (parent, args, context, info) => {
        const viewer = context.auth?.viewer;
        const owner = ownerOf(parent);
        // Fails closed: a parent row without its owner's id is nobody's to read.
        if (!viewer || typeof owner !== 'string' || !mayReadPersonal(viewer, owner)) {
          throw new GraphQLError(`${typeName}.${fieldName} is readable by its user and by staff only`, { extensions: { code: 'FORBIDDEN' } });
        }
        return resolve(parent, args, context, info);
      };
    }
  }
  return schema;
}
