import { publicEventDetail } from '../domain/failure-text.ts';
import { builder } from './builder.ts';
import { CreditDeploymentStatusEnum } from './enums.ts';

builder.prismaObject('DeploymentEvent', {
  fields: (t) => ({
    id: t.id({ resolve: (event) => event.id.toString() }),
    sequence: t.exposeInt('sequence', { description: '1, 2, 3 ... per deployment, no gaps.' }),
    type: t.exposeString('type', {
      description: 'What happened, e.g. QUEUED, PROCESSING_STARTED, RETRY_SCHEDULED, PROFILE_UPDATED, DEPLOYED, FAILED, NOTIFIED.',
    }),
    status: t.expose('status', { type: CreditDeploymentStatusEnum, description: "The deployment's status after this event." }),
    at: t.expose('at', { type: 'DateTime' }),
    // Codes and public fields only: raw error text that rows written by older releases hold is left out.
    detail: t.field({ type: 'JSON', nullable: true, resolve: (event) => publicEventDetail(event.detail) }),
  }),
});
