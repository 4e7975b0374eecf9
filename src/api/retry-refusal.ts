// The queue board's guard on an operator's retry (/manage, ops-admin): a deployment job whose
// deployment is already final must not run again (it would change nothing, and say so).
import { isFinal } from '../domain/deployment-events.ts';
import { prisma } from '../platform/db.ts';

/** Why an operator's retry of this deployment's job must not run (it is final), or null. */
export async function retryRefusal(id: string): Promise<string | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const deployment = await prisma.creditDeployment.findUnique({ where: { id }, select: { status: true } });
  return deployment && isFinal(deployment.status) ? `the deployment is already ${deployment.status}: a retry would change nothing` : null;
}
