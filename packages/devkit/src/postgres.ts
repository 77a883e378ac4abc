import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, startProcess, waitFor, type Managed } from './process';

/**
 * A private PostgreSQL server for tests: Debian's `postgres` run as our own child process, with a
 * fresh data directory (initdb) in a temporary folder, its own port on loopback and its own socket
 * folder. It never touches a system PostgreSQL service, and stop() removes everything.
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user the package creates.
 */
export interface Postgres {
  host: string;
  port: number;
  /** A superuser with a generated password (scram-sha-256 over TCP). */
  admin: { user: string; password: string };
  dataDir: string;
  /** Shuts the server down (fast shutdown) and removes its folders; safe to call twice. */
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin folder (PG_BIN overrides). */
export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0])
    throw new Error('PostgreSQL is not installed: run `npm run setup` (apt-get install postgresql)');
  return join(root, versions[0], 'bin');
}

async function runAs(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

export async function startPostgres(options: { host?: string; port?: number } = {}): Promise<Postgres> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const bin = postgresBinDir();
  const user = await runAs();
  const baseDir = await mkdtemp(join(tmpdir(), 'infralogs-pg-'));
  // Unix socket paths are limited to 108 bytes, so the socket lives in a short folder.
  const sockDir = await mkdtemp(join('/tmp', 'ilp-'));
  const dataDir = join(baseDir, 'data');
  const admin = { user: 'infralogs_admin', password: randomBytes(18).toString('base64url') };
  let proc: Managed | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
      await proc?.stop('SIGINT', 20_000);
      await rm(sockDir, { recursive: true, force: true });
      await rm(baseDir, { recursive: true, force: true });
    })());
  try {
    const pwfile = join(baseDir, 'pw');
    await writeFile(pwfile, admin.password, { mode: 0o600 });
    if (user) for (const p of [baseDir, sockDir, pwfile]) await chown(p, user.uid, user.gid);
    await run(
      join(bin, 'initdb'),
      [
        `--pgdata=${dataDir}`,
        `--username=${admin.user}`,
        `--pwfile=${pwfile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--no-sync',
      ],
      { ...(user ?? {}), cwd: baseDir },
    ).catch((err: Error) => {
      throw new Error(`could not initialise a PostgreSQL data directory: ${err.message}`);
    });
    await rm(pwfile, { force: true });
    const started = startProcess(
      join(bin, 'postgres'),
      [
        '-D',
        dataDir,
        '-h',
        host,
        '-p',
        String(port),
        '-k',
        sockDir,
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=100',
      ],
      { ...(user ?? {}), cwd: baseDir },
    );
    proc = started;
    await waitFor(`PostgreSQL on ${host}:${port}`, async () => {
      if (started.child.exitCode !== null)
        throw new Error(`postgres exited: ${started.output().slice(-1000)}`);
      await run(join(bin, 'pg_isready'), ['-q', '-h', host, '-p', String(port)]);
      return true;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, port, admin, dataDir, stop };
}
