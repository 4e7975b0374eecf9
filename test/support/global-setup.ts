import type { TestProject } from 'vitest/node';
import { createTemplate, dropRunDatabases, dropStaleDatabases, newRunId } from './databases.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    testRunId: string;
  }
}

export default async function setup(project: TestProject) {
  const runId = newRunId();
  await dropStaleDatabases();
  createTemplate(runId);
  project.provide('testRunId', runId);
  return () => dropRunDatabases(runId);
}
