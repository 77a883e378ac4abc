import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { adminConnection, startOpenBao, waitFor, waitForReplica, type OpenBao } from '@infralogs/devkit';
import { createRotator, rotatorOptions, setupEngine, type Engine } from './helpers';
import { VaultUnavailableError, type RotatorEvent } from '../src';

const infra = inject('infra');

describe('with Vault down', () => {
  let bao: OpenBao;
  let engine: Engine;
  const leftoverUsers: string[] = [];
  beforeAll(async () => {
    // A private OpenBao for this file only: the test stops it.
    bao = await startOpenBao();
    engine = await setupEngine(infra, { ttl: '6s', maxTtl: '1h', vault: bao });
  });
  afterAll(async () => {
    await bao?.stop();
    // Users leased from the stopped OpenBao can no longer be revoked by it.
    const c = await adminConnection(infra, 'primary');
    for (const u of leftoverUsers) await c.query(`DROP USER IF EXISTS ?@'%'`, [u]);
    await c.end();
    await engine?.cleanup();
  });

  it('start() against an unreachable Vault fails with VaultUnavailableError after retrying', async () => {
    const events: RotatorEvent[] = [];
    const rotator = createRotator(
      rotatorOptions(infra, engine, {
        events,
        vault: { addr: 'http://127.0.0.1:9', auth: { method: 'token', token: 'x' }, requestTimeoutMs: 500 },
        startTimeoutMs: 1500,
      }),
    );
    const err = await rotator.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultUnavailableError);
    expect(err).toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    const retries = events.filter((e) => e.type === 'error' && e.during === 'start');
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(() => rotator.getPool()).toThrow(VaultUnavailableError);
    await rotator.stop();
  });

  it('keeps serving while the lease is valid, then gives callers a typed error, never a crash', async () => {
    const events: RotatorEvent[] = [];
    const rotator = createRotator(
      rotatorOptions(infra, engine, {
        events,
        vault: { addr: bao.addr, auth: { method: 'token', token: bao.rootToken }, requestTimeoutMs: 500 },
        // Renewal at a fifth of the 6 s lease: its failure is seen with most of the lease left.
        renewFraction: 0.2,
      }),
    );
    await rotator.start();
    const lease = rotator.lease()!;
    leftoverUsers.push(lease.username);
    const pool = rotator.getPool();
    await bao.stop();

    // Within the lease the pool keeps working; renewal and rotation fail and are retried.
    await waitFor(
      'a failed renewal and a retried rotation',
      async () =>
        events.some((e) => e.type === 'error' && e.during === 'rotate' && e.code === 'VAULT_UNAVAILABLE'),
      5000,
    );
    // Still the same pool and the same leased user: nothing was replaced or cut off.
    expect(rotator.getPool()).toBe(pool);
    const [rows] = await rotator.query('SELECT COUNT(*) AS n, CURRENT_USER() AS u FROM items');
    expect([Number(rows[0]?.n), rows[0]?.u]).toEqual([0, `${lease.username}@%`]);
    const retried = events.filter((e) => e.type === 'error' && e.retryInMs !== undefined);
    expect(retried.length).toBeGreaterThanOrEqual(1);

    // Once the lease has run out, callers get the clear, coded error.
    await waitFor(
      'the rotator to refuse the ran-out lease',
      async () => {
        try {
          rotator.getPool();
          return false;
        } catch (err) {
          if (err instanceof VaultUnavailableError) return true;
          throw err;
        }
      },
      30_000,
    );
    await expect(rotator.query('SELECT 1')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    await rotator.stop();
    expect(events.some((e) => e.type === 'error' && e.during === 'revoke')).toBe(true);
  });
});

describe('on a replica', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await setupEngine(infra, { grants: 'SELECT' });
    await waitForReplica(infra);
  });
  afterAll(() => engine?.cleanup());

  it('waits for a new user to replicate before using it', async () => {
    const logLines: string[] = [];
    const replica = await adminConnection(infra, 'replica');
    await replica.query('STOP SLAVE');
    let started: Promise<void> | undefined;
    const rotator = createRotator(rotatorOptions(infra, engine, { logLines, server: 'replica' }));
    try {
      started = rotator.start();
      await waitFor(
        'the rotator to wait for its user',
        async () => logLines.some((l) => l.includes('rotator.waiting_for_user')),
        10_000,
      );
    } finally {
      await replica.query('START SLAVE');
      await replica.end();
    }
    await started;
    const [rows] = await rotator.query('SELECT CURRENT_USER() AS u');
    expect(rows[0]?.u).toBe(`${rotator.lease()!.username}@%`);
    // Writing is refused (the replica's read_only answers before the missing grant would).
    const err = await rotator.query('INSERT INTO items (v) VALUES (1)').catch((e: { errno?: number }) => e);
    expect([1142, 1290]).toContain((err as { errno?: number }).errno);
    await rotator.stop();
  });
});
