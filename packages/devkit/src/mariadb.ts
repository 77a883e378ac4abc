import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort, run, startProcess, waitFor, type Managed } from './process';

/**
 * A private MariaDB topology for tests, benchmarks and the local stack: a primary with binlog and
 * GTID, and a read-only replica replicating from it. It runs Debian's `mariadbd` as our own child
 * processes in their own data directories and ports, and never touches a system MariaDB service.
 */
export interface ServerInfo {
  host: string;
  port: number;
  /** Unix socket, for the admin set-up only. */
  socket: string;
  dataDir: string;
}

/** Where replication stands, from SHOW SLAVE STATUS and the two servers' GTID positions. */
export interface ReplicaStatus {
  ioRunning: boolean;
  sqlRunning: boolean;
  /** Seconds_Behind_Master: null when replication is stopped; 0 when idle or caught up. */
  secondsBehind: number | null;
  lastError: string | null;
  /** The primary's @@gtid_binlog_pos and the replica's @@gtid_slave_pos ('domain-server-seq' lists). */
  primaryGtid: string;
  replicaGtid: string;
  /** Transactions the primary has written that the replica has not applied yet. */
  transactionsBehind: number;
}

export interface Topology {
  primary: ServerInfo;
  replica: ServerInfo;
  /** An administrative account (ALL PRIVILEGES WITH GRANT OPTION) on both servers; generated password. */
  admin: { user: string; password: string };
  /** Opens a connection as admin. */
  connect(which: 'primary' | 'replica', database?: string): Promise<mysql.Connection>;
  /** Seconds_Behind_Master on the replica (null when replication is not running). */
  replicaLagSeconds(): Promise<number | null>;
  /** Replication threads, errors and lag in seconds and in transactions. */
  replicaStatus(): Promise<ReplicaStatus>;
  /** Waits until the replica has applied everything the primary has written so far; returns the ms waited. */
  waitForReplica(timeoutMs?: number): Promise<number>;
  /**
   * Stops one server, for fault tests: SIGTERM is mariadbd's clean shutdown, SIGKILL a crash. Its
   * data stays; startServer brings it back on the same port and data directory.
   */
  stopServer(which: 'primary' | 'replica', signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /**
   * Starts a stopped server again with the same options (the replica resumes replication by
   * itself from its saved GTID position; its IO thread reconnects to a restarted primary).
   */
  startServer(which: 'primary' | 'replica'): Promise<void>;
  /** Stops replication, then shuts the replica and the primary down cleanly; safe to call twice. */
  stop(): Promise<void>;
}

export interface TopologyOptions {
  /** Where data directories go; a fresh temporary directory by default (removed on stop). */
  baseDir?: string;
  host?: string;
  /** Fixed ports, else free ones are picked. */
  primaryPort?: number;
  replicaPort?: number;
  /** Extra mariadbd options for both servers, e.g. ['--innodb-buffer-pool-size=512M']. */
  extraArgs?: string[];
  /** Keep the data directories on stop (the local stack keeps them between runs). */
  keepData?: boolean;
  /**
   * Start on the data directories already in `baseDir` when both are there (a previous run with
   * keepData), instead of initialising new ones: the rows, the schema and the replica's position
   * survive. Accounts get new passwords and replication is pointed at the primary's port again.
   */
  reuseData?: boolean;
  log?: (message: string) => void;
}

const MARIADBD = process.env.MARIADBD ?? '/usr/sbin/mariadbd';

/** Sequence numbers per GTID domain of a 'domain-server-seq,…' list (the highest per domain). */
export function gtidSequences(pos: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of pos.split(',')) {
    const m = /^\s*(\d+)-\d+-(\d+)\s*$/.exec(part);
    if (m) out.set(m[1]!, Math.max(out.get(m[1]!) ?? 0, Number(m[2])));
  }
  return out;
}

/** How many transactions `replica` lacks compared with `primary` (summed over GTID domains). */
export function gtidBehind(primary: string, replica: string): number {
  const have = gtidSequences(replica);
  let behind = 0;
  for (const [domain, seq] of gtidSequences(primary)) behind += Math.max(0, seq - (have.get(domain) ?? 0));
  return behind;
}

