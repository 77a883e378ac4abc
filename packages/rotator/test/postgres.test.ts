import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPostgres, uniqueName, waitFor, type Postgres } from '@infralogs/devkit';
import { silentLogger, type RotatorEvent } from '../src';
import { createPostgresRotator, type PostgresRotator } from '../src/postgres';
import { vaultApi } from './helpers';

const infra = inject('infra');

/**
 * The pg adapter against a private PostgreSQL (Debian's server, initdb in a temporary folder, on
 * loopback) and the shared OpenBao's built-in postgresql-database-plugin, set up as the README says.
 */
describe('PostgreSQL adapter', () => {
  let server: Postgres;
  const vault = vaultApi(infra.vault);
  const mount = uniqueName('pgdb');
  const credentialsPath = `${mount}/creds/app`;

  const connectAs = (user: string, password: string) =>
    new pg.Client({ host: server.host, port: server.port, user, password, database: 'postgres' });
  /** Resolves to the SQLSTATE of a fresh login with these credentials, or 'ok'. */
  const loginResult = async (user: string, password: string): Promise<string> => {
    const c = connectAs(user, password);
    try {
      await c.connect();
      return 'ok';
    } catch (err) {
      return String((err as { code?: unknown }).code);
    } finally {
      await c.end().catch(() => {});
    }
  };
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = connectAs(server.admin.user, server.admin.password);
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const rotator = (events: RotatorEvent[]): PostgresRotator =>
    createPostgresRotator({
      vault: { addr: infra.vault.addr, auth: { method: 'token', token: infra.vault.rootToken } },
      credentialsPath,
      postgres: { host: server.host, port: server.port, database: 'postgres', max: 5 },
      logger: silentLogger,
      onEvent: (e) => events.push(e),
      retry: { initialMs: 100, maxMs: 1000 },
      drainTimeoutMs: 5000,
    });
  /** The password a pool was built with (a test-only look inside pg, to try it directly). */
  const poolPassword = (r: PostgresRotator) => String(r.getPool().options.password);

  beforeAll(async () => {
    server = await startPostgres();
    await admin((c) =>
      c.query(`CREATE TABLE items (id serial PRIMARY KEY, v text NOT NULL);
               CREATE ROLE app_rw NOLOGIN;
               GRANT SELECT, INSERT ON items TO app_rw;
               GRANT USAGE ON SEQUENCE items_id_seq TO app_rw;`),
    );
    await vault(`sys/mounts/${mount}`, 'POST', { type: 'database' });
    await vault(`${mount}/config/pg`, 'POST', {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${server.host}:${server.port}/postgres?sslmode=disable`,
      username: server.admin.user,
      password: server.admin.password,
      allowed_roles: ['app'],
    });
    // max_ttl 4 s: a new lease (and a new pool) about every 3 s.
    await vault(`${mount}/roles/app`, 'POST', {
      db_name: 'pg',
      creation_statements: [
        `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE app_rw`,
      ],
      revocation_statements: ['DROP ROLE IF EXISTS "{{name}}"'],
      default_ttl: '2s',
      max_ttl: '4s',
    });
  });
  afterAll(async () => {
    // Disabling the mount revokes its leases (drops their roles) while the server still runs.
    await vault(`sys/mounts/${mount}`, 'DELETE').catch(() => {});
    await server?.stop();
  });

  it('leases credentials that work, and they fail once revoked', async () => {
    const events: RotatorEvent[] = [];
    const r = rotator(events);
    await r.start();
    const lease = r.lease()!;
    expect(lease.leaseId).toMatch(new RegExp(`^${credentialsPath}/`));
    const { rows } = await r.query<{ u: string }>('SELECT current_user AS u');
    expect(rows[0]?.u).toBe(lease.username);
    await r.query('INSERT INTO items (v) VALUES ($1)', ['one']);
    const password = poolPassword(r);
    expect(await loginResult(lease.username, password)).toBe('ok');

    await r.stop();
    expect(events.some((e) => e.type === 'revoked' && e.leaseId === lease.leaseId)).toBe(true);
    expect(await loginResult(lease.username, password)).toBe('28P01');
    const roles = await admin((c) => c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [lease.username]));
    expect(roles.rowCount).toBe(0);
  });

  it('keeps queries working through two rotations, none failed, and old credentials stop working', async () => {
    const events: RotatorEvent[] = [];
    const r = rotator(events);
    await r.start();
    const seen = new Map<string, string>([[r.lease()!.username, poolPassword(r)]]);
    r.on('rotated', () => seen.set(r.lease()!.username, poolPassword(r)));
    const failures: unknown[] = [];
    let statements = 0;
    let transactions = 0;
    const rotations = () => events.filter((e) => e.type === 'rotated' && e.reason !== 'start').length;
    // Work goes on until two rotations have happened and their old pools are drained and revoked.
    const done = () => rotations() >= 2 && events.filter((e) => e.type === 'revoked').length >= 2;
    const plain = async () => {
      while (!done()) {
        try {
          await r.getPool().query('INSERT INTO items (v) VALUES ($1)', ['plain']);
          statements += 1;
        } catch (err) {
          failures.push(err);
        }
        await sleep(30);
      }
    };
    // A transaction that keeps its client checked out across a swap.
    const held = async () => {
      while (!done()) {
        try {
          await r.withClient(async (c) => {
            await c.query('BEGIN');
            await c.query('INSERT INTO items (v) VALUES ($1)', ['tx']);
            await sleep(300);
            await c.query('INSERT INTO items (v) VALUES ($1)', ['tx']);
            await c.query('COMMIT');
          });
          transactions += 1;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const work = Promise.all([plain(), plain(), plain(), held(), held()]);
    await waitFor('two rotations with their old leases revoked', async () => done(), 40_000);
    await work;
    const current = r.lease()!.username;
    await r.stop();

    expect(failures).toEqual([]);
    expect(statements).toBeGreaterThan(0);
    expect(transactions).toBeGreaterThan(0);
    expect(rotations()).toBeGreaterThanOrEqual(2);
    const drained = events.filter((e) => e.type === 'drained');
    expect(drained.every((e) => e.type === 'drained' && !e.timedOut)).toBe(true);
    expect(seen.size).toBeGreaterThanOrEqual(3);
    // Every lease was revoked (the last by stop()): none of the passwords logs in any more.
    for (const [user, password] of seen)
      expect([user, await loginResult(user, password)]).toEqual([user, '28P01']);
    expect(current).not.toBe([...seen.keys()][0]);
    const count = await admin((c) =>
      c.query<{ n: string }>(`SELECT count(*) AS n FROM items WHERE v <> 'one'`),
    );
    expect(Number(count.rows[0]?.n)).toBe(statements + 2 * transactions);
  }, 90_000);
});
