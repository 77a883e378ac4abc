import type { Pool } from 'mysql2/promise';
import { z } from 'zod';
import { createMysqlRotator, type MysqlRotator } from '@infralogs/vault-rotator/mysql';
import { env as field, loadConfig } from './config';
import type { Database, DatabaseRole } from './database';
import { createLogger, type Logger } from './log';
import { exposeLeaseRemaining, recordRotatorEvent } from './rotator-metrics';
import { onShutdown } from './shutdown';
import { STORE_POOL_OPTIONS } from './store/sql';
import { toInfralogsError, vaultConfigFromEnv, vaultSession, type VaultConfig } from './vault';

/**
 * The Database every function uses: a mysql2 pool whose credentials are leased from Vault's
 * database secrets engine and rotated by the rotator plug-in. There is no password variable:
 * DB_HOST is the primary for the writer and the replica for the reader (the stack sets it).
 */
const databaseEnvSchema = z.object({
  /** A name or an address (IPv6 without brackets): a URL here would only fail when connecting. */
  DB_HOST: z.string().regex(/^[\w.-]+$|^[0-9A-Fa-f:.]+$/, 'expected a host name or IP address'),
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
  rotator: MysqlRotator;
}

/**
 * Everything a Database needs, read from the environment and validated: the MySQL server, pool
 * and timeouts, where the credentials are leased, the Vault login and LOG_LEVEL. Throws
 * CONFIG_INVALID naming the variable; nothing is connected yet.
 */
export interface DatabaseSettings {
  role: DatabaseRole;
  mysql: z.infer<typeof databaseEnvSchema>;
  vault: VaultConfig;
  credentialsPath: string;
}

export function databaseSettingsFromEnv(
  role: DatabaseRole,
  env: Record<string, string | undefined> = process.env,
): DatabaseSettings {
  const mysql = loadConfig(databaseEnvSchema, env);
  const vault = vaultConfigFromEnv(env);
  const credentialsPath = `${mysql.VAULT_DB_MOUNT}/creds/${mysql.VAULT_DB_ROLE ?? `infralogs-${role}`}`;
  return { role, mysql, vault, credentialsPath };
}

export async function connectDatabase(
  role: DatabaseRole,
  env: Record<string, string | undefined> = process.env,
  options: { logger?: Logger } = {},
): Promise<VaultDatabase> {
  return openDatabase(databaseSettingsFromEnv(role, env), options);
}

/** Connects with settings already validated (lazyDatabase validates at start, connects later). */
export async function openDatabase(
  settings: DatabaseSettings,
  options: { logger?: Logger } = {},
): Promise<VaultDatabase> {
  const { role, mysql: c, vault } = settings;
  const level = vault.logLevel;
  const logger = (options.logger ?? createLogger({ component: 'database' }, level ? { level } : {})).child({
    role,
  });
  const rotator = createMysqlRotator({
    vault: vaultSession(vault),
    credentialsPath: settings.credentialsPath,
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
        return watchRefusals(rotator, rotator.getPool());
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

const watched = new WeakSet<Pool>();

/**
 * Callers take the pool and use it themselves, so an access denial (the writer's lease revoked
 * in Vault drops its user: new sessions are refused, open ones are refused every table) would go
 * unnoticed until the next renewal. Each pool reports a denial to its rotator, which leases new
 * credentials at once; the caller's retry (fetch-host's, collect's) lands on the new pool.
 */
function watchRefusals(rotator: MysqlRotator, pool: Pool): Pool {
  if (watched.has(pool)) return pool;
  watched.add(pool);
  const report = (err: unknown) => {
    if (rotator.credentialsRefused(pool, err)) {
      createLogger({ component: 'database' }).warn('database.credentials_refused', { error: err });
    }
    throw err;
  };
  // Connections are checked out anew per unit of work: their queries report refusals too (an open
  // session of a dropped user is refused every table).
  const watch = <T extends { query: Pool['query']; execute: Pool['execute'] }>(target: T): T => {
    const query = target.query.bind(target);
    const execute = target.execute.bind(target);
    target.query = ((...args: Parameters<Pool['query']>) => query(...args).catch(report)) as Pool['query'];
    target.execute = ((...args: Parameters<Pool['execute']>) =>
      execute(...args).catch(report)) as Pool['execute'];
    return target;
  };
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = () => getConnection().then(watch, report);
  watch(pool);
  return pool;
}

/**
 * A lazily connected Database for a function's deps. The environment is validated now, when the
 * function starts (a bad or missing DB_HOST, VAULT_ADDR or LOG_LEVEL throws CONFIG_INVALID naming
 * it, so the process stops at start instead of answering 500); only the connection waits: the
 * first caller connects, later callers share it, and a failed connect is forgotten so the next
 * request tries again (the caller got a coded 503 meanwhile, not a crash).
 */
export function lazyDatabase(role: DatabaseRole, env: Record<string, string | undefined> = process.env) {
  const settings = databaseSettingsFromEnv(role, env);
  let connecting: Promise<VaultDatabase> | undefined;
  let unregister: (() => void) | undefined;
  const lazy = {
    get(): Promise<VaultDatabase> {
      connecting ??= openDatabase(settings).then(
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
