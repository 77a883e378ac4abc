import { adminConnection, uniqueName, type InfraInfo } from '@infralogs/devkit';
import type { Pool } from 'mysql2/promise';
import { silentLogger, type RotatorEvent } from '../src';
import {
  createMysqlRotator as createRotator,
  type MysqlRotatorOptions as RotatorOptions,
} from '../src/mysql';

/**
 * Sets up what a stranger would have: a database secrets engine (own mount) on the shared OpenBao,
 * connected to the shared MariaDB primary with the test admin account, one role with short TTLs,
 * and a database with one table. Plain HTTP, as in the README.
 */
export interface Engine {
  mount: string;
  role: string;
  credentialsPath: string;
  database: string;
  vault(path: string, method?: string, body?: unknown): Promise<{ status: number; body: VaultAnswer }>;
  cleanup(): Promise<void>;
}

/** The part of a Vault answer tests look at. */
export interface VaultAnswer {
  lease_id?: string;
  data?: Record<string, unknown>;
  auth?: { client_token: string };
}

/** The password a pool was built with (a test-only look inside mysql2, to prove logs omit it). */
export function poolPassword(pool: Pool): string {
  return (pool as unknown as { pool: { config: { connectionConfig: { password: string } } } }).pool.config
    .connectionConfig.password;
}

/** Plain HTTP calls to Vault/OpenBao with its root token (what an operator would do). */
export function vaultApi(server: { addr: string; rootToken: string }): Engine['vault'] {
  return async (path: string, method = 'GET', body?: unknown) => {
    const res = await fetch(`${server.addr}/v1/${path}`, {
      method,
      headers: { 'X-Vault-Token': server.rootToken, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

export async function setupEngine(
  infra: InfraInfo,
  options: {
    ttl?: string;
    maxTtl?: string;
    grants?: string;
    vault?: { addr: string; rootToken: string };
  } = {},
): Promise<Engine> {
  const server = options.vault ?? infra.vault;
  const mount = uniqueName('db');
  const role = 'app';
  const database = uniqueName('rot');
  const vault = vaultApi(server);
  const admin = await adminConnection(infra, 'primary');
  await admin.query(
    `CREATE DATABASE \`${database}\`; CREATE TABLE \`${database}\`.items (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))`,
  );
  await admin.end();
  const p = infra.mysql.primary;
  await vault(`sys/mounts/${mount}`, 'POST', { type: 'database' });
  await vault(`${mount}/config/mysql`, 'POST', {
    plugin_name: 'mysql-database-plugin',
    connection_url: `{{username}}:{{password}}@tcp(${p.host}:${p.port})/`,
    username: infra.mysql.admin.user,
    password: infra.mysql.admin.password,
    allowed_roles: [role],
  });
  await vault(`${mount}/roles/${role}`, 'POST', {
    db_name: 'mysql',
    creation_statements: [
      "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
      `GRANT ${options.grants ?? 'SELECT, INSERT, UPDATE'} ON \`${database}\`.* TO '{{name}}'@'%'`,
    ],
    revocation_statements: ["DROP USER IF EXISTS '{{name}}'@'%'"],
    default_ttl: options.ttl ?? '1m',
    max_ttl: options.maxTtl ?? '5m',
  });
  return {
    mount,
    role,
    credentialsPath: `${mount}/creds/${role}`,
    database,
    vault,
    async cleanup() {
      // Disabling the mount revokes its leases (drops their users).
      await vault(`sys/mounts/${mount}`, 'DELETE').catch(() => {});
      const c = await adminConnection(infra, 'primary');
      await c.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await c.end();
    },
  };
}

/** Rotator options for the engine, logging into the shared OpenBao with its root token. */
export function rotatorOptions(
  infra: InfraInfo,
  engine: Engine,
  over: Partial<RotatorOptions> & {
    events?: RotatorEvent[];
    logLines?: string[];
    server?: 'primary' | 'replica';
  } = {},
): RotatorOptions {
  const { events, logLines, server = 'primary', ...rest } = over;
  const s = infra.mysql[server];
  const capture = (level: string) => (event: string, fields?: Record<string, unknown>) =>
    logLines?.push(JSON.stringify({ level, event, ...fields }));
  return {
    vault: { addr: infra.vault.addr, auth: { method: 'token', token: infra.vault.rootToken } },
    credentialsPath: engine.credentialsPath,
    mysql: { host: s.host, port: s.port, database: engine.database, connectionLimit: 5 },
    logger: logLines
      ? { info: capture('info'), warn: capture('warn'), error: capture('error') }
      : silentLogger,
    ...(events ? { onEvent: (e: RotatorEvent) => events.push(e) } : {}),
    retry: { initialMs: 100, maxMs: 1000 },
    drainTimeoutMs: 5000,
    ...rest,
  };
}

export { createRotator };

/** Tries a brand-new connection with the given credentials; resolves to the error or undefined. */
export async function connectError(
  infra: InfraInfo,
  server: 'primary' | 'replica',
  user: string,
  password: string,
): Promise<(Error & { errno?: number }) | undefined> {
  const mysql = (await import('mysql2/promise')).default;
  const s = infra.mysql[server];
  try {
    const c = await mysql.createConnection({ host: s.host, port: s.port, user, password });
    await c.end();
    return undefined;
  } catch (err) {
    return err as Error & { errno?: number };
  }
}
