import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, waitFor } from '@infralogs/devkit';

/**
 * `npm start` as a user runs it: it prints `READY <dashboard-url>`, a real Chromium loads that
 * page, and a SIGTERM to npm stops every process the stack started and keeps its data.
 */

/** Every live descendant of `pid` (from /proc: each process's parent is field 4 of its stat). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    // A zombie has exited; only its parent's wait is missing.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

let child: ChildProcess | undefined;
let browser: Browser | undefined;
let stopped = false;
let tempDir: string | undefined;

afterAll(async () => {
  await browser?.close();
  // Only after a failure: nothing of the stack may outlive the test.
  if (!stopped && child?.pid) for (const pid of [...descendants(child.pid), child.pid]) killQuietly(pid);
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

function killQuietly(pid: number) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

describe('npm start', () => {
  it('prints READY <url>, serves the dashboard to Chromium, and stops everything on SIGTERM', async () => {
    tempDir = await mkdtemp(join(tmpdir(), 'infralogs-start-'));
    const stateDir = join(tempDir, 'stack');
    child = spawn('npm', ['start'], {
      cwd: repoRoot,
      env: { ...process.env, GATEWAY_PORT: '0', STACK_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    const stdout: string[] = [];
    const ready = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child!.stdout! });
      lines.on('line', (line) => {
        stdout.push(line);
        if (line.startsWith('READY ')) resolve(line.slice('READY '.length));
      });
      void exited.then((code) => reject(new Error(`npm start exited (${code}) before READY:\n${stderr}`)));
    });
    expect(ready).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/function\/dashboard$/);
    // Exactly one READY line, after the banner naming the dashboard and how to collect.
    expect(stdout.filter((l) => l.startsWith('READY'))).toHaveLength(1);
    expect(stdout.join('\n')).toContain(`dashboard   ${ready}`);
    expect(stdout.join('\n')).toMatch(/curl .*\/function\/collect/);
    // Progress went to stderr, including the first collection.
    expect(stderr).toMatch(/\[stack\] first collection: run \d+ succeeded/);
    expect(existsSync(stateDir)).toBe(true);

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage();
    const response = await page.goto(ready);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toContain('Infralogs');
    await browser.close();
    browser = undefined;

    const started = descendants(child.pid!);
    // MariaDB ×2, OpenBao, three agents, four functions at least.
    expect(started.length).toBeGreaterThanOrEqual(10);
    child.kill('SIGTERM');
    await exited;
    // npm dies at once; the stack notices and stops everything it started, then says so.
    await waitFor('the stack to stop', async () => started.filter(alive).length === 0, 90_000, 250);
    stopped = true;
    expect(stderr).toContain('[stack] stopped');
    // The data stays for the next npm start (npm start -- --fresh starts over).
    expect(existsSync(join(stateDir, 'mariadb', 'primary'))).toBe(true);
    expect(stdout.join('\n')).toContain('npm start -- --fresh starts over');
  }, 300_000);
});
