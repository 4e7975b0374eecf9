// The audit trail of a deployment. Every status change appends an event in the same
// transaction; the live stream is read from these events, so the two cannot disagree. The
// trail's reads are here too.
import { hotQuery, Prisma, type CreditDeployment, type CreditDeploymentStatus, type DeploymentEvent, type Tx } from '../platform/db.ts';

/** The columns of a deployment_events row as a DeploymentEvent, for raw statements' RETURNING. */
export const EVENT_COLUMNS = Prisma.sql`id, deployment_id AS "deploymentId", sequence, type, status::text AS status, at,
  correlation_id AS "correlationId", detail`;

export const FINAL_STATUSES: readonly CreditDeploymentStatus[] = ['DEPLOYED', 'FAILED'];

export function isFinal(status: CreditDeploymentStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export interface NewEvent {
  type: string;
  status: CreditDeploymentStatus;
  detail?: Prisma.InputJsonValue;
  /** Other changes to the deployment made together with this event. */
  changes?: Prisma.CreditDeploymentUpdateInput;
}

/**
 * Sets the deployment's status and appends the event with the next sequence. The update takes
 * the deployment's row lock, so concurrent appends get consecutive sequences, never a gap.
 */
export async function appendEvent(
  tx: Tx,
  deployment: Pick<CreditDeployment, 'id' | 'correlationId'>,
  event: NewEvent,
): Promise<{ deployment: CreditDeployment; event: DeploymentEvent }> {
  const updated = await tx.creditDeployment.update({
    where: { id: deployment.id },
    data: { ...event.changes, status: event.status, lastSequence: { increment: 1 } },
  });
  const created = await tx.deploymentEvent.create({
    data: {
      deploymentId: deployment.id,
      sequence: updated.lastSequence,
      type: event.type,
      status: event.status,
      correlationId: deployment.correlationId,
      ...(event.detail === undefined ? {} : { detail: event.detail }),
    },
  });
  return { deployment: updated, event: created };
}

// Every live stream starts with these reads (whether the caller may see the deployment, then its
// newest event): through pg, as the rest of the accept -> DEPLOYED path, not Prisma's interpreter.

/** Whether the deployment exists and is `ownerId`'s (any deployment's, when `ownerId` is null). */
export async function deploymentVisible(id: string, ownerId: string | null): Promise<boolean> {
  const rows = await hotQuery<{ visible: boolean }>('deployment visible', Prisma.sql`
    SELECT EXISTS (SELECT 1 FROM credit_deployments WHERE id = ${id}::uuid AND (${ownerId}::text IS NULL OR user_id = ${ownerId}::text)) AS visible`);
  return rows[0]?.visible === true;
}

/** The newest audit event of a deployment. */
export async function newestEvent(id: string): Promise<DeploymentEvent | null> {
  const rows = await hotQuery<DeploymentEvent>('newest event', Prisma.sql`
    SELECT ${EVENT_COLUMNS} FROM deployment_events WHERE deployment_id = ${id}::uuid ORDER BY sequence DESC LIMIT 1`);
  return rows[0] ?? null;
}

/** Audit events after a sequence, oldest first. */
export function eventsAfter(id: string, sequence: number): Promise<DeploymentEvent[]> {
  return hotQuery<DeploymentEvent>('events after', Prisma.sql`
    SELECT ${EVENT_COLUMNS} FROM deployment_events WHERE deployment_id = ${id}::uuid AND sequence > ${sequence}::int ORDER BY sequence`);
}
