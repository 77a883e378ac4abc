import mysql from 'mysql2/promise';
import type { Connection, Pool, PoolConnection, PoolOptions } from 'mysql2/promise';
import { InfralogsError } from '../errors';

/** Anything that can run a query: a pool, a pooled connection or a plain connection. */
export type Queryable = Pool | PoolConnection | Connection;

/**
 * The mysql2 settings every store pool needs: DATETIME columns hold UTC ('Z'), BIGINTs beyond
 * 2^53 come back as strings instead of wrong numbers, and text travels as utf8mb4.
 */
export const STORE_POOL_OPTIONS = {
  timezone: 'Z',
  supportBigNumbers: true,
  charset: 'utf8mb4',
} as const satisfies PoolOptions;

export function createStorePool(options: PoolOptions): Pool {
  return mysql.createPool({ connectionLimit: 4, ...options, ...STORE_POOL_OPTIONS });
}

export function isPool(db: Queryable): db is Pool {
  return typeof (db as Pool).getConnection === 'function' && !('release' in db);
}

/** Runs `work` on one session (GET_LOCK and transactions are per session). */
export async function withSession<T>(db: Queryable, work: (conn: Connection) => Promise<T>): Promise<T> {
  if (!isPool(db)) return work(db);
  const conn = await db.getConnection().catch((err: unknown) => {
    throw storeError(err);
  });
  try {
    return await work(conn);
  } finally {
    conn.release();
  }
}

/**
 * Runs `work` on one session holding the server-wide named lock `infralogs.<purpose>.<database>`
 * (GET_LOCK, on both servers), so two processes never change the same database's schema at once.
 * Throws CONFLICT when the lock stays held for `waitS` seconds.
 */
export async function withNamedLock<T>(
  db: Queryable,
  purpose: string,
  waitS: number,
  work: (conn: Connection, database: string) => Promise<T>,
): Promise<T> {
  return withSession(db, async (conn) => {
    const [{ name } = { name: null }] = await select<{ name: string | null }>(
      conn,
      'SELECT DATABASE() AS name',
    );
    if (!name) throw new InfralogsError('CONFIG_INVALID', 'no database selected for the store');
    const lock = `infralogs.${purpose}.${name}`.slice(0, 64);
    const [got] = await select<{ ok: number | null }>(conn, 'SELECT GET_LOCK(?, ?) AS ok', [lock, waitS]);
    if (Number(got?.ok) !== 1) throw new InfralogsError('CONFLICT', `another process holds ${lock}`);
    try {
      return await work(conn, name);
    } finally {
      await select(conn, 'SELECT RELEASE_LOCK(?)', [lock]);
    }
  });
}

// Deadlocks and lock-wait timeouts are transient under concurrent batches; the whole transaction is retried.
const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

/**
 * Runs `work` in one transaction on one pooled connection: commit on success, rollback and a coded
 * error otherwise. A connection whose rollback fails is destroyed rather than returned to the pool.
 * `isolation` sets the level of this transaction only (`SET TRANSACTION`, both servers); the
 * session's default (REPEATABLE READ) otherwise.
 */
export async function inTransaction<T>(
  pool: Pool,
  work: (conn: PoolConnection) => Promise<T>,
  options: {
    retries?: number;
    onRollback?: (code: string, retried: boolean) => void;
    isolation?: 'READ COMMITTED';
  } = {},
): Promise<T> {
  const retries = options.retries ?? 2;
  for (let attempt = 0; ; attempt++) {
    const conn = await pool.getConnection().catch((err: unknown) => {
      throw storeError(err);
    });
    let healthy = true;
    try {
      if (options.isolation) await conn.query(`SET TRANSACTION ISOLATION LEVEL ${options.isolation}`);
      await conn.beginTransaction();
      const result = await work(conn);
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => {
        healthy = false;
      });
      const code = dbCode(err);
      if (RETRYABLE.has(code)) options.onRollback?.(code, attempt < retries);
      if (attempt < retries && RETRYABLE.has(code)) continue;
      throw storeError(err);
    } finally {
      if (healthy) conn.release();
      else conn.destroy();
    }
  }
}

/** The server's error code (ER_…) of a driver error, also when wrapped by storeError. */
export function dbCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (err instanceof InfralogsError) return typeof e.cause?.code === 'string' ? e.cause.code : '';
  return typeof e.code === 'string' ? e.code : '';
}

/** MySQL/driver failures become DATABASE_FAILED with the server's error code; coded errors pass through. */
export function storeError(err: unknown): InfralogsError {
  if (err instanceof InfralogsError) return err;
  const e = err as { code?: unknown; errno?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'UNKNOWN';
  return new InfralogsError('DATABASE_FAILED', `database error ${code}`, {
    cause: err,
    details: { dbCode: code, ...(typeof e.errno === 'number' ? { errno: e.errno } : {}) },
  });
}

/** Typed row access for SELECTs (mysql2 returns a union type for query results). */
export async function select<T>(db: Queryable, sql: string, values?: unknown[]): Promise<T[]> {
  try {
    const [rows] = await db.query(sql, values);
    return rows as T[];
  } catch (err) {
    throw storeError(err);
  }
}

/** For INSERT/UPDATE/DELETE/DDL: the number of affected rows and the insert id. */
export async function execute(
  db: Queryable,
  sql: string,
  values?: unknown[],
): Promise<{ affectedRows: number; insertId: number }> {
  try {
    const [res] = await db.query(sql, values);
    const header = res as { affectedRows?: number; insertId?: number };
    return { affectedRows: header.affectedRows ?? 0, insertId: header.insertId ?? 0 };
  } catch (err) {
    throw storeError(err);
  }
}

export const formatSql = (sql: string, values: unknown[]): string =>
  mysql.format(sql, values as Parameters<typeof mysql.format>[1]);
