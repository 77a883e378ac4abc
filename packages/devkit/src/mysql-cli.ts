import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { readReplicaStatus, startTopology } from './mariadb';

/**
 * A private MariaDB primary + replica for manual work, on loopback:
 *   tsx packages/devkit/src/mysql-cli.ts start [--dir DIR] [--primary-port N] [--replica-port N]
 *       runs in the foreground until Ctrl-C / SIGTERM, then stops both servers cleanly. With --dir the
 *       data directories stay there after stop (they are re-initialised at the next start).
 *   tsx packages/devkit/src/mysql-cli.ts status --dir DIR    replication threads and lag, as JSON
 *   tsx packages/devkit/src/mysql-cli.ts stop --dir DIR      asks the running `start` to stop
 * Addresses and the generated admin password are written to DIR/topology.json (mode 0600), never
 * printed.
 */
interface TopologyFile {
  pid: number;
  primary: { host: string; port: number };
  replica: { host: string; port: number };
  admin: { user: string; password: string };
}

const say = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n');

async function readTopologyFile(dir: string): Promise<TopologyFile> {
  return JSON.parse(await readFile(join(dir, 'topology.json'), 'utf8')) as TopologyFile;
}

async function start(options: { dir?: string; primaryPort?: string; replicaPort?: string }) {
  const keep = options.dir !== undefined;
  const dir = keep ? resolve(options.dir!) : await mkdtemp(join(tmpdir(), 'infralogs-mysql-'));
  const topo = await startTopology({
    baseDir: dir,
    keepData: keep,
    ...(options.primaryPort ? { primaryPort: Number(options.primaryPort) } : {}),
    ...(options.replicaPort ? { replicaPort: Number(options.replicaPort) } : {}),
    log: (message) => say('mysql.topology', { message }),
  });
  const file = join(dir, 'topology.json');
  const info: TopologyFile = {
    pid: process.pid,
    primary: { host: topo.primary.host, port: topo.primary.port },
    replica: { host: topo.replica.host, port: topo.replica.port },
    admin: topo.admin,
  };
  await writeFile(file, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  say('mysql.started', {
    primary: info.primary,
    replica: info.replica,
    user: topo.admin.user,
    credentials: file,
  });
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
  say('mysql.stopping');
  await topo.stop();
  say('mysql.stopped', { keptData: keep ? dir : null });
}

async function status(dir: string) {
  const info = await readTopologyFile(dir);
  const connect = (which: 'primary' | 'replica') =>
    mysql.createConnection({ ...info[which], user: info.admin.user, password: info.admin.password });
  say('mysql.status', { ...(await readReplicaStatus(connect)) });
}

async function stop(dir: string) {
  const { pid } = await readTopologyFile(dir);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 300; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      say('mysql.stopped', { pid });
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`process ${pid} did not stop within 30 s`);
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      'primary-port': { type: 'string' },
      'replica-port': { type: 'string' },
    },
  });
  const command = positionals[0];
  if (command === 'start') {
    await start({
      dir: values.dir,
      primaryPort: values['primary-port'],
      replicaPort: values['replica-port'],
    });
  } else if ((command === 'status' || command === 'stop') && values.dir) {
    await (command === 'status' ? status(values.dir) : stop(values.dir));
  } else {
    throw new Error(
      'usage: mysql-cli.ts start [--dir DIR] [--primary-port N] [--replica-port N] | status --dir DIR | stop --dir DIR',
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    say('mysql.failed', { message: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
  });
}
