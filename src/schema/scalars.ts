import { DateTimeResolver, JSONResolver, SafeIntResolver } from 'graphql-scalars';
import { builder } from './builder.ts';

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('SafeInt', SafeIntResolver, {
  description: 'Integer between -(2^53-1) and 2^53-1 (graphql-scalars SafeInt).',
});
builder.addScalarType('JSON', JSONResolver);
