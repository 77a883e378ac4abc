import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { AgentConfig } from './config';
import type { LogsQuery } from './query';

/** How long journalctl gets to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2000;

const seconds = (us: number) => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;

/**
 * The journalctl command line for a query. `after` becomes `--cursor` (start AT the entry) and
 * the caller drops that first entry: `--after-cursor` combined with `-u`/`-p` skips the first
 * matching entry on systemd < 255 (systemd issue #30288). Times go as `@<seconds>` since the
 * epoch, which is UTC whatever the host's time zone.
 */
export function journalctlArgs(query: LogsQuery, journalDir: string | null): string[] {
  const args = ['--all', '--output=export', '--no-pager', '--quiet'];
  if (journalDir !== null) args.push(`--directory=${journalDir}`);
  if (query.after !== null) args.push(`--cursor=${query.after}`);
  if (query.sinceUs !== null) args.push(`--since=@${seconds(query.sinceUs)}`);
  if (query.untilUs !== null) args.push(`--until=@${seconds(query.untilUs)}`);
  if (query.priority !== null) args.push(`--priority=${query.priority.from}..${query.priority.to}`);
  if (query.unit !== null) args.push(`--unit=${query.unit}`);
  return args;
}

/** Starts journalctl, through `stdbuf -o<size>` when configured so it writes in large blocks. */
export function spawnJournalctl(config: AgentConfig, args: string[]): ChildProcess {
  const [cmd, argv] =
    config.journalctlBuffer === null
      ? [config.journalctl, args]
      : ['stdbuf', [`-o${config.journalctlBuffer}`, config.journalctl, ...args]];
  return spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Stops reading, then SIGTERM, and SIGKILL if it is still there after a grace period. */
export function stopJournalctl(child: ChildProcess): void {
  child.stdout?.destroy();
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
  timer.unref();
  child.once('exit', () => clearTimeout(timer));
}

/** Whether an executable is on PATH (stdbuf is coreutils, but a minimal image may lack it). */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
