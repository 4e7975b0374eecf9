// Notifications: created in the transaction of the event they report (exactly one per event),
// delivered later by the notifications worker, acknowledged by their user.
import { createHash } from 'node:crypto';
import type { Viewer } from './viewer.ts';
import { hotQuery, prisma, Prisma, type DeploymentFailureCode, type Notification, type NotificationKind, type Tx } from '../platform/db.ts';
import { isUuid, NotFoundError } from './errors.ts';
import { deploymentLink, limitChangeLink, notificationText, offerLink } from './notification-content.ts';
import type { Money } from './money.ts';

/** A notifications row as a Notification (the statements that write one return it so). */
export const NOTIFICATION_COLUMNS = Prisma.raw(`id, user_id AS "userId", kind::text AS kind, status::text AS status, title, body,
  deep_link AS "deepLink", dedupe_key AS "dedupeKey", deployment_id AS "deploymentId", offer_id AS "offerId",
  correlation_id AS "correlationId", created_at AS "createdAt", push_due_at AS "pushDueAt", push_settled_at AS "pushSettledAt",
  acknowledged_at AS "acknowledgedAt"`);

/**
 * A notification's dedupe key: one per event, e.g. of "CREDIT_DEPLOYED:<deployment id>", stored as
 * the MD5 of that text read as a UUID (16 bytes, against 53 as text in the row and in its unique
 * index: about 190 bytes per deployment with its two notifications; bench/README.md, Growth).
 * `dedupeKeySql` is the same in SQL, for the statements that build the text there.
 */
