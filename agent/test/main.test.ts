import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startProcess, waitFor } from '@infralogs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The process entry: configuration from the environment, JSON logs, graceful stop. */
const MAIN = resolve(import.meta.dirname, '../src/main.ts');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'infralogs-agent-main-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

const env = (extra: Record<string, string>) => {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AGENT_|JOURNAL)/.test(k)));
  return { ...base, ...extra };
};

describe('agent main', () => {
  it('stops at start with CONFIG_INVALID naming the variable', async () => {
    const p = startProcess(process.execPath, ['--import', 'tsx', MAIN], { env: env({ AGENT_PORT: 'x' }) });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('CONFIG_INVALID');
    expect(p.output()).toContain('AGENT_TOKENS_FILE');
    expect(p.output()).toContain('AGENT_PORT');
  });

  it('serves, then exits cleanly on SIGTERM', async () => {
    const tokens = join(work, 'tokens');
    await writeFile(tokens, 'main-token-abcdefghijkl\n');
    const port = await freePort('127.0.0.1');
    const p = startProcess(process.execPath, ['--import', 'tsx', MAIN], {
      env: env({ AGENT_PORT: String(port), AGENT_TOKENS_FILE: tokens, JOURNAL_DIR: work }),
    });
    try {
      await waitFor('the agent', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 20_000);
      const res = await fetch(`http://127.0.0.1:${port}/logs`, {
        headers: { authorization: 'Bearer main-token-abcdefghijkl' },
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(''); // a directory with no journal files holds no entries
    } finally {
      await p.stop('SIGTERM');
    }
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('"event":"agent.closed"');
    expect(p.output()).not.toContain('main-token-abcdefghijkl');
  });
});
