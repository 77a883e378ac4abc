import type { Pool } from 'mysql2/promise';
import { withRetry, type RetryPolicy } from './retry';

/**
 * How a component reaches MySQL. `getPool()` always returns the pool to use *now*: with Vault
 * credentials the pool is replaced on rotation, so never keep a Pool across awaits for long;
 * call getPool() again per unit of work.
 *
 * Roles: 'writer' = ingest, collect, fetch-host on the primary; 'reader' = dashboard on the replica.
 * The implementation (credentials leased from Vault via the rotator plug-in) lives with the
 * Vault work; see connectDatabase in database-vault.ts once it exists.
 */
export type DatabaseRole = 'writer' | 'reader';

export interface Database {
  role: DatabaseRole;
  getPool(): Pool;
  close(): Promise<void>;
}

/** A store call on a pool (core's store functions take the pool first). */
export type StoreCall<T> = (pool: Pool) => Promise<T>;

/**
 * One store call on the pool of now, retried by `policy` while the primary is away (a restart or
 * failover: core retry.ts's 'transaction' safety), so the call must be a read or one transaction
 * that is safe to repeat. Each attempt asks for the database again, so it lands on the pool a
 * credential rotation put in place meanwhile.
 */
export function withStoreRetry<T>(
  getDatabase: () => Promise<Database>,
  call: StoreCall<T>,
  policy: RetryPolicy,
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  return withRetry(async () => call((await getDatabase()).getPool()), policy, {
    safety: 'transaction',
    ...(onRetry ? { onRetry } : {}),
  });
}
