import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { InfraInfo } from './vitest-global';
import { waitForReplicaWith } from './mariadb';

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
export function waitForReplica(infra: InfraInfo, timeoutMs = 30_000): Promise<number> {
  return waitForReplicaWith((which) => adminConnection(infra, which), timeoutMs);
}