type Connect = (which: 'primary' | 'replica') => Promise<mysql.Connection>;

async function readPrimaryGtid(connect: Connect): Promise<string> {
  const p = await connect('primary');
  try {
    const [rows] = await p.query('SELECT @@gtid_binlog_pos AS pos');
    return String((rows as { pos: string }[])[0]?.pos ?? '');
  } finally {
    await p.end();
  }
}

/**
 * Waits until the replica has applied everything the primary has written so far (its GTID
 * position now); returns the ms waited, or throws with the replica's state.
 */
export async function waitForReplicaWith(connect: Connect, timeoutMs: number): Promise<number> {
  const started = Date.now();
  const pos = await readPrimaryGtid(connect);
  if (!pos) return 0;
  const r = await connect('replica');
  try {
    const [res] = await r.query('SELECT MASTER_GTID_WAIT(?, ?) AS w', [pos, timeoutMs / 1000]);
    if (Number((res as { w: number }[])[0]?.w) !== 0) {
      const s = await readReplicaStatus(connect);
      throw new Error(
        `replica did not reach GTID ${pos} within ${timeoutMs} ms (at ${s.replicaGtid}, ` +
          `${s.transactionsBehind} transactions behind${s.lastError ? `; ${s.lastError}` : ''})`,
      );
    }
  } finally {
    await r.end();
  }
  return Date.now() - started;
}

/** Replication state of a topology, from admin connections to both servers. */
export async function readReplicaStatus(connect: Connect): Promise<ReplicaStatus> {
  const primaryPos = await readPrimaryGtid(connect);
  const c = await connect('replica');
  try {
    const [rows] = await c.query('SHOW SLAVE STATUS');
    const [pos] = await c.query('SELECT @@gtid_slave_pos AS pos');
    // Columns are matched by name: their order differs between server versions.
    const s = (rows as Record<string, unknown>[])[0] ?? {};
    const lag = s.Seconds_Behind_Master;
    const replicaPos = String((pos as { pos: string }[])[0]?.pos ?? '');
    const lastError = [s.Last_IO_Error, s.Last_SQL_Error]
      .filter((e) => typeof e === 'string' && e)
      .join('; ');
    return {
      ioRunning: s.Slave_IO_Running === 'Yes',
      sqlRunning: s.Slave_SQL_Running === 'Yes',
      secondsBehind: lag === null || lag === undefined ? null : Number(lag),
      lastError: lastError || null,
      primaryGtid: primaryPos,
      replicaGtid: replicaPos,
      transactionsBehind: gtidBehind(primaryPos, replicaPos),
    };
  } finally {
    await c.end();
  }
}

async function initDataDir(dir: string, tmp: string) {
  await run('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${dir}`,
    // Our own tmpdir: concurrent bootstraps sharing /tmp have clashed on their temporary tables.
    `--tmpdir=${tmp}`,
    '--user=root',
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
  ]).catch((err: Error) => {
    throw new Error(
      `could not initialise a MariaDB data directory (is mariadb-server installed? run npm run setup): ${err.message}`,
    );
  });
}

function serverArgs(info: ServerInfo, serverId: number, extra: string[]): string[] {
  return [
    '--no-defaults',
    `--datadir=${info.dataDir}`,
    `--tmpdir=${info.dataDir}-tmp`,
    `--socket=${info.socket}`,
    `--port=${info.port}`,
    `--bind-address=${info.host}`,
    `--pid-file=${join(info.dataDir, 'mariadbd.pid')}`,
    `--log-error=${join(info.dataDir, 'error.log')}`,
    '--user=root',
    `--server-id=${serverId}`,
    '--log-bin=binlog',
    '--binlog-format=ROW',
    '--log-slave-updates=1',
    '--gtid-strict-mode=1',
    '--skip-name-resolve',
    '--local-infile=1',
    '--max-allowed-packet=256M',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_unicode_ci',
    '--default-time-zone=+00:00',
    '--innodb-buffer-pool-size=256M',
    '--innodb-log-file-size=256M',
    ...extra,
  ];
}

type Which = 'primary' | 'replica';

