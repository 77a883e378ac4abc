import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { Drain } from './callback.js';
import type { LeaseInfo } from './core.js';
import type { DatabaseCredentials } from './vault-client.js';

export type CredentialsFormat = 'json' | 'env';

export interface FileSinkOptions {
  /** Where the credentials go. Written atomically (temp file + rename), mode 0600. */
  file: string;
  /** `json` (default): {"username","password","lease_id","expires_at"}; `env`: DB_USERNAME=… lines. */
  format?: CredentialsFormat;
  /**
   * Run by `/bin/sh -c` after each write (the first one too). Exit 0 confirms that the consumer
   * reloaded; any other exit rejects the new credentials (the file gets the previous ones back).
   * It sees CREDENTIALS_FILE, LEASE_ID and DB_USERNAME in its environment, never the password.
   */
  command?: string;
  /** Longest a command may run before it counts as failed. Default 60 s. */
  commandTimeoutMs?: number;
  /** Sent after each write (e.g. SIGHUP to a server that re-reads its configuration). */
  signal?: { name: NodeJS.Signals; pid: () => number | Promise<number> };
  /**
   * How long retired credentials stay valid after the consumer confirmed the new ones, before
   * their lease is revoked: time for work that started on the old ones. Default 0.
   */
  graceMs?: number;
  /** Told about each command or signal (for progress lines). */
  onReload?: (what: { leaseId: string; command?: string; signal?: string }) => void;
}

/** Writes a file atomically: a temporary file in the same folder, fsync, rename; mode 0600 from creation. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.chmod(0o600); // the umask may have taken bits away; never added any.
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

export function formatCredentials(
  credentials: DatabaseCredentials,
  lease: LeaseInfo,
  format: CredentialsFormat = 'json',
): string {
  const expiresAt = Number.isFinite(lease.expiresAt) ? new Date(lease.expiresAt).toISOString() : null;
  if (format === 'env') {
    return [
      `DB_USERNAME=${shellQuote(credentials.username)}`,
      `DB_PASSWORD=${shellQuote(credentials.password)}`,
      `DB_LEASE_ID=${shellQuote(lease.leaseId)}`,
      `DB_EXPIRES_AT=${shellQuote(expiresAt ?? '')}`,
      '',
    ].join('\n');
  }
  return (
    JSON.stringify({
      username: credentials.username,
      password: credentials.password,
      lease_id: lease.leaseId,
      expires_at: expiresAt,
    }) + '\n'
  );
}

/** Runs the reload command; resolves on exit 0, rejects otherwise (with its exit status, not its output). */
export function runReloadCommand(
  command: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['ignore', process.stderr, process.stderr],
      env: { ...process.env, ...env },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(new Error(`the reload command exited with ${signal ? `signal ${signal}` : `status ${code}`}`));
    });
  });
}

/**
 * The onCredentials callback of a file sink: write the file, run the command or send the signal,
 * and return a drain that waits graceMs. When the command fails, the file gets the previous
 * credentials back (they stay valid: their lease is not revoked) and the error rejects the new ones.
 */
export function fileSink(options: FileSinkOptions) {
  const format = options.format ?? 'json';
  let confirmed: string | undefined;
  return async (credentials: DatabaseCredentials, lease: LeaseInfo): Promise<Drain> => {
    const content = formatCredentials(credentials, lease, format);
    await writeFileAtomic(options.file, content);
    try {
      if (options.command) {
        options.onReload?.({ leaseId: lease.leaseId, command: options.command });
        await runReloadCommand(
          options.command,
          { CREDENTIALS_FILE: options.file, LEASE_ID: lease.leaseId, DB_USERNAME: credentials.username },
          options.commandTimeoutMs ?? 60_000,
        );
      }
      if (options.signal) {
        const pid = await options.signal.pid();
        options.onReload?.({ leaseId: lease.leaseId, signal: options.signal.name });
        process.kill(pid, options.signal.name);
      }
    } catch (err) {
      if (confirmed === undefined) await rm(options.file, { force: true });
      else await writeFileAtomic(options.file, confirmed);
      throw err;
    }
    confirmed = content;
    const graceMs = options.graceMs ?? 0;
    return () => (graceMs > 0 ? sleepTimer(graceMs).then(() => {}) : undefined);
  };
}

/** Reads a pid file (for `signal.pid`). */
export async function readPidFile(file: string): Promise<number> {
  const pid = Number((await readFile(file, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${file} does not hold a process id`);
  return pid;
}
