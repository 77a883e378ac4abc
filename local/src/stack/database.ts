import { join } from 'node:path';
import { createStorePool, migrate } from '@infralogs/core';
import { startTopology, type Topology } from '@infralogs/devkit';
import type { Progress } from './progress';

export const DATABASE_NAME = 'infralogs';

/**
 * The stack's MariaDB primary + GTID replica, with the Infralogs schema migrated on the primary by
 * the operator (the topology's admin account): functions only ever get leased writer/reader users.
 * The data directories stay in `<stateDir>/mariadb` across restarts (rows, hosts, checkpoints);
 * the ports of the last run are used again when they are free.
 */
export async function startDatabase(
  stateDir: string,
  ports: { primary?: number; replica?: number },
  progress: Progress,
  serverArgs: string[] = [],
): Promise<Topology> {
  progress('starting MariaDB primary + replica (data kept in the state directory)…');
  const topology = await startTopology({
    baseDir: join(stateDir, 'mariadb'),
    keepData: true,
    reuseData: true,
    extraArgs: serverArgs,
    ...(ports.primary === undefined ? {} : { primaryPort: ports.primary }),
    ...(ports.replica === undefined ? {} : { replicaPort: ports.replica }),
  });
  try {
    const admin = await topology.connect('primary');
    await admin.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE_NAME} CHARACTER SET utf8mb4`);
    await admin.end();
    const pool = operatorPool(topology);
    try {
      const { applied } = await migrate(pool);
      progress(
        `schema migrated on the primary (${applied.length} migrations); replica at ${topology.replica.host}:${topology.replica.port}`,
      );
    } finally {
      await pool.end();
    }
    return topology;
  } catch (err) {
    await topology.stop();
    throw err;
  }
}

/** A store pool on the primary with the operator's (admin) account: migrations, host registration. */
export function operatorPool(topology: Topology) {
  return createStorePool({
    host: topology.primary.host,
    port: topology.primary.port,
    user: topology.admin.user,
    password: topology.admin.password,
    database: DATABASE_NAME,
  });
}
