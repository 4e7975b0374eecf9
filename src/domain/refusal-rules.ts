// Why an accepted offer cannot be applied: the permanent refusals (retrying cannot change them),
// decided from the locked deployment and its user's locked profile. Pure: no database.
import type { DeploymentFailureCode } from '../platform/db.ts';
import type { LockedDeployment, LockedProfile } from './deployment-locks.ts';
import { formatMoney } from './money.ts';

/** Why a deployment ends FAILED: the public code, and for ops (logs, the stored reason) what exactly. */
export interface Failure {
  code: DeploymentFailureCode;
  /** For ops, in English; customers read the text rendered from the code instead. */
  reason: string;
}

/** What the refusal rules read of a deployment and of its user's profile. */
export type RefusalInput = [
  profile: Pick<LockedProfile, 'limitCents' | 'usedCents' | 'currency' | 'appliedAcceptanceSequence'>,
  deployment: Pick<LockedDeployment, 'offerStatus' | 'acceptanceSequence' | 'currency' | 'newLimitCents'>,
];

/** Why the offer cannot be applied, or null when it can. Permanent: retrying cannot change it. */
export function refusal(...[profile, deployment]: RefusalInput): Failure | null {
  if (deployment.offerStatus !== 'ACCEPTED') {
    return { code: 'OFFER_NOT_VALID', reason: `the offer is no longer valid (it is ${deployment.offerStatus})` };
  }
  if (deployment.acceptanceSequence < profile.appliedAcceptanceSequence) {
    return {
      code: 'SUPERSEDED',
      reason: `acceptance ${deployment.acceptanceSequence} reached the worker after acceptance ${profile.appliedAcceptanceSequence} was applied`,
    };
  }
  // Whenever a profile exists, an empty one too: usage may have been synced onto it in its currency.
  if (profile.currency !== deployment.currency) {
    return { code: 'CURRENCY_MISMATCH', reason: `the offer is in ${deployment.currency} but the credit profile is in ${profile.currency}` };
  }
  if (deployment.newLimitCents < profile.usedCents) {
    const limit = formatMoney({ cents: deployment.newLimitCents, currency: deployment.currency });
    const used = formatMoney({ cents: profile.usedCents, currency: profile.currency });
    return { code: 'LIMIT_BELOW_USAGE', reason: `the offered limit ${limit} is below the credit in use ${used}` };
  }
  return null;
}
