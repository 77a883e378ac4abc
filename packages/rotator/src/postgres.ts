import pg from 'pg';
import type { Pool, PoolClient, PoolConfig, QueryResult, QueryResultRow } from 'pg';
import { sleep } from './backoff.js';
import {
  CredentialRotator,
  type CredentialAdapter,
  type DrainResult,
  type RotatorCoreOptions,
} from './core.js';
import { OptionsInvalidError } from './errors.js';

/** pg pool options without the credentials: those come from Vault. */
export type PostgresOptions = Omit<PoolConfig, 'user' | 'password' | 'connectionString'> & { host: string };

export interface PostgresRotatorOptions extends RotatorCoreOptions {
  /** pg `Pool` options without user/password. */
  postgres: PostgresOptions;
}

/**
 * SQLSTATEs that mean "these credentials cannot log in (yet)": 28P01 wrong password (also what a
 * dropped role gets), 28000 invalid authorization (no pg_hba line, or role not permitted to log in).
 */
const ACCESS_DENIED = new Set(['28P01', '28000']);

export function isPostgresAccessDenied(err: unknown): boolean {
  return ACCESS_DENIED.has(String((err as { code?: unknown }).code));
}

/** Connection-level failures worth one retry on a fresh pool (not SQL errors of the query itself). */
export function isPostgresConnectFailure(err: unknown): boolean {
  if (isPostgresAccessDenied(err)) return true;
  const code = (err as { code?: unknown }).code;
  const message = (err as Error)?.message ?? '';
  return (
    message === 'Cannot use a pool after calling end on the pool' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    // 57P01 admin_shutdown: the server (or pg_terminate_backend) closed the session.
    code === '57P01'
  );
}

/** Clients of this pool that are checked out, plus callers waiting for one (pg's public counters). */
export function busyClients(pool: Pool): number {
  return pool.totalCount - pool.idleCount + pool.waitingCount;
}

/**
 * Ends a pool once its checked-out clients are released (or after timeoutMs). pg's `end()` waits
 * for checked-out clients to come back, so after a timeout it is not awaited further: what is still
 * checked out is closed when released. PostgreSQL keeps sessions of a dropped role open, so
 * ending the pool is what retires the old credentials' sessions.
 */
export async function drainPgPool(pool: Pool, timeoutMs: number): Promise<DrainResult> {
  const deadline = Date.now() + timeoutMs;
  // A short grace first: a caller may have just taken this pool from getPool().
  await sleep(250);
  let busy = busyClients(pool);
  while (busy > 0 && Date.now() < deadline) {
    await sleep(50);
    busy = busyClients(pool);
  }
  const ended = pool.end().catch(() => {});
  if (busy === 0) await ended;
  return { timedOut: busy > 0, inFlightAtEnd: busy };
}

/** The pg adapter: a pool per lease, verified by one client and `SELECT 1`. */
export function postgresAdapter(options: PostgresOptions): CredentialAdapter<Pool> {
  if (!options?.host) throw new OptionsInvalidError('postgres.host is required');
  return {
    target: `PostgreSQL at ${options.host}:${options.port ?? 5432}`,
    async open(credentials) {
      const pool = new pg.Pool({ ...options, user: credentials.username, password: credentials.password });
      // An idle client whose session dies (e.g. terminated by an operator) must not crash the process.
      pool.on('error', () => {});
      try {
        const client = await pool.connect();
        try {
          await client.query('SELECT 1');
        } finally {
          client.release();
        }
        return pool;
      } catch (err) {
        await pool.end().catch(() => {});
        throw err;
      }
    },
    drain: drainPgPool,
    isAccessDenied: isPostgresAccessDenied,
    isRetryable: isPostgresConnectFailure,
    busy: busyClients,
  };
}

/**
 * Keeps a pg pool supplied with short-lived credentials from Vault's database secrets engine
 * (`postgresql-database-plugin`). Take the pool per unit of work with getPool(), or let the
 * rotator manage the client with query()/withClient().
 */
export class PostgresRotator extends CredentialRotator<Pool> {
  constructor(options: PostgresRotatorOptions) {
    super(options, postgresAdapter(options.postgres));
  }

  /** The pool to use now. Take it per unit of work: after a rotation the old one is drained. */
  getPool(): Pool {
    return this.handle();
  }

  /**
   * Runs fn with a client of the current pool and releases it afterwards. If no client can be
   * opened because the credentials stopped working (revoked from outside), it leases new ones and
   * retries once.
   */
  async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.withRetryOnDenied((pool) => pool.connect());
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<R>> {
    return this.withClient((client) => client.query<R>(text, values));
  }
}

export function createPostgresRotator(options: PostgresRotatorOptions): PostgresRotator {
  return new PostgresRotator(options);
}
