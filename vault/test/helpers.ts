import mysql, { type Pool } from 'mysql2/promise';
import { adminConnection, uniqueName, type InfraInfo } from '@infralogs/devkit';
import { createLogger, createStorePool, migrate } from '@infralogs/core';
import { VaultClient } from '@infralogs/vault-rotator';
import { bootstrap, type BootstrapOptions, type BootstrapResult } from '../src';

/**
 * A bootstrap of the shared OpenBao with names of its own (prefix, mounts, database and Vault's
 * MySQL user), so test files run side by side; cleanup() removes all of it. The database holds the
 * migrated Infralogs schema (the writer's grants name its tables, which must exist when Vault
 * issues writer credentials) plus a small `entries` table for the database-wide roles.
 */
export interface Bootstrapped {
  options: BootstrapOptions;
  result: BootstrapResult;
  root: VaultClient;
  database: string;
  connect(
    server: 'primary' | 'replica',
    creds: { username: string; password: string },
  ): Promise<mysql.Connection>;
  /** A store pool on the primary: with leased credentials, or the operator's (admin) account. */
  storePool(creds?: { username: string; password: string }): Pool;
  cleanup(): Promise<void>;
}

export async function bootstrapForTest(
  infra: InfraInfo,
  over: Partial<BootstrapOptions> = {},
): Promise<Bootstrapped> {
  const id = uniqueName('b');
  const database = `${id}_db`;
  const root = new VaultClient({ addr: infra.vault.addr, token: infra.vault.rootToken });
  const admin = await adminConnection(infra, 'primary');
  await admin.query(
    `CREATE DATABASE \`${database}\`;
     CREATE TABLE \`${database}\`.entries (id INT AUTO_INCREMENT PRIMARY KEY, message VARCHAR(200));
     INSERT INTO \`${database}\`.entries (message) VALUES ('seed')`,
  );
  await admin.end();
  const storePool = (creds?: { username: string; password: string }) =>
    createStorePool({
      host: infra.mysql.primary.host,
      port: infra.mysql.primary.port,
      user: creds?.username ?? infra.mysql.admin.user,
      password: creds?.password ?? infra.mysql.admin.password,
      database,
    });
  const operator = storePool();
  try {
    await migrate(operator);
  } finally {
    await operator.end();
  }
  const options: BootstrapOptions = {
    vault: { addr: infra.vault.addr, token: infra.vault.rootToken },
    mysql: {
      host: infra.mysql.primary.host,
      port: infra.mysql.primary.port,
      database,
      bootstrapAdmin: infra.mysql.admin,
      vaultUser: `${id}_vault`,
    },
    prefix: id,
    mounts: { database: `${id}-db`, kv: `${id}-kv`, approle: `${id}-approle`, kubernetes: `${id}-k8s` },
    ttl: { credentials: '1m', credentialsMax: '5m', token: '5m', tokenMax: '10m' },
    logger: createLogger({}, { write: () => {} }),
    ...over,
  };
  const result = await bootstrap(options);
  return {
    options,
    result,
    root,
    database,
    connect: (server, creds) =>
      mysql.createConnection({
        host: infra.mysql[server].host,
        port: infra.mysql[server].port,
        user: creds.username,
        password: creds.password,
        database,
      }),
    storePool,
    async cleanup() {
      const m = options.mounts!;
      for (const path of [
        `sys/mounts/${m.database}`,
        `sys/mounts/${m.kv}`,
        `sys/auth/${m.approle}`,
        `sys/auth/${m.kubernetes}`,
      ]) {
        await root.delete(path).catch(() => {});
      }
      for (const p of Object.values(result.policies))
        await root.delete(`sys/policies/acl/${p}`).catch(() => {});
      const c = await adminConnection(infra, 'primary');
      await c.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await c.query(`DROP USER IF EXISTS ?@'%'`, [options.mysql.vaultUser]);
      await c.end();
    },
  };
}
