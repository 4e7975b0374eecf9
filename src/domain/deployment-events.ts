// The audit trail of a deployment. Every status change appends an event in the same
// transaction; the live stream is read from these events, so the two cannot disagree. The
// trail's reads are here too.
import { prisma, Prisma, type CreditDeployment, type CreditDeploymentStatus, type DeploymentEvent, type Tx } from '../platform/db.ts';

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

/** The newest audit event of a deployment. */
export function newestEvent(id: string): Promise<DeploymentEvent | null> {
  return prisma.deploymentEvent.findFirst({ where: { deploymentId: id }, orderBy: { sequence: 'desc' } });
}

/** Audit events after a sequence, oldest first. */
export function eventsAfter(id: string, sequence: number): Promise<DeploymentEvent[]> {
  return prisma.deploymentEvent.findMany({ where: { deploymentId: id, sequence: { gt: sequence } }, orderBy: { sequence: 'asc' } });
}