export function dedupeKey(kind: NotificationKind, subjectId: string): string {
  const hex = createHash('md5').update(`${kind}:${subjectId}`, 'utf8').digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** dedupeKey in SQL, of a text expression "<KIND>:<subject id>". */
export const dedupeKeySql = (text: Prisma.Sql) => Prisma.sql`md5(${text})::uuid`;

interface NewNotification {
  userId: string;
  kind: NotificationKind;
  /** What it is about; with the kind, it makes the dedupe key. */
  subject: { deploymentId: string } | { offerId: string } | { limitChangeId: string };
  amount: Money;
  correlationId: string;
  /** The user's stored language, when the caller has read it already (otherwise read here). */
  locale?: string | null;
  /** Why a deployment failed, when it did: some codes have their own words. */
  failureCode?: DeploymentFailureCode | null;
  /** When the change it announces takes effect (limit-change notices). */
  date?: Date | null;
}

/**
 * Creates the notification in the caller's transaction, in the user's language. Null when this
 * event already has its notification (a job that runs twice): the unique dedupe key decides.
 */
export async function createNotification(tx: Tx, input: NewNotification): Promise<Notification | null> {
  const locale =
    input.locale !== undefined ? input.locale : (await tx.user.findUnique({ where: { id: input.userId }, select: { locale: true } }))?.locale;
  const [created] = await createNotifications(tx, [{ ...input, locale: locale ?? null }]);
  return created ?? null;
}

/** A new notification's row as it is written: its words in the user's language, its link and dedupe key. */
export function notificationRow(input: NewNotification & { locale: string | null }) {
  const { title, body } = notificationText(input.kind, input.amount, input.locale, input.failureCode, input.date);
  const deploymentId = 'deploymentId' in input.subject ? input.subject.deploymentId : null;
  const offerId = 'offerId' in input.subject ? input.subject.offerId : null;
  const limitChangeId = 'limitChangeId' in input.subject ? input.subject.limitChangeId : null;
  const subjectId = deploymentId ?? offerId ?? limitChangeId!;
  const deepLink = deploymentId ? deploymentLink(subjectId) : offerId ? offerLink(subjectId) : limitChangeLink(subjectId);
  return { ...input, title, body, deploymentId, offerId, deepLink, dedupeKey: dedupeKey(input.kind, subjectId) };
}

/**
 * Creates several notifications in one statement (each in its user's language, given), in the
 * caller's transaction. Returns those created: an event that already has its notification gets none.
 */
export async function createNotifications(tx: Tx, inputs: readonly (NewNotification & { locale: string | null })[]): Promise<Notification[]> {
  if (inputs.length === 0) return [];
  const rows = inputs.map(notificationRow);
  const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((row) => row[key]);
  // Raw: Prisma never caches the plan of createManyAndReturn (it compiles it on every call).
  return tx.$queryRaw<Notification[]>`
    INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, deployment_id, offer_id, correlation_id)
    SELECT uuid_v7(), n.user_id, n.kind::notification_kind, n.title, n.body, n.deep_link, n.dedupe_key, n.deployment_id,
           n.offer_id, n.correlation_id
      FROM unnest(${column('userId')}::text[], ${column('kind')}::text[], ${column('title')}::text[], ${column('body')}::text[],
                  ${column('deepLink')}::text[], ${column('dedupeKey')}::uuid[], ${column('deploymentId')}::uuid[], ${column('offerId')}::uuid[],
                  ${column('correlationId')}::text[])
           AS n(user_id, kind, title, body, deep_link, dedupe_key, deployment_id, offer_id, correlation_id)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING ${NOTIFICATION_COLUMNS}`;
}

interface EndedDeployment {
  id: string;
  userId: string;
  currency: string;
  newLimitCents: bigint;
  correlationId: string;
  locale: string | null;
}

type DeploymentEndKind = 'CREDIT_DEPLOYED' | 'CREDIT_DEPLOYMENT_FAILED';

const deploymentEnd = (deployment: EndedDeployment, kind: DeploymentEndKind, failureCode: DeploymentFailureCode | null) => ({
  userId: deployment.userId,
  kind,
  subject: { deploymentId: deployment.id },
  amount: { cents: deployment.newLimitCents, currency: deployment.currency },
  correlationId: deployment.correlationId,
  locale: deployment.locale,
  failureCode,
});

/** The notification of a deployment's end, in the transaction that ends it. */
export async function notifyDeploymentEnd(
  tx: Tx,
  deployment: EndedDeployment,
  kind: DeploymentEndKind,
  failureCode: DeploymentFailureCode | null = null,
) {
  const [created] = await createNotifications(tx, [deploymentEnd(deployment, kind, failureCode)]);
  return created ?? null;
}

/** The notifications of several deployments' ends (of one kind), in one statement of the transaction that ends them. */
export function notifyDeploymentEnds(tx: Tx, deployments: readonly EndedDeployment[], kind: DeploymentEndKind): Promise<Notification[]> {
  return createNotifications(tx, deployments.map((deployment) => deploymentEnd(deployment, kind, null)));
}

/** Notifications by id, as stored (those that no longer exist are left out). */
export function notificationsByIds(ids: readonly string[]): Promise<Notification[]> {
  return hotQuery<Notification>('notifications by id', Prisma.sql`SELECT ${NOTIFICATION_COLUMNS} FROM notifications WHERE id = ANY(${ids}::uuid[])`);
}

/** Notifications of a deployment still waiting for their first delivery step. */
export function undeliveredNotificationsOf(deploymentId: string): Promise<Notification[]> {
  return prisma.notification.findMany({ where: { deploymentId, status: 'PENDING' } });
}

/**
 * The notifications the user has not acknowledged (the app's badge). Acknowledging sets
 * acknowledgedAt with the status ACKNOWLEDGED, and nothing clears it; this form, with no
 * parameter, is the one that the partial index of unacknowledged notifications is proven to serve.
 */
export const UNACKNOWLEDGED = { acknowledgedAt: null } satisfies Prisma.NotificationWhereInput;

/** Marks the viewer's notification seen; its pending push is then not sent. Idempotent. */
export async function acknowledgeNotification(viewer: Viewer, id: string, now = new Date()): Promise<Notification | NotFoundError> {
  if (!isUuid(id)) return new NotFoundError('Notification not found');
  const [acknowledged] = await prisma.notification.updateManyAndReturn({
    where: { id, userId: viewer.userId, status: { not: 'ACKNOWLEDGED' } },
    data: { status: 'ACKNOWLEDGED', acknowledgedAt: now },
  });
  if (acknowledged) return acknowledged;
  const existing = await prisma.notification.findFirst({ where: { id, userId: viewer.userId } });
  return existing ?? new NotFoundError('Notification not found');
}
