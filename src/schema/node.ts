import { builder } from './builder.ts';

export const NodeRef = builder.interfaceRef<{ id: string }>('Node').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});
