import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@infralogs/core';
import { startGateway, type Gateway } from '../../src/gateway';
import { loadStack } from '../../src/stack-file';

const stackPath = fileURLToPath(new URL('../../../stack.yml', import.meta.url));

describe('local gateway on the real stack.yml', () => {
  let gw: Gateway;
  const output: string[] = [];

  beforeAll(async () => {
    const stack = await loadStack(stackPath, {});
    // The dashboard needs no secret: the one function that starts without any local infrastructure.
    gw = await startGateway({
      stack,
      only: ['dashboard'],
      cron: false,
      log: createLogger({}, { write: () => {} }),
      output: (fn, line) => output.push(`${fn}: ${line}`),
    });
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it('takes exec_timeout from stack.yml', () => {
    expect(gw.functions()).toEqual([
      expect.objectContaining({ name: 'dashboard', running: true, execTimeoutMs: 30_000 }),
    ]);
  });

  it('serves the dashboard page and its health check through /function/dashboard', async () => {
    const page = await fetch(`${gw.url}/function/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<title>Infralogs dashboard</title>');
    const health = await fetch(`${gw.url}/function/dashboard/healthz`);
    expect(health.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('answers other paths and methods with JSON errors', async () => {
    const missing = await fetch(`${gw.url}/function/dashboard/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const post = await fetch(`${gw.url}/function/dashboard/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
  });
});
