import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { adminConnection, waitFor } from '@infralogs/devkit';
import { createRotator, poolPassword, rotatorOptions, setupEngine, type Engine } from './helpers';
import type { RotatorEvent } from '../src';

const infra = inject('infra');

async function userExists(name: string): Promise<boolean> {
  const c = await adminConnection(infra, 'primary');
  const [rows] = await c.query('SELECT COUNT(*) AS n FROM mysql.user WHERE user = ?', [name]);
  await c.end();
  return Number((rows as { n: number }[])[0]?.n) > 0;
}

describe('rotator lifecycle', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await setupEngine(infra, { ttl: '2s', maxTtl: '5s' });
  });
  afterAll(() => engine?.cleanup());

  it('leases credentials, serves queries, logs no secret, and revokes on stop', async () => {
    const events: RotatorEvent[] = [];
    const logLines: string[] = [];
    const rotator = createRotator(rotatorOptions(infra, engine, { events, logLines }));
    await rotator.start();
    const lease = rotator.lease();
    expect(lease?.leaseId).toMatch(new RegExp(`^${engine.credentialsPath}/`));
    expect(lease?.username).toMatch(/^v-/);
    expect(await userExists(lease!.username)).toBe(true);

    await rotator.query('INSERT INTO items (v) VALUES (?)', ['one']);
    const [rows] = await rotator.query('SELECT v FROM items');
    expect(rows.map((r) => r.v as string)).toEqual(['one']);
    const password = poolPassword(rotator.getPool());
    expect(password.length).toBeGreaterThan(8);

    await rotator.stop();
    expect(await userExists(lease!.username)).toBe(false);
    expect(() => rotator.getPool()).toThrow(expect.objectContaining({ code: 'ROTATOR_STOPPED' }));
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['login', 'lease', 'rotated', 'drained', 'revoked']),
    );
    const log = logLines.join('\n');
    expect(log).toContain(lease!.leaseId);
    expect(log).not.toContain(password);
    expect(log).not.toContain(infra.vault.rootToken);
  });

  it('renews at two thirds of the lease and leases new credentials before max_ttl', async () => {
    const events: RotatorEvent[] = [];
    const rotator = createRotator(rotatorOptions(infra, engine, { events }));
    await rotator.start();
    const first = rotator.lease()!;
    try {
      await waitFor(
        'a rotation caused by max_ttl',
        async () => events.some((e) => e.type === 'rotated' && e.reason === 'max-ttl'),
        15_000,
      );
      const renewals = events.filter((e) => e.type === 'renewed');
      expect(renewals.length).toBeGreaterThanOrEqual(1);
      expect(renewals.some((e) => e.type === 'renewed' && e.capped)).toBe(true);
      expect(rotator.lease()!.leaseId).not.toBe(first.leaseId);
      // The old pool drains and its lease is revoked: the old user is gone.
      await waitFor(
        'the first lease to be revoked',
        async () => events.some((e) => e.type === 'revoked' && e.leaseId === first.leaseId),
        10_000,
      );
      expect(await userExists(first.username)).toBe(false);
      const [rows] = await rotator.query('SELECT CURRENT_USER() AS u');
      expect(rows[0]?.u).toBe(`${rotator.lease()!.username}@%`);
    } finally {
      await rotator.stop();
    }
  });

  it('replaces a lease revoked from outside at the next renewal', async () => {
    const events: RotatorEvent[] = [];
    const rotator = createRotator(rotatorOptions(infra, engine, { events }));
    await rotator.start();
    const first = rotator.lease()!;
    try {
      await engine.vault(`sys/leases/revoke`, 'PUT', { lease_id: first.leaseId, sync: true });
      expect(await userExists(first.username)).toBe(false);
      await waitFor(
        'the revoked lease to be replaced',
        async () => events.some((e) => e.type === 'rotated' && e.reason === 'lease-invalid'),
        10_000,
      );
      expect(
        events.some((e) => e.type === 'error' && e.during === 'renew' && e.code === 'LEASE_INVALID'),
      ).toBe(true);
      expect(rotator.lease()!.leaseId).not.toBe(first.leaseId);
      const [rows] = await rotator.query('SELECT CURRENT_USER() AS u');
      expect(rows[0]?.u).toBe(`${rotator.lease()!.username}@%`);
    } finally {
      await rotator.stop();
    }
  });

  it('query() replaces credentials revoked from outside when a new connection is refused', async () => {
    const longLived = await setupEngine(infra, { ttl: '1m', maxTtl: '5m' });
    const events: RotatorEvent[] = [];
    const rotator = createRotator(rotatorOptions(infra, longLived, { events }));
    try {
      await rotator.start();
      const first = rotator.lease()!;
      await longLived.vault('sys/leases/revoke', 'PUT', { lease_id: first.leaseId, sync: true });
      // DROP USER leaves sessions open: close them so the pool must open a new connection.
      const admin = await adminConnection(infra, 'primary');
      const [sessions] = await admin.query('SELECT id FROM information_schema.PROCESSLIST WHERE user = ?', [
        first.username,
      ]);
      for (const { id } of sessions as { id: number }[]) await admin.query('KILL ?', [id]);
      await admin.end();
      await waitFor('the pool to notice its closed sessions', async () => busyOrFree(rotator) === 0, 5000);

      const [rows] = await rotator.query('SELECT CURRENT_USER() AS u');
      expect(rows[0]?.u).toBe(`${rotator.lease()!.username}@%`);
      expect(rotator.lease()!.leaseId).not.toBe(first.leaseId);
      expect(events.some((e) => e.type === 'rotated' && e.reason === 'connect-failed')).toBe(true);
      expect(rotator.metrics().connectRetries).toBe(1);
    } finally {
      await rotator.stop();
      await longLived.cleanup();
    }
  });

  it('credentialsRefused() leases new credentials when an open session of a revoked user is refused', async () => {
    const longLived = await setupEngine(infra, { ttl: '1m', maxTtl: '5m' });
    const events: RotatorEvent[] = [];
    // No default database: MariaDB caches a session's privileges on its current database, so the
    // refusal shows on statements naming their tables (as Infralogs' table-level grants do).
    const { host, port } = infra.mysql.primary;
    const rotator = createRotator(
      rotatorOptions(infra, longLived, { events, mysql: { host, port, connectionLimit: 2 } }),
    );
    try {
      await rotator.start();
      const first = rotator.lease()!;
      const pool = rotator.getPool();
      await pool.query('SELECT 1');
      await longLived.vault('sys/leases/revoke', 'PUT', { lease_id: first.leaseId, sync: true });
      // The session stays open (DROP USER does not close it) but every table is refused now.
      const err = await pool.query(`SELECT * FROM ${longLived.database}.items`).catch((e: unknown) => e);
      expect(err).toMatchObject({ errno: 1142 });
      expect(rotator.credentialsRefused(pool, new Error('not a refusal'))).toBe(false);
      expect(rotator.credentialsRefused(pool, err)).toBe(true);
      await waitFor('new credentials', async () => rotator.getPool() !== pool, 20_000);
      expect(rotator.lease()!.leaseId).not.toBe(first.leaseId);
      // The old handle is not current any more: reporting it again changes nothing.
      expect(rotator.credentialsRefused(pool, err)).toBe(false);
      const [rows] = await rotator.getPool().query(`SELECT COUNT(*) AS n FROM ${longLived.database}.items`);
      expect((rows as { n: number }[])[0]).toBeDefined();
      expect(events.some((e) => e.type === 'rotated' && e.reason === 'connect-failed')).toBe(true);
    } finally {
      await rotator.stop();
      await longLived.cleanup();
    }
  });
});

/** Connections the current pool holds, free or busy (mysql2 internals, as in busyConnections). */
function busyOrFree(rotator: { getPool(): unknown }): number {
  return (rotator.getPool() as { pool: { _allConnections: { length: number } } }).pool._allConnections.length;
}