/** Step 1: where each server lives (ports, sockets, data directories); nothing is created yet. */
async function planServers(options: TopologyOptions) {
  const host = options.host ?? '127.0.0.1';
  const baseDir = options.baseDir ?? (await mkdtemp(join(tmpdir(), 'infralogs-mariadb-')));
  // Unix socket paths are limited to 108 bytes, so sockets live in a short temporary directory.
  const sockDir = await mkdtemp(join('/tmp', 'ilg-'));
  const server = async (which: Which, port: number | undefined): Promise<ServerInfo> => ({
    host,
    port: port ?? (await freePort(host)),
    socket: join(sockDir, `${which}.sock`),
    dataDir: join(baseDir, which),
  });
  return {
    host,
    baseDir,
    sockDir,
    primary: await server('primary', options.primaryPort),
    replica: await server('replica', options.replicaPort),
  };
}

/** Step 2: one data directory initialised once, copied for each server (unless reused). */
async function prepareDataDirs(baseDir: string, servers: ServerInfo[], log: (message: string) => void) {
  const template = join(baseDir, 'template');
  await mkdir(baseDir, { recursive: true });
  await rm(template, { recursive: true, force: true });
  log('initialising MariaDB data directories');
  await mkdir(`${template}-tmp`, { recursive: true });
  await initDataDir(template, `${template}-tmp`);
  for (const s of servers) {
    await rm(s.dataDir, { recursive: true, force: true });
    await cp(template, s.dataDir, { recursive: true });
    await mkdir(`${s.dataDir}-tmp`, { recursive: true });
  }
  await rm(template, { recursive: true, force: true });
  await rm(`${template}-tmp`, { recursive: true, force: true });
}

const rootConnection = (info: ServerInfo, multipleStatements = false) =>
  mysql.createConnection({ socketPath: info.socket, user: 'root', multipleStatements });

/**
 * Step 3: one mariadbd, resolved once it accepts connections on its socket. `started` gets the
 * process at once, so a server that never becomes ready is still stopped.
 */
async function startServer(info: ServerInfo, args: string[], started: (p: Managed) => void) {
  const p = startProcess(MARIADBD, args);
  started(p);
  await waitFor(
    `mariadbd on ${info.host}:${info.port}`,
    async () => {
      if (p.child.exitCode !== null) {
        // The error log's last lines, since whoever reads this error may find the folder removed.
        const log = await readFile(join(info.dataDir, 'error.log'), 'utf8').catch(() => '');
        const tail = log.trim().split('\n').slice(-5).join(' | ');
        throw new Error(`mariadbd exited (${p.child.exitCode}); ${info.dataDir}/error.log ends: ${tail}`);
      }
      const c = await rootConnection(info);
      await c.end();
      return true;
    },
    60_000,
  );
}

/**
 * Step 4: the admin and replication accounts on both servers, created with the binlog off so
 * each server has its own and nothing replicates twice.
 */
async function createAccounts(
  servers: ServerInfo[],
  admin: { user: string; password: string },
  replPassword: string,
) {
  for (const s of servers) {
    const c = await rootConnection(s, true);
    await c.query(
      `SET sql_log_bin=0;
       CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?;
       ALTER USER ?@'%' IDENTIFIED BY ?;
       GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION;
       CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY ?;
       ALTER USER 'repl'@'%' IDENTIFIED BY ?;
       GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
       SET sql_log_bin=1;`,
      [admin.user, admin.password, admin.user, admin.password, admin.user, replPassword, replPassword],
    );
    await c.end();
  }
}

