import mysql, { type Pool, type PoolOptions } from 'mysql2/promise';
import { backoffDelay, sleep, type BackoffOptions } from './backoff';
import { DatabaseUnavailableError } from './errors';
import type { DatabaseCredentials } from './vault-client';

/** mysql2 pool options without the credentials: those come from Vault. */
export type MysqlOptions = Omit<PoolOptions, 'user' | 'password' | 'uri'> & { host: string };

/** MySQL/MariaDB error numbers that mean "this user cannot log in (yet)". */
const ACCESS_DENIED = new Set([1045, 1044, 1698]);

export function isAccessDenied(err: unknown): boolean {
  return ACCESS_DENIED.has(Number((err as { errno?: unknown }).errno));
}

/** Connection-level failures worth one retry on a fresh pool (not SQL errors of the query itself). */
export function isConnectFailure(err: unknown): boolean {
  if (isAccessDenied(err)) return true;
  const code = (err as { code?: unknown }).code;
  const message = (err as Error)?.message ?? '';
  return (
    message === 'Pool is closed.' ||
    code === 'PROTOCOL_CONNECTION_LOST' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET'
  );
}

/**
 * Builds a pool for freshly leased credentials and proves it works before anyone uses it: one
 * connection is opened and pinged. Access denied is retried with backoff until `timeoutMs`,
 * because users are created on the primary and reach a replica only when replication applies
 * them; a pool pointed at a replica must not go live before its user exists there.
 */
export async function createVerifiedPool(
  options: MysqlOptions,
  credentials: DatabaseCredentials,
  wait: { timeoutMs: number; retry?: BackoffOptions; signal?: AbortSignal; onRetry?: (err: unknown) => void },
): Promise<Pool> {
  const pool = mysql.createPool({ ...options, user: credentials.username, password: credentials.password });
  const deadline = Date.now() + wait.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const conn = await pool.getConnection();
      try {
        await conn.ping();
      } finally {
        conn.release();
      }
      return pool;
    } catch (err) {
      const retryable = isAccessDenied(err) || isConnectFailure(err);
      const delay = backoffDelay(attempt, wait.retry);
      if (!retryable || Date.now() + delay > deadline || wait.signal?.aborted) {
        await pool.end().catch(() => {});
        const hint = isAccessDenied(err)
          ? ' (the user may not have replicated to this server yet, or was revoked)'
          : '';
        throw new DatabaseUnavailableError(
          `cannot connect to MySQL at ${options.host}:${options.port ?? 3306} as ${credentials.username}${hint}: ${
            (err as Error).message
          }`,
          { cause: err },
        );
      }
      wait.onRetry?.(err);
      await sleep(delay, wait.signal);
    }
  }
}

interface CorePoolInternals {
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  _connectionQueue?: { length: number };
}

/**
 * Connections of this pool that are checked out, being opened, or waited for. mysql2's
 * `pool.end()` closes checked-out connections too (a transaction between two statements would
 * fail), so draining waits for this to reach 0 first. mysql2 exposes no public counter, hence
 * its internal queues (covered by the drain test).
 */
export function busyConnections(pool: Pool): number {
  const core = (pool as unknown as { pool: CorePoolInternals }).pool;
  const all = core._allConnections?.length ?? 0;
  const free = core._freeConnections?.length ?? 0;
  const queued = core._connectionQueue?.length ?? 0;
  return all - free + queued;
}

/**
 * Ends a pool once its in-flight work is done (or after timeoutMs, then closing what is left).
 * MySQL's DROP USER does not close open sessions, so ending the pool is what really retires
 * the old credentials' sessions.
 */
export async function drainPool(
  pool: Pool,
  timeoutMs: number,
): Promise<{ timedOut: boolean; inFlightAtEnd: number }> {
  const deadline = Date.now() + timeoutMs;
  // A short grace first: a caller may have just taken this pool from getPool().
  await sleep(250);
  let busy = busyConnections(pool);
  while (busy > 0 && Date.now() < deadline) {
    await sleep(50);
    busy = busyConnections(pool);
  }
  await pool.end().catch(() => {});
  return { timedOut: busy > 0, inFlightAtEnd: busy };
}
