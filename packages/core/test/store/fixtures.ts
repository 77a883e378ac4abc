import mysql from 'mysql2/promise';
import type { Pool } from 'mysql2/promise';
import { inject } from 'vitest';
import { adminConnection, uniqueName } from '@infralogs/devkit';
import type { Entry } from '../../src/entry';
import { createStorePool } from '../../src/store/sql';
import { migrate } from '../../src/store/migrations';

export const SEQNUM_ID = '8c7196499b954413a742eb1e2107fa5d';
export const BOOT_ID = '0ffe5f74a4bd49ca8597eb05fe1a512a';
export const T0 = Date.UTC(2026, 10, 30, 12, 0, 0) * 1000;

/** A journal entry as the agent would send it; `seqnum` also sets its time (1 ms apart). */
export function entry(seqnum: number, over: Partial<Entry> = {}): Entry {
  const seqnumId = over.seqnumId ?? SEQNUM_ID;
  const bootId = over.bootId ?? BOOT_ID;
  const realtimeUs = over.realtimeUs ?? T0 + seqnum * 1000;
  return {
    cursor: `s=${seqnumId};i=${seqnum.toString(16)};b=${bootId};m=${(seqnum * 10).toString(16)};t=${realtimeUs.toString(16)};x=${seqnum.toString(16)}`,
    bootId,
    seqnumId,
    seqnum,
    realtimeUs,
    message: `message ${seqnum}`,
    messageRaw: null,
    hostname: 'web-1',
    comm: 'sshd',
    pid: 4242,
    priority: 6,
    syslogIdentifier: 'sshd',
    unit: 'ssh.service',
    machineId: 'f3a1c9d2b8e74d5a9c0b1e2f3a4b5c6d',
    transport: 'syslog',
    ...over,
  };
}

export const entries = (from: number, to: number, over: Partial<Entry> = {}) =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, over));

/** A fresh database on the shared primary, migrated, with a store pool; drop() removes it. */
export async function freshStore(options: { migrate?: boolean; now?: Date } = {}) {
  const infra = inject('infra');
  const name = uniqueName('store');
  const admin = await adminConnection(infra, 'primary');
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const connection = (which: 'primary' | 'replica') => ({
    host: infra.mysql[which].host,
    port: infra.mysql[which].port,
    user: infra.mysql.admin.user,
    password: infra.mysql.admin.password,
    database: name,
  });
  const pool: Pool = createStorePool(connection('primary'));
  if (options.migrate !== false) await migrate(pool, { now: options.now ?? new Date(T0 / 1000) });
  return {
    name,
    pool,
    infra,
    replica: () => createStorePool(connection('replica')),
    /** A plain admin connection into this database, for assertions. */
    admin: (which: 'primary' | 'replica' = 'primary') =>
      mysql.createConnection({
        ...connection(which),
        timezone: 'Z',
        supportBigNumbers: true,
        dateStrings: true,
      }),
    async drop() {
      await pool.end();
      const c = await adminConnection(infra, 'primary');
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    },
  };
}
