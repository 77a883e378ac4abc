import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@infralogs/core';
import { startGateway, type Gateway } from '../../src/gateway';
import { loadStack } from '../../src/stack-file';
import { dashboardSecrets, writeSecretsDir } from '../../src/stack/secrets';

const stackPath = fileURLToPath(new URL('../../../stack.yml', import.meta.url));

describe('local gateway on the real stack.yml', () => {
  let gw: Gateway;
  let secretsDir: string;
  let login: { user: string; password: string };
  const output: string[] = [];

  beforeAll(async () => {
    const stack = await loadStack(stackPath, {});
    // The dashboard starts without any local infrastructure, with its login's secrets only.
    const dashboard = await dashboardSecrets();
    login = dashboard.login;
    secretsDir = await writeSecretsDir(
      join(await mkdtemp(join(tmpdir(), 'infralogs-gw-')), 'dashboard'),
      dashboard.secrets,
    );
    gw = await startGateway({
      stack,
      only: ['dashboard'],
      functions: { dashboard: { env: {}, secretsDir } },
      cron: false,
      log: createLogger({}, { write: () => {} }),
      output: (fn, line) => output.push(`${fn}: ${line}`),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    if (secretsDir) await rm(join(secretsDir, '..'), { recursive: true, force: true });
  });

  it('takes exec_timeout from stack.yml', () => {
    expect(gw.functions()).toEqual([
      expect.objectContaining({ name: 'dashboard', running: true, execTimeoutMs: 30_000 }),
    ]);
  });

  it('serves the dashboard page (its login, without a session) and its health check through /function/dashboard', async () => {
    const redirect = await fetch(`${gw.url}/function/dashboard/`, { redirect: 'manual' });
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('location')).toBe('/function/dashboard/login');
    const page = await fetch(`${gw.url}/function/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<title>Infralogs dashboard: log in</title>');
    expect((await fetch(`${gw.url}/function/dashboard/api/summary`)).status).toBe(401);
    const session = await fetch(`${gw.url}/function/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(login),
    });
    expect(session.status).toBe(200);
    expect(session.headers.get('set-cookie')).toMatch(/^infralogs_session=.+; HttpOnly; SameSite=Strict$/);
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
