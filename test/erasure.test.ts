// A data subject's erasure request (LGPD; docs/data-retention.md): what no regulatory record needs
// is deleted or blanked (devices, ordinary notifications with their deliveries, offers never
// accepted, sent downstream events, preferences, the language); the consent evidence, the
// deployment audit trail and its accepted offer, and the credit profile stay under the user id.
// Through the admin's command: an unknown user is an error that changes nothing; a second run
// erases nothing more.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { userWithProfile } from './support/users.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function eraseUser(userId: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/erase-user.ts', '--user', userId], { cwd: root, env: process.env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** A user with a little of everything: an accepted offer's trail, other offers, notifications, a device, events, preferences. */
async function userWithHistory() {
  const { userId } = await userWithProfile('seeded');
  const at = new Date();
  await prisma.user.update({ where: { id: userId }, data: { locale: 'en' } });
  const offer = (status: 'DEPLOYED' | 'EXPIRED' | 'PENDING') =>
    prisma.creditOffer.create({ data: { userId, limitCents: 500_000n, interestRateBps: 250, currency: 'BRL', status, expiresAt: new Date(at.getTime() + 86_400_000) } });
  const accepted = await offer('DEPLOYED');
  const expired = await offer('EXPIRED');
  const pending = await offer('PENDING');
  const deployment = await prisma.creditDeployment.create({
    data: {
      offerId: accepted.id, userId, status: 'DEPLOYED', currency: 'BRL', newLimitCents: 500_000n, correlationId: 'c', lastSequence: 1, completedAt: at,
      events: { create: { sequence: 1, type: 'deployed', status: 'DEPLOYED', correlationId: 'c' } },
    },
  });
  await prisma.acceptanceConsent.create({
    data: { offerId: accepted.id, userId, acceptedAt: at, terms: {}, termsHash: 'a'.repeat(64), correlationId: 'c', ipAddress: '203.0.113.7', userAgent: 'app' },
  });
  const device = await prisma.device.create({ data: { userId, token: `tok-${randomUUID()}`, platform: 'ANDROID' } });
  const notify = (kind: 'CREDIT_DEPLOYED' | 'OFFER_EXPIRED', subject: { deploymentId: string } | { offerId: string }) =>
    prisma.notification.create({
      data: {
        userId, kind, title: 't', body: 'b', deepLink: 'l', dedupeKey: randomUUID(), correlationId: 'c', ...subject,
        deliveries: { create: { channel: 'PUSH', status: 'SENT', deviceId: device.id, providerMessageId: 'projects/p/messages/1' } },
      },
    });
  await notify('CREDIT_DEPLOYED', { deploymentId: deployment.id });
  await notify('OFFER_EXPIRED', { offerId: expired.id });
  await prisma.outboxEvent.createMany({
    data: [1, 2].map((sequence) => ({
      id: randomUUID(), userId, sequence, type: 'credit.limit.changed', occurredAt: at, payload: {}, sentAt: sequence === 1 ? at : null,
    })),
  });
  await prisma.user.update({ where: { id: userId }, data: { lastEventSequence: 2 } }); // as the statements that wrote them would
  await prisma.notificationPreferences.create({ data: { userId } });
  await prisma.notificationChannelSetting.create({ data: { userId, category: 'OFFERS', channel: 'PUSH', enabled: false } });
  return { userId, accepted, expired, pending, deployment };
}

const left = async (userId: string) => ({
  locale: (await prisma.user.findUnique({ where: { id: userId } }))?.locale,
  devices: await prisma.device.count({ where: { userId } }),
  notifications: await prisma.notification.count({ where: { userId } }),
  offers: (await prisma.creditOffer.findMany({ where: { userId }, select: { status: true } })).map((o) => o.status),
  deployments: await prisma.creditDeployment.count({ where: { userId } }),
  auditEvents: await prisma.deploymentEvent.count({ where: { deployment: { userId } } }),
  consents: await prisma.acceptanceConsent.findMany({ where: { userId }, select: { ipAddress: true, userAgent: true } }),
  profile: await prisma.creditProfile.count({ where: { userId } }),
  events: (await prisma.outboxEvent.findMany({ where: { userId }, select: { sequence: true } })).map((e) => e.sequence),
  preferences: (await prisma.notificationPreferences.count({ where: { userId } })) + (await prisma.notificationChannelSetting.count({ where: { userId } })),
});

describe('erasing a data subject (npm run erase-user)', () => {
  it('erases what no regulatory record needs and keeps the evidence, the audit trail and the profile', { timeout: 180_000 }, async () => {
    const { userId } = await userWithHistory();
    const other = await userWithHistory();
    const otherBefore = await left(other.userId);

    const run = await eraseUser(userId);

    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('kept for the regulatory period: 1 consents, 1 deployments with their audit trails');
    expect(await left(userId)).toEqual({
      locale: null,
      devices: 0,
      notifications: 0,
      offers: ['DEPLOYED'],
      deployments: 1,
      auditEvents: 1,
      consents: [{ ipAddress: '203.0.113.7', userAgent: 'app' }],
      profile: 1,
      // 2 not yet published: it goes once sent, with its day's partition; 3 the erasure's user.erased.
      events: [2, 3],
      preferences: 0,
    });
    expect(await left(other.userId)).toEqual(otherBefore);
    expect(run.output).toContain("the events' consumers are told to erase their copies: user.erased, the user's event 3");
    const told = await prisma.outboxEvent.findMany({ where: { userId, sequence: 3 } });
    expect(told.map((e) => ({ type: e.type, sent: e.sentAt !== null }))).toEqual([{ type: 'user.erased', sent: false }]);

    const again = await eraseUser(userId);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain('erased: 0 notifications, 0 devices, 0 offers never accepted, 0 sent events, 0 preference rows');
  });

  it('refuses an unknown user and changes nothing', { timeout: 120_000 }, async () => {
    const { userId } = await userWithHistory();
    const before = await left(userId);
    const run = await eraseUser(`${userId}-unknown`);
    expect(run.code).toBe(1);
    expect(run.output).toContain(`no user ${userId}-unknown: nothing erased`);
    expect(await left(userId)).toEqual(before);
  });
});
