import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@infralogs/core';
import { waitFor } from '@infralogs/devkit';
import { CE_ASYNC_MAX_BODY, startGateway, type Gateway } from '../../src/gateway';
import type { Stack } from '../../src/stack-file';
import { callbackReceiver, makeWorkspace, probeFunction, type Workspace } from './fixtures';

const quiet = createLogger({}, { write: () => {} });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('local gateway: routes and semantics', () => {
  let ws: Workspace;
  let gw: Gateway;
  let cb: Awaited<ReturnType<typeof callbackReceiver>>;
  const output: string[] = [];

  beforeAll(async () => {
    ws = makeWorkspace();
    cb = await callbackReceiver();
    const stack: Stack = {
      provider: { name: 'openfaas' },
      functions: {
        echo: probeFunction({
          environment: { ...probeFunction().environment, exec_timeout: '5s', MAX_JSON_SIZE: '1kb' },
        }),
        sleepy: probeFunction({ environment: { exec_timeout: '1s', write_timeout: '2s' } }),
      },
      dir: ws.dir,
    };
    // Must not reach the functions: each gets only its stack.yml environment.
    process.env.INFRALOGS_GATEWAY_TEST_LEAK = 'leaked';
    gw = await startGateway({
      stack,
      functions: {
        echo: { env: { FOO: 'override' }, secretsDir: ws.secretsDir },
        sleepy: { secretsDir: ws.secretsDir },
      },
      log: quiet,
      output: (fn, line) => output.push(`${fn}: ${line}`),
    });
  });

  afterAll(async () => {
    delete process.env.INFRALOGS_GATEWAY_TEST_LEAK;
    const pids = gw?.functions().map((f) => f.pid) ?? [];
    await gw?.stop();
    await cb?.close();
    ws?.remove();
    // Stopping the gateway stops every function process.
    for (const pid of pids) expect(pid !== undefined && isAlive(pid)).toBe(false);
  });

  it('answers health checks and lists its functions', async () => {
    for (const path of ['/healthz', '/_/health']) {
      const res = await fetch(gw.url + path);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    }
    const list = (await (await fetch(`${gw.url}/system/functions`)).json()) as Record<string, unknown>[];
    expect(list.map((f) => f.name).sort()).toEqual(['echo', 'sleepy']);
    expect(list.find((f) => f.name === 'echo')).toMatchObject({
      image: 'registry.local/probe:test',
      namespace: 'openfaas-fn',
      availableReplicas: 1,
      labels: { 'app.kubernetes.io/part-of': 'infralogs-test' },
    });
  });

  it('runs each function in its own process', () => {
    const pids = gw.functions().map((f) => f.pid);
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(process.pid);
  });

  it('proxies method, path, query, headers and body, and answers JSON with a call id', async () => {
    const res = await fetch(`${gw.url}/function/echo/a/b?x=1&y=2`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"hello":"world"}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const callId = res.headers.get('x-call-id');
    expect(callId).toMatch(UUID);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      method: 'PUT',
      path: '/a/b',
      query: { x: '1', y: '2' },
      body: { hello: 'world' },
      callId,
    });
    expect(gw.calls.some((c) => c.callId === callId && c.kind === 'sync' && c.status === 200)).toBe(true);
  });

  it("gives a function its stack environment, the caller's overrides and its secrets, nothing else", async () => {
    const body = (await (await fetch(`${gw.url}/function/echo`)).json()) as {
      env: Record<string, string | null>;
      secret: string;
    };
    expect(body.env).toMatchObject({
      FOO: 'override',
      STACK_VAR: 'from-stack',
      // In the cluster GATEWAY_URL names the gateway; locally it is this gateway.
      GATEWAY_URL: gw.url,
      LEAK: null,
      exec_timeout: '5s',
    });
    expect(body.env.FUNCTION_DIR).toMatch(/probe$/);
    expect(body.secret).toBe('s3cr3t');
  });

  it('accepts the namespace suffix and answers unknown functions with 404 JSON', async () => {
    expect((await fetch(`${gw.url}/function/echo.openfaas-fn/x`)).status).toBe(200);
    for (const path of ['/function/nope', '/function/echo.other-ns', '/async-function/nope', '/nowhere']) {
      const res = await fetch(gw.url + path, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    }
  });

  it('passes coded errors through and hides unknown ones', async () => {
    const coded = await fetch(`${gw.url}/function/echo/coded`);
    expect(coded.status).toBe(400);
    expect(await coded.json()).toEqual({ error: { code: 'BAD_BATCH', message: 'batch has no entries' } });
    const boom = await fetch(`${gw.url}/function/echo/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain('secret internals');
  });

  it("enforces the function's MAX_JSON_SIZE with a 413", async () => {
    const res = await fetch(`${gw.url}/function/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(2048) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('cuts a call at exec_timeout with a 504, and the function keeps serving', async () => {
    const res = await fetch(`${gw.url}/function/sleepy/sleep?ms=3000&tag=late`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('EXEC_TIMEOUT');
    const next = await fetch(`${gw.url}/function/sleepy/fine`);
    expect(next.status).toBe(200);
  });

  it('accepts async calls with 202 and X-Call-Id and delivers the result to X-Callback-Url', async () => {
    const res = await fetch(`${gw.url}/async-function/echo/path?q=v`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-callback-url': cb.url },
      body: '{"job":1}',
    });
    expect(res.status).toBe(202);
    const callId = res.headers.get('x-call-id') as string;
    expect(callId).toMatch(UUID);
    const failed = await fetch(`${gw.url}/async-function/echo/coded`, {
      method: 'POST',
      headers: { 'x-callback-url': cb.url, 'x-call-id': 'caller-chosen-id' },
    });
    expect(failed.headers.get('x-call-id')).toBe('caller-chosen-id');
    await gw.asyncIdle();
    await waitFor('both callbacks', async () => cb.received.length >= 2, 10_000);

    const ok = cb.received.find((r) => r.headers['x-call-id'] === callId);
    expect(ok?.headers).toMatchObject({ 'x-function-status': '200', 'x-function-name': 'echo' });
    expect(ok?.headers['content-type']).toMatch(/^application\/json/);
    expect(Number(ok?.headers['x-duration-seconds'])).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(ok?.body ?? '{}')).toMatchObject({
      method: 'POST',
      path: '/path',
      query: { q: 'v' },
      body: { job: 1 },
      callId,
    });
    const bad = cb.received.find((r) => r.headers['x-call-id'] === 'caller-chosen-id');
    expect(bad?.headers['x-function-status']).toBe('400');
    expect(JSON.parse(bad?.body ?? '{}')).toEqual({
      error: { code: 'BAD_BATCH', message: 'batch has no entries' },
    });
  });

  it("caps async bodies at CE's 256,000 bytes and takes POST only", async () => {
    const over = await fetch(`${gw.url}/async-function/echo`, {
      method: 'POST',
      body: 'x'.repeat(CE_ASYNC_MAX_BODY + 1),
    });
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({
      error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large for OpenFaaS CE' },
    });
    const atCap = await fetch(`${gw.url}/async-function/echo`, {
      method: 'POST',
      body: 'x'.repeat(CE_ASYNC_MAX_BODY),
    });
    expect(atCap.status).toBe(202);
    expect((await fetch(`${gw.url}/async-function/echo`)).status).toBe(405);
    await gw.asyncIdle();
  });

  it('runs queued async calls one at a time, in order', async () => {
    for (const tag of ['a', 'b', 'c']) {
      const res = await fetch(`${gw.url}/async-function/echo/sleep?ms=150&tag=${tag}`, { method: 'POST' });
      expect(res.status).toBe(202);
    }
    await gw.asyncIdle();
    const events = (await (await fetch(`${gw.url}/function/echo/events`)).json()) as string[];
    expect(events.filter((e) => /[abc]$/.test(e))).toEqual([
      'start a',
      'end a',
      'start b',
      'end b',
      'start c',
      'end c',
    ]);
  });

  it('restarts a function process that dies, as the kubelet would', async () => {
    const before = gw.functions().find((f) => f.name === 'sleepy')?.pid;
    await fetch(`${gw.url}/function/sleepy/exit`);
    await waitFor(
      'sleepy to come back',
      async () => {
        const now = gw.functions().find((f) => f.name === 'sleepy');
        return !!now?.running && now.pid !== before && (await fetch(`${gw.url}/function/sleepy/`)).ok;
      },
      20_000,
    );
  });
});

describe('local gateway: cron', () => {
  let ws: Workspace;
  let gw: Gateway;

  beforeAll(async () => {
    ws = makeWorkspace();
    const stack: Stack = {
      provider: { name: 'openfaas' },
      functions: {
        ticker: probeFunction({
          environment: { exec_timeout: '10s', CRON_SLEEP_MS: '1500' },
          annotations: { topic: 'cron-function', schedule: '* * * * * *' },
        }),
      },
      dir: ws.dir,
    };
    gw = await startGateway({
      stack,
      functions: { ticker: { secretsDir: ws.secretsDir } },
      cron: { seconds: true },
      log: quiet,
      output: () => {},
    });
  });

  afterAll(async () => {
    await gw?.stop();
    ws?.remove();
  });

  it("fires on the schedule with the cron-connector's headers, no body and no token, overlapping", async () => {
    let seen: { cronCalls: Record<string, unknown>[]; maxInflight: number } = {
      cronCalls: [],
      maxInflight: 0,
    };
    await waitFor(
      'two overlapping cron calls',
      async () => {
        seen = (await (await fetch(`${gw.url}/function/ticker/cron-calls`)).json()) as typeof seen;
        return seen.maxInflight >= 2;
      },
      30_000,
    );
    expect(seen.cronCalls[0]).toEqual({
      method: 'POST',
      path: '/',
      topic: 'cron-function',
      bodyUndefined: true,
      authorization: null,
    });
    // Calls are recorded when they finish.
    await waitFor('a recorded cron call', async () =>
      gw.calls.some((c) => c.function === 'ticker' && c.connector === 'cron-connector' && c.status === 200),
    );
  });

  it('fires on demand, and only functions that have a schedule', async () => {
    const reply = await gw.fireCron('ticker');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString())).toEqual({ cron: true });
    await expect(gw.fireCron('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('local gateway: start-up failures', () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = makeWorkspace();
  });
  afterAll(() => ws.remove());

  const stackOf = (extra: Parameters<typeof probeFunction>[0] = {}): Stack => ({
    provider: { name: 'openfaas' },
    functions: { probe: probeFunction(extra) },
    dir: ws.dir,
  });

  it('refuses a function whose secret is missing, as faas-netes does', async () => {
    await expect(startGateway({ stack: stackOf(), log: quiet, output: () => {} })).rejects.toThrow(
      /probe: required secret\(s\) probe-token not found/,
    );
  });

  it('reports a function that dies during start-up, with its output', async () => {
    const broken = makeWorkspace(`throw new Error('handler import failed on purpose');\n`);
    try {
      await expect(
        startGateway({
          stack: { ...stackOf(), dir: broken.dir },
          functions: { probe: { secretsDir: broken.secretsDir } },
          log: quiet,
          output: () => {},
        }),
      ).rejects.toThrow(/probe exited during start-up[\s\S]*handler import failed on purpose/);
    } finally {
      broken.remove();
    }
  });
});
