import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { InfraInfo } from './vitest-global';
import { waitFor } from './process';

/** Helpers for test files that use the shared infra from `inject('infra')`. */
export type { InfraInfo };

/** A database name unique to one test file or test, so tests never share tables. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export function adminConnection(infra: InfraInfo, which: 'primary' | 'replica', database?: string) {
  const s = infra.mysql[which];
  return mysql.createConnection({
    host: s.host,
    port: s.port,
    user: infra.mysql.admin.user,
    password: infra.mysql.admin.password,
    ...(database ? { database } : {}),
    timezone: 'Z',
    supportBigNumbers: true,
    multipleStatements: true,
  });
}

/** Waits until the replica has applied everything the primary wrote so far. */
export async function waitForReplica(infra: InfraInfo, timeoutMs = 30_000) {
  const p = await adminConnection(infra, 'primary');
  const [rows] = await p.query('SELECT @@gtid_binlog_pos AS pos');
  await p.end();
  const pos = String((rows as { pos: string }[])[0]?.pos ?? '');
  const r = await adminConnection(infra, 'replica');
  try {
    await waitFor(
      'the replica to catch up',
      async () => {
        const [res] = await r.query('SELECT MASTER_GTID_WAIT(?, 1) AS w', [pos]);
        return Number((res as { w: number }[])[0]?.w) === 0;
      },
      timeoutMs,
    );
  } finally {
    await r.end();
  }
}
