import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startProcess, waitFor, type Topology } from '@infralogs/devkit';

/** Debian's `prometheus-mysqld-exporter`: replication lag for the InfralogsReplicaLag rule. */
export const MYSQLD_EXPORTER = 'prometheus-mysqld-exporter';
const MONITOR_USER = 'infralogs_monitor';

export interface StackExporter {
  /** `host:port` it serves `/metrics` on. */
  address: string;
  /** The file holding its MySQL password (for tests that check no endpoint shows it). */
  credentialsFile: string;
  stop(): Promise<void>;
}

/**
 * mysqld_exporter watching the replica, as the cluster runs it next to the replica (replica lag
 * is `SHOW SLAVE STATUS`, which the dashboard's reader credentials may not run). Its MySQL user
 * is made on the primary and replicates; it may only monitor (SLAVE MONITOR, PROCESS, no data).
 * Its password lives in a 0600 my.cnf under the stack's state directory.
 */
export async function startMysqldExporter(stateDir: string, topology: Topology): Promise<StackExporter> {
  const password = randomBytes(18).toString('base64url');
  const conn = await topology.connect('primary');
  try {
    await conn.query(`CREATE OR REPLACE USER ?@'%' IDENTIFIED BY ?`, [MONITOR_USER, password]);
    await conn.query(`GRANT PROCESS, SLAVE MONITOR ON *.* TO ?@'%'`, [MONITOR_USER]);
  } finally {
    await conn.end();
  }
  await topology.waitForReplica();
  const credentialsFile = join(stateDir, 'mysqld-exporter.cnf');
  const { host, port } = topology.replica;
  await writeFile(
    credentialsFile,
    `[client]\nuser=${MONITOR_USER}\npassword=${password}\nhost=${host}\nport=${port}\n`,
    {
      mode: 0o600,
    },
  );
  const listenPort = await freePort('127.0.0.1');
  const address = `127.0.0.1:${listenPort}`;
  const proc = startProcess(MYSQLD_EXPORTER, [
    `--config.my-cnf=${credentialsFile}`,
    `--web.listen-address=${address}`,
    '--collect.slave_status',
    '--log.level=warn',
  ]);
  try {
    await waitFor('mysqld_exporter', async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`mysqld_exporter exited: ${proc.output().slice(-1000)}`);
      const res = await fetch(`http://${address}/metrics`).catch(() => null);
      return res?.ok ?? false;
    });
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return { address, credentialsFile, stop: () => proc.stop('SIGTERM', 5000).then(() => undefined) };
}
