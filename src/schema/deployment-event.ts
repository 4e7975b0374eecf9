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
    detail: t.expose('detail', { type: 'JSON', nullable: true }),
  }),
});
