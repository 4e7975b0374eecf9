// GraphQL codegen over the printed schema (schema.graphql): typed documents for the clients in
// this repository (the mobile app's operations in app/, the demo and the benchmark), generated
// into src/generated (not committed), and the persisted-documents manifest of all of them,
// src/generated/graphql/persisted-documents.json (committed: the server runs only those for
// customers in production; a test fails when it is stale).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['app/**/*.graphql', 'scripts/**/*.ts', 'bench/**/*.ts'],
  ignoreNoDocuments: true,
  generates: {
    'src/generated/graphql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: 'sha256' } },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        importExtension: '.ts',
        scalars: { DateTime: 'string', SafeInt: 'number', JSON: 'unknown' },
      },
    },
  },
};

export default config;
