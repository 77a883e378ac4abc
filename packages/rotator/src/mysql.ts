import mysql, {
  type FieldPacket,
  type Pool,
  type PoolConnection,
  type PoolOptions,
  type QueryResult,
  type RowDataPacket,
} from 'mysql2/promise';
import { sleep } from './backoff.js';
import {
  CredentialRotator,
  type CredentialAdapter,
  type DrainResult,
  type RotatorCoreOptions,
} from './core.js';
import { OptionsInvalidError } from './errors.js';

/** mysql2 pool options without the credentials: those come from Vault. */
export type MysqlOptions = Omit<PoolOptions, 'user' | 'password' | 'uri'> & { host: string };

export interface MysqlRotatorOptions extends RotatorCoreOptions {
  /** mysql2 pool options without user/password. */
  mysql: MysqlOptions;
}

/** MySQL/MariaDB error numbers that mean "this user cannot log in (yet)". */
const ACCESS_DENIED = new Set([1045, 1044, 1698]);

export function isAccessDenied(err: unknown): boolean {
  return ACCESS_DENIED.has(Number((err as { errno?: unknown }).errno));
}

/** ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR: what an open session of a dropped user gets. */
const PRIVILEGE_LOST = new Set([1142, 1143]);

export function isPrivilegeLost(err: unknown): boolean {
  return PRIVILEGE_LOST.has(Number((err as { errno?: unknown }).errno));
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
export async function drainPool(pool: Pool, timeoutMs: number): Promise<DrainResult> {
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

/** The mysql2 adapter: a pool per lease, verified by one connection and a ping. */
export function mysqlAdapter(options: MysqlOptions): CredentialAdapter<Pool> {
  if (!options?.host) throw new OptionsInvalidError('mysql.host is required');
  return {
    target: `MySQL at ${options.host}:${options.port ?? 3306}`,
    async open(credentials) {
      const pool = mysql.createPool({
        ...options,
        user: credentials.username,
        password: credentials.password,
      });
      try {
        const conn = await pool.getConnection();
        try {
          await conn.ping();
        } finally {
          conn.release();
        }
        return pool;
      } catch (err) {
        await pool.end().catch(() => {});
        throw err;
      }
    },
    drain: drainPool,
    isAccessDenied,
    isPrivilegeLost,
    isRetryable: isConnectFailure,
    busy: busyConnections,
  };
}

/**
 * Keeps a mysql2 pool supplied with short-lived credentials from Vault's database secrets engine
 * (`mysql-database-plugin`). Take the pool per unit of work with getPool(), or let the rotator
 * manage the connection with query()/execute()/withConnection().
 */
export class MysqlRotator extends CredentialRotator<Pool> {
  constructor(options: MysqlRotatorOptions) {
    super(options, mysqlAdapter(options.mysql));
  }

  /** The pool to use now. Take it per unit of work: after a rotation the old one is drained. */
  getPool(): Pool {
    return this.handle();
  }

  /**
   * Runs fn with a connection of the current pool and releases it afterwards. If the connection
   * cannot be opened because the credentials stopped working (revoked from outside), it leases new
   * ones and retries once.
   */
  async withConnection<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.withRetryOnDenied((pool) => pool.getConnection());
    try {
      return await fn(conn);
    } finally {
      conn.release();
    }
  }

  query<T extends QueryResult = RowDataPacket[]>(sql: string, values?: unknown): Promise<[T, FieldPacket[]]> {
    return this.withConnection((conn) => conn.query<T>(sql, values as never));
  }

  execute<T extends QueryResult = RowDataPacket[]>(
    sql: string,
    values?: unknown,
  ): Promise<[T, FieldPacket[]]> {
    return this.withConnection((conn) => conn.execute<T>(sql, values as never));
  }
}

export function createMysqlRotator(options: MysqlRotatorOptions): MysqlRotator {
  return new MysqlRotator(options);
}
