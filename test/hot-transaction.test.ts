// hotTransaction (src/platform/db.ts): statements straight through pg on one pooled connection,
// all or nothing. The expiry sweep's batches run in it: a batch that fails halfway leaves no
// offer expired without its notification and outbox event.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { hotTransaction, prisma, Prisma } from '../src/platform/db.ts';

const userExists = async (id: string) => (await prisma.user.count({ where: { id } })) === 1;

describe('hotTransaction', () => {
  it('commits what its work wrote when the work resolves, and returns its result', async () => {
    const id = `hot-tx-${randomUUID()}`;
    const rows = await hotTransaction('test', async (query) => {
      await query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
      return query<{ id: string; sequence: number }>(Prisma.sql`SELECT id, last_event_sequence AS sequence FROM users WHERE id = ${id}`);
    });
    expect(rows).toEqual([{ id, sequence: 0 }]);
    expect(await userExists(id)).toBe(true);
  });

  it('rolls back every statement when the work throws, and the pool goes on serving', async () => {
    const id = `hot-tx-${randomUUID()}`;
    await expect(
      hotTransaction('test', async (query) => {
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
        throw new Error('the batch found fewer rows than it locked');
      }),
    ).rejects.toThrow('the batch found fewer rows than it locked');
    expect(await userExists(id)).toBe(false);

    // A statement PostgreSQL refuses (the same key twice): the first insert goes with it.
    const again = `hot-tx-${randomUUID()}`;
    await expect(
      hotTransaction('test', async (query) => {
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${again})`);
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${again})`);
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await userExists(again)).toBe(false);

    // Every connection given back is usable (none left inside an aborted transaction).
    const ids = Array.from({ length: 20 }, () => `hot-tx-${randomUUID()}`);
    await Promise.all(ids.map((u) => hotTransaction('test', (query) => query(Prisma.sql`INSERT INTO users (id) VALUES (${u})`))));
    expect(await prisma.user.count({ where: { id: { in: ids } } })).toBe(ids.length);
  });

  it('survives its connection lost between two statements (a server killed): the transaction fails, the process and the pool go on', async () => {
    const id = `hot-tx-${randomUUID()}`;
    await expect(
      hotTransaction('test', async (query) => {
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
        const [backend] = await query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid`);
        // Its server process ends while no statement of it runs: pg reports that as an 'error'
        // event of the client, which ended the process when nothing listened (a worker, when the
        // fault suite killed PostgreSQL between two statements of the expiry sweep).
        await prisma.$queryRaw`SELECT pg_terminate_backend(${backend!.pid}::int)`;
        await sleep(200);
        await query(Prisma.sql`SELECT 1`);
      }),
    ).rejects.toThrow();
    expect(await userExists(id)).toBe(false);
    const after = `hot-tx-${randomUUID()}`;
    await hotTransaction('test', (query) => query(Prisma.sql`INSERT INTO users (id) VALUES (${after})`));
    expect(await userExists(after)).toBe(true);
  });
});
