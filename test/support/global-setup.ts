import { createTemplate, dropTestDatabases } from './databases.ts';

export async function setup() {
  await dropTestDatabases();
  createTemplate();
}

export async function teardown() {
  await dropTestDatabases();
}
