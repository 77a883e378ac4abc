import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminConnection } from '@infralogs/devkit';
import { createRotator, rotatorOptions, setupEngine, type Engine } from './helpers';
import type { RotatorEvent } from '../src';
import { busyConnections } from '../src/mysql';

const infra = inject('infra');

describe('queries through rotations', () => {
  let engine: Engine;
  beforeAll(async () => {
    // max_ttl 4 s: a new lease (and a new pool) about every 3 s.
    engine = await setupEngine(infra, { ttl: '2s', maxTtl: '4s' });
  });
  afterAll(() => engine?.cleanup());

  it('loses no query, including transactions held open across a swap', async () => {
    const events: RotatorEvent[] = [];
    const rotator = createRotator(rotatorOptions(infra, engine, { events }));
    await rotator.start();
    const failures: unknown[] = [];
    // A fixed amount of work, not a time window. The pauses between units make it last at least
    // 10 s on any machine (a slower one only adds rotations), which spans several ~3 s leases.
    const WORKERS = 10;
    const STATEMENTS_PER_WORKER = 250; // 40 ms apart: >= 10 s
    const TRANSACTIONS_PER_HOLDER = 30; // ~300 ms each: >= 9 s
    let statements = 0;
    let transactions = 0;

    // Plain statements, taking the pool per unit of work as documented.
    const plain = async (worker: number) => {
      for (let i = 0; i < STATEMENTS_PER_WORKER; i++) {
        try {
          await rotator.getPool().query('INSERT INTO items (v) VALUES (?)', [`w${worker}`]);
          statements += 1;
        } catch (err) {
          failures.push(err);
        }
        await sleep(40);
      }
    };
    // Transactions that keep one connection checked out for ~300 ms between statements.
    const held = async () => {
      for (let i = 0; i < TRANSACTIONS_PER_HOLDER; i++) {
        const conn = await rotator.getPool().getConnection();
        try {
          await conn.beginTransaction();
          await conn.query('INSERT INTO items (v) VALUES (?)', ['tx']);
          await sleep(300);
          await conn.query('INSERT INTO items (v) VALUES (?)', ['tx']);
          await conn.commit();
          transactions += 1;
        } catch (err) {
          failures.push(err);
        } finally {
          conn.release();
        }
      }
    };
    await Promise.all([...Array.from({ length: WORKERS }, (_, i) => plain(i)), held(), held()]);
    // Near max_ttl a renewal either comes back capped ('max-ttl') or is refused ('lease-invalid'):
    // Vault counts TTLs in whole seconds, so which one happens depends on timing.
    const rotations = events.filter((e) => e.type === 'rotated' && e.reason !== 'start').length;
    await rotator.stop();

    expect(failures).toEqual([]);
    expect(statements).toBe(WORKERS * STATEMENTS_PER_WORKER);
    expect(transactions).toBe(2 * TRANSACTIONS_PER_HOLDER);
    expect(rotations).toBeGreaterThanOrEqual(2);
    // Every drained pool finished its work before closing.
    const drained = events.filter((e) => e.type === 'drained');
    expect(drained.length).toBeGreaterThanOrEqual(rotations);
    expect(drained.every((e) => e.type === 'drained' && !e.timedOut)).toBe(true);
    const c = await adminConnection(infra, 'primary', engine.database);
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM items');
    await c.end();
    expect(Number((rows as { n: number }[])[0]?.n)).toBe(statements + 2 * transactions);
  }, 90_000);

  it('counts checked-out connections so a drain waits for them', async () => {
    const rotator = createRotator(rotatorOptions(infra, engine));
    await rotator.start();
    const pool = rotator.getPool();
    const a = await pool.getConnection();
    const b = await pool.getConnection();
    expect(busyConnections(pool)).toBe(2);
    a.release();
    expect(busyConnections(pool)).toBe(1);
    const stopped = rotator.stop();
    await sleep(600);
    // The pool is still open for b: its session keeps working during the drain.
    const [rows] = await b.query('SELECT 1 AS one');
    expect((rows as { one: number }[])[0]?.one).toBe(1);
    b.release();
    await stopped;
    expect(busyConnections(pool)).toBe(0);
    await expect(pool.query('SELECT 1')).rejects.toThrow(/closed/i);
  });
});
