import { z } from 'zod';
import { createRotator, type Rotator } from '@infralogs/vault-mysql-rotator';
import { env as field, loadConfig } from './config';
import type { Database, DatabaseRole } from './database';
import { createLogger, type LogLevel, type Logger } from './log';
import { exposeLeaseRemaining, recordRotatorEvent } from './rotator-metrics';
import { onShutdown } from './shutdown';
import { STORE_POOL_OPTIONS } from './store/sql';
import { toInfralogsError, vaultConfigFromEnv, vaultSession } from './vault';

/**
 * The Database every function uses: a mysql2 pool whose credentials are leased from Vault's
 * database secrets engine and rotated by the rotator plug-in. There is no password variable:
 * DB_HOST is the primary for the writer and the replica for the reader (the stack sets it).
 */
const databaseEnvSchema = z.object({
  DB_HOST: z.string().min(1),
  DB_PORT: field.port(3306),
  DB_NAME: field.str('infralogs'),
  DB_POOL_SIZE: field.int(10, 1, 1000),
  VAULT_DB_MOUNT: field.str('database'),
  VAULT_DB_ROLE: z.string().min(1).optional(),
  /** How long new credentials may take to reach the server (replication lag on the replica). */
  DB_CONNECT_TIMEOUT_MS: field.int(30_000, 1000),
  DB_DRAIN_TIMEOUT_MS: field.int(30_000, 0),
  DB_START_TIMEOUT_MS: field.int(15_000, 0),
});

export interface VaultDatabase extends Database {
  /** The rotator behind the pool: lease(), metrics(), on(...). */
  rotator: Rotator;
}

export async function connectDatabase(
  role: DatabaseRole,
  env: Record<string, string | undefined> = process.env,
  options: { logger?: Logger } = {},
): Promise<VaultDatabase> {
  const c = loadConfig(databaseEnvSchema, env);
  const vault = vaultConfigFromEnv(env);
  const level = env.LOG_LEVEL as LogLevel | undefined;
  const logger = (options.logger ?? createLogger({ component: 'database' }, level ? { level } : {})).child({
    role,
  });
  const rotator = createRotator({
    vault: vaultSession(vault),
    credentialsPath: `${c.VAULT_DB_MOUNT}/creds/${c.VAULT_DB_ROLE ?? `infralogs-${role}`}`,
    mysql: {
      host: c.DB_HOST,
      port: c.DB_PORT,
      database: c.DB_NAME,
      connectionLimit: c.DB_POOL_SIZE,
      ...STORE_POOL_OPTIONS,
    },
    connectTimeoutMs: c.DB_CONNECT_TIMEOUT_MS,
    drainTimeoutMs: c.DB_DRAIN_TIMEOUT_MS,
    startTimeoutMs: c.DB_START_TIMEOUT_MS,
    logger,
    onEvent: (event) => recordRotatorEvent(event, role),
  });
  const unexpose = exposeLeaseRemaining(rotator, role);
  try {
    await rotator.start();
  } catch (err) {
    unexpose();
    await rotator.stop();
    throw toInfralogsError(err);
  }
  return {
    role,
    rotator,
    getPool() {
      try {
        return rotator.getPool();
      } catch (err) {
        throw toInfralogsError(err);
      }
    },
    close: () => {
      unexpose();
      return rotator.stop();
    },
  };
}

/**
 * A lazily connected Database for a function's deps: the first caller connects, later callers
 * share it, and a failed connect is forgotten so the next request tries again (the caller got a
 * coded 503 meanwhile, not a crash).
 */
export function lazyDatabase(role: DatabaseRole, env: Record<string, string | undefined> = process.env) {
  let connecting: Promise<VaultDatabase> | undefined;
  let unregister: (() => void) | undefined;
  const lazy = {
    get(): Promise<VaultDatabase> {
      connecting ??= connectDatabase(role, env).then(
        (db) => {
          // Registered after the Vault session (made while connecting), so it closes first.
          unregister = onShutdown(() => lazy.close());
          return db;
        },
        (err: unknown) => {
          connecting = undefined;
          throw err;
        },
      );
      return connecting;
    },
    async close(): Promise<void> {
      const db = await connecting?.catch(() => undefined);
      connecting = undefined;
      unregister?.();
      unregister = undefined;
      await db?.close();
    },
  };
  return lazy;
}