/** Step 5: the replica follows the primary by GTID; resolved once both threads run. */
async function startReplication(
  primary: ServerInfo,
  replica: ServerInfo,
  replPassword: string,
  reused: boolean,
  log: (message: string) => void,
) {
  const r = await rootConnection(replica);
  // A reused replica resumes from its own GTID position; a new one starts from the beginning.
  await r.query('STOP SLAVE').catch(() => undefined);
  if (!reused) await r.query(`SET GLOBAL gtid_slave_pos = ''`);
  await r.query(
    `CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER='repl', MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
    [primary.host, primary.port, replPassword],
  );
  await r.query('START SLAVE');
  await r.end();
  await waitFor(
    'replication to start',
    async () => {
      const c = await rootConnection(replica);
      const [rows] = await c.query('SHOW SLAVE STATUS');
      await c.end();
      const s = (rows as Record<string, unknown>[])[0];
      if (s?.Last_IO_Error) log(`replica: ${String(s.Last_IO_Error)}`);
      return s?.Slave_IO_Running === 'Yes' && s?.Slave_SQL_Running === 'Yes';
    },
    30_000,
  );
  log('replication running');
}

/**
 * Stopping: replication first, so the replica neither retries a vanishing primary nor stops
 * mid-event; then the replica, then the primary (SIGTERM is mariadbd's clean shutdown); then the
 * sockets and, unless kept, the data.
 */
async function stopServers(
  plan: Awaited<ReturnType<typeof planServers>>,
  procs: Partial<Record<Which, Managed>>,
  keepData: boolean,
) {
  const { primary, replica } = plan;
  if (procs.replica && procs.replica.child.exitCode === null) {
    const c = await rootConnection(replica).catch(() => null);
    await c?.query('STOP SLAVE').catch(() => undefined);
    await c?.end().catch(() => undefined);
  }
  for (const which of ['replica', 'primary'] as const) await procs[which]?.stop('SIGTERM', 20_000);
  await rm(plan.sockDir, { recursive: true, force: true });
  if (!keepData) await rm(plan.baseDir, { recursive: true, force: true });
  else for (const s of [primary, replica]) await rm(`${s.dataDir}-tmp`, { recursive: true, force: true });
}

/** Admin connections over TCP, as tests and the stack use them. */
function adminConnector(
  servers: Record<Which, ServerInfo>,
  admin: { user: string; password: string },
): Topology['connect'] {
  return (which, database) => {
    const s = servers[which];
    return mysql.createConnection({
      host: s.host,
      port: s.port,
      user: admin.user,
      password: admin.password,
      ...(database ? { database } : {}),
      timezone: 'Z',
      supportBigNumbers: true,
    });
  };
}

/** Plans, prepares and starts both servers, creates the accounts and starts replication. */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const log = options.log ?? (() => {});
  const plan = await planServers(options);
  const { host, primary, replica } = plan;
  const admin = { user: 'infralogs_admin', password: randomBytes(18).toString('base64url') };
  const replPassword = randomBytes(18).toString('base64url');
  const reused =
    options.reuseData === true && [primary, replica].every((s) => existsSync(join(s.dataDir, 'mysql')));
  if (reused) {
    log('starting on the existing MariaDB data directories');
    for (const s of [primary, replica]) await mkdir(`${s.dataDir}-tmp`, { recursive: true });
  } else await prepareDataDirs(plan.baseDir, [primary, replica], log);

  const procs: Partial<Record<Which, Managed>> = {};
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopServers(plan, procs, options.keepData ?? false));
  const extra = options.extraArgs ?? [];
  const args: Record<Which, string[]> = {
    primary: serverArgs(primary, 1, extra),
    replica: [...serverArgs(replica, 2, extra), '--read-only=1'],
  };
  const servers = { primary, replica };
  const start = (which: Which) => startServer(servers[which], args[which], (p) => (procs[which] = p));
  try {
    log(`starting primary on ${host}:${primary.port} and replica on ${host}:${replica.port}`);
    await Promise.all([start('primary'), start('replica')]);
    await createAccounts([primary, replica], admin, replPassword);
    await startReplication(primary, replica, replPassword, reused, log);
  } catch (err) {
    await stop();
    throw err;
  }

  const connect = adminConnector({ primary, replica }, admin);
  const replicaStatus = () => readReplicaStatus(connect);
  return {
    primary,
    replica,
    admin,
    connect,
    async replicaLagSeconds() {
      return (await replicaStatus()).secondsBehind;
    },
    replicaStatus,
    waitForReplica: (timeoutMs = 60_000) => waitForReplicaWith(connect, timeoutMs),
    async stopServer(which, signal = 'SIGTERM') {
      await procs[which]?.stop(signal, 20_000);
    },
    async startServer(which) {
      const running = procs[which];
      if (running && running.child.exitCode === null && running.child.signalCode === null) return;
      await start(which);
    },
    stop,
  };
}
