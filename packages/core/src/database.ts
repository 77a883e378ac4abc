import type { Pool } from 'mysql2/promise';

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
