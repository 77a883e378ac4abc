import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, repoRoot, startProcess, waitFor } from '@infralogs/devkit';

const here = resolve(import.meta.dirname, '..');
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('node22-ts wrapper process', () => {
  it('on SIGTERM tells handlers, serves calls for healthcheck_interval, lets them finish, then runs the shutdown hooks', async () => {
    // Inside the repository, so the handler's `@infralogs/core` import resolves as a function's does.
    await mkdir(join(repoRoot, '.work'), { recursive: true });
    const dir = await mkdtemp(join(repoRoot, '.work', 'wrapper-shutdown-'));
    dirs.push(dir);
    const marker = join(dir, 'hooks.log');
    // A handler that registers a hook the way lazyDatabase does when it leases credentials.
    await writeFile(
      join(dir, 'handler.ts'),
      `import { appendFileSync } from 'node:fs';
import { onShutdown, shutdownSignal, type Handler } from '@infralogs/core';
onShutdown(async () => { appendFileSync(${JSON.stringify(marker)}, 'vault\\n'); });
onShutdown(async () => { appendFileSync(${JSON.stringify(marker)}, 'database\\n'); });
const handler: Handler = async (event) => {
  if (event.path === '/late') return { draining: shutdownSignal.aborted };
  if (event.path !== '/slow') return { ready: true };
  appendFileSync(${JSON.stringify(marker)}, 'call\\n');
  // A long call hands back once the drain begins, as collect does.
  await new Promise((r) => shutdownSignal.addEventListener('abort', r, { once: true }));
  return { handedBack: true };
};
export default handler;
`,
    );
    const port = await freePort();
    const proc = startProcess(join(repoRoot, 'node_modules/.bin/tsx'), [join(here, 'main-local.ts')], {
      env: {
        ...process.env,
        HANDLER: join(dir, 'handler.ts'),
        http_port: String(port),
        healthcheck_interval: '3s',
      },
      cwd: here,
    });
    try {
      await waitFor(
        'the wrapper',
        async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null)) !== null,
      );
      const call = fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.json());
      await waitFor('the call to reach the handler', async () => existsSync(marker));
      proc.child.kill('SIGTERM');
      expect(await call).toEqual({ handedBack: true });
      // The watchdog still sends calls during its healthcheck_interval: they are served.
      const late = await fetch(`http://127.0.0.1:${port}/late`);
      expect(await late.json()).toEqual({ draining: true });
      expect(await proc.exited).toBe(0);
      // Newest first: the database closes before the Vault session its leases belong to.
      expect(existsSync(marker) && (await readFile(marker, 'utf8'))).toBe('call\ndatabase\nvault\n');
    } finally {
      await proc.stop('SIGKILL');
    }
  });
});
