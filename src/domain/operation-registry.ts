// The registry of persisted operations: which documents clients may run by hash, which client
// versions registered each, and when each version last used it. The documents are checked by
// the caller (against the schema and the limits) before they reach this module.
import { prisma } from '../platform/db.ts';

export type OperationType = 'query' | 'mutation' | 'subscription';

export interface RegisteredOperation {
  /** sha256 (hex) of `body`. */
  hash: string;
  body: string;
  name: string;
  type: OperationType;
}

export interface ClientVersion {
  client: string;
  version: string;
}

const CLIENT_NAME = /^[A-Za-z0-9][\w.@/-]{0,63}$/;
const CLIENT_VERSION = /^[A-Za-z0-9][\w.+-]{0,63}$/;

/** Why a client name or version cannot be registered, or null. */
export function clientVersionRefusal({ client, version }: ClientVersion): string | null {
  if (!CLIENT_NAME.test(client)) return `the client name "${client}" must be 1-64 letters, digits, or . _ - @ /`;
  if (!CLIENT_VERSION.test(version)) return `the client version "${version}" must be 1-64 letters, digits, or . _ - +`;
  return null;
}

export interface Registration {
  /** Operations the registry did not hold before. */
  added: number;
  /** Operations the client version already had registered. */
  alreadyRegistered: number;
  hashes: string[];
}

/** Stores the operations for the client version, all or nothing; registering again changes nothing. */
export async function registerOperations(clientVersion: ClientVersion, operations: RegisteredOperation[]): Promise<Registration> {
  const refusal = clientVersionRefusal(clientVersion);
  if (refusal) throw new Error(refusal);
  const { client, version } = clientVersion;
  return prisma.$transaction(async (tx) => {
    const added = await tx.persistedOperation.createMany({ data: operations, skipDuplicates: true });
    const linked = await tx.operationRegistration.createMany({
      data: operations.map(({ hash }) => ({ clientName: client, clientVersion: version, hash })),
      skipDuplicates: true,
    });
    return { added: added.count, alreadyRegistered: operations.length - linked.count, hashes: operations.map(({ hash }) => hash) };
  });
}

export interface StoredOperation {
  body: string;
  name: string;
  type: OperationType;
  /** The client versions that registered it, as `client@version`. */
  registeredBy: Set<string>;
}

export const clientVersionKey = (client: string, version: string) => `${client}@${version}`;

/** The operation with this hash, or null. */
export async function findOperation(hash: string): Promise<StoredOperation | null> {
  const row = await prisma.persistedOperation.findUnique({
    where: { hash },
    select: { body: true, name: true, type: true, registrations: { select: { clientName: true, clientVersion: true } } },
  });
  if (!row) return null;
  return {
    body: row.body,
    name: row.name,
    type: row.type as OperationType,
    registeredBy: new Set(row.registrations.map((r) => clientVersionKey(r.clientName, r.clientVersion))),
  };
}

/** Records that these client versions used these operations at `at` (a registration's last use only moves forward). */
export async function recordUse(uses: Array<ClientVersion & { hash: string }>, at: Date): Promise<void> {
  for (const { client, version, hash } of uses) {
    await prisma.operationRegistration.updateMany({
      where: { clientName: client, clientVersion: version, hash, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: at } }] },
      data: { lastUsedAt: at },
    });
  }
}

export interface UsageRow extends ClientVersion {
  operation: string;
  type: OperationType;
  hash: string;
  registeredAt: Date;
  lastUsedAt: Date | null;
}

/** Every registration, by client, version and operation name. */
export async function operationUsage(filter: Partial<ClientVersion> = {}): Promise<UsageRow[]> {
  const rows = await prisma.operationRegistration.findMany({
    where: { clientName: filter.client, clientVersion: filter.version },
    select: { clientName: true, clientVersion: true, hash: true, registeredAt: true, lastUsedAt: true, operation: { select: { name: true, type: true } } },
    orderBy: [{ clientName: 'asc' }, { clientVersion: 'asc' }, { operation: { name: 'asc' } }],
  });
  return rows.map((row) => ({
    client: row.clientName,
    version: row.clientVersion,
    operation: row.operation.name,
    type: row.operation.type as OperationType,
    hash: row.hash,
    registeredAt: row.registeredAt,
    lastUsedAt: row.lastUsedAt,
  }));
}

export type Retirement =
  | { retired: true; registrations: number; operationsRemoved: string[] }
  | { retired: false; reason: 'unknown-version' }
  | { retired: false; reason: 'recently-used'; lastUsedAt: Date };

/**
 * Removes a client version's registrations, and the operations no other version registered.
 * Refused while the version was used after `usedSince`, unless forced.
 */
export async function retireClientVersion({ client, version }: ClientVersion, usedSince: Date, force: boolean): Promise<Retirement> {
  return prisma.$transaction(async (tx) => {
    const where = { clientName: client, clientVersion: version };
    // Locked, so a registration of the same version meanwhile waits for the decision.
    const rows = await tx.$queryRaw<Array<{ hash: string; last_used_at: Date | null }>>`
      SELECT hash, last_used_at FROM operation_registrations
      WHERE client_name = ${client} AND client_version = ${version} FOR UPDATE`;
    if (rows.length === 0) return { retired: false, reason: 'unknown-version' };
    const lastUsedAt = rows.reduce<Date | null>((latest, row) => (row.last_used_at && (!latest || row.last_used_at > latest) ? row.last_used_at : latest), null);
    if (!force && lastUsedAt && lastUsedAt >= usedSince) return { retired: false, reason: 'recently-used', lastUsedAt };
    const hashes = rows.map((row) => row.hash);
    await tx.operationRegistration.deleteMany({ where });
    const orphans = await tx.persistedOperation.findMany({ where: { hash: { in: hashes }, registrations: { none: {} } }, select: { hash: true } });
    await tx.persistedOperation.deleteMany({ where: { hash: { in: orphans.map((o) => o.hash) } } });
    return { retired: true, registrations: rows.length, operationsRemoved: orphans.map((o) => o.hash) };
  });
}
