import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { createLogger, FailureLimiter, InfralogsError, Metrics, type Handler } from '@infralogs/core';
import { createApp, loadHandler, type AppOptions } from '../index';

const quiet = createLogger({}, { write: () => {} });
const servers: Server[] = [];

async function serve(handler: Handler, options: Omit<AppOptions, 'handler'> = {}) {
  const app = createApp({ handler, log: quiet, ...options });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** Echoes what the handler saw, so the tests can check the event the wrapper built. */
const echo: Handler = async (event) => ({
  method: event.method,
  path: event.path,
  query: event.query,
  header: event.headers['x-probe'] ?? null,
  bodyType:
    event.body === undefined ? 'undefined' : Buffer.isBuffer(event.body) ? 'buffer' : typeof event.body,
  body: Buffer.isBuffer(event.body) ? event.body.length : (event.body ?? null),
});

describe('node22-ts wrapper: results', () => {
  let url: string;
  beforeAll(async () => {
    url = await serve(async (event, context) => {
      switch (event.path) {
        case '/object':
          return { a: 1, list: [1, 2] };
        case '/array':
          return [1, 'two'];
        case '/number':
          return 42;
        case '/string':
          return '<p>hello</p>';
        case '/typed':
          return context.headers({ 'Content-Type': 'text/plain', 'X-Extra': 'yes' }).succeed('plain');
        case '/created':
          context.status(201).succeed({ created: true });
          return { ignored: true };
        case '/nothing':
          return undefined;
        case '/twice':
          context.succeed({ first: true });
          context.succeed({ second: true });
          return;
        case '/bigint':
          return { n: 1n };
        default:
          return echo(event, context);
      }
    });
  });

  it('sends objects and arrays as JSON with a JSON content type', async () => {
    const res = await fetch(`${url}/object`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ a: 1, list: [1, 2] });
    const arr = await fetch(`${url}/array`);
    expect(arr.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await arr.json()).toEqual([1, 'two']);
    const num = await fetch(`${url}/number`);
    expect(num.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await num.json()).toBe(42);
  });

  it('sends strings as upstream does, and honours the headers a handler sets', async () => {
    const html = await fetch(`${url}/string`);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toBe('<p>hello</p>');
    const typed = await fetch(`${url}/typed`);
    expect(typed.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(typed.headers.get('x-extra')).toBe('yes');
    expect(await typed.text()).toBe('plain');
  });

  it('keeps the status set with context.status and the first succeed()', async () => {
    const created = await fetch(`${url}/created`);
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ created: true });
    const twice = await fetch(`${url}/twice`);
    expect(await twice.json()).toEqual({ first: true });
  });

  it('answers an undefined result with an empty 200', async () => {
    const res = await fetch(`${url}/nothing`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('turns a result JSON cannot encode into a JSON 500', async () => {
    const res = await fetch(`${url}/bigint`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
  });

  it('passes method, path, query and headers in the event', async () => {
    const res = await fetch(`${url}/some/path?x=1&y=two`, { method: 'DELETE', headers: { 'X-Probe': 'p' } });
    expect(await res.json()).toMatchObject({
      method: 'DELETE',
      path: '/some/path',
      query: { x: '1', y: 'two' },
      header: 'p',
    });
  });
});

describe('node22-ts wrapper: bodies', () => {
  let url: string;
  let raw: string;
  beforeAll(async () => {
    url = await serve(echo, { maxJsonSize: '1kb' });
    raw = await serve(echo, { rawBody: true, maxRawSize: 2048 });
  });

  it('parses JSON, text and urlencoded bodies', async () => {
    const json = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"k":[1]}',
    });
    expect(await json.json()).toMatchObject({ bodyType: 'object', body: { k: [1] } });
    const text = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' });
    expect(await text.json()).toMatchObject({ bodyType: 'string', body: 'a,b' });
    const form = await fetch(url, { method: 'POST', body: new URLSearchParams({ q: 'v' }) });
    expect(await form.json()).toMatchObject({ bodyType: 'object', body: { q: 'v' } });
  });

  it('reads a body without content type as text, and no body as undefined', async () => {
    const untyped = await fetch(url, { method: 'POST', body: new Blob(['hello']) });
    expect(await untyped.json()).toMatchObject({ bodyType: 'string', body: 'hello' });
    // fetch, like Go's client for the cron-connector, sends Content-Length: 0.
    const empty = await fetch(url, { method: 'POST' });
    expect(await empty.json()).toMatchObject({ bodyType: 'undefined', body: null });
    const emptyJson = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(await emptyJson.json()).toMatchObject({ bodyType: 'undefined', body: null });
    const get = await fetch(url);
    expect(await get.json()).toMatchObject({ bodyType: 'undefined', body: null });
  });

  it('answers a body over MAX_JSON_SIZE with a 413 JSON error', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(2000) }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(body.error.message).toContain('MAX_JSON_SIZE');
  });

  it('answers malformed JSON with a 400 JSON error', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{no',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { code: 'BAD_REQUEST', message: 'request body is malformed' },
    });
  });

  it('gives a Buffer with RAW_BODY and enforces MAX_RAW_SIZE', async () => {
    const ok = await fetch(raw, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not":"parsed"}',
    });
    expect(await ok.json()).toMatchObject({ bodyType: 'buffer', body: 16 });
    const big = await fetch(raw, { method: 'POST', body: new Uint8Array(4096) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { message: string } }).error.message).toContain('MAX_RAW_SIZE');
  });
});

describe('node22-ts wrapper: refused credentials', () => {
  it('slows down a client after each 401 to a request with a credential, and forgets on success', async () => {
    const slept: number[] = [];
    const limiter = new FailureLimiter({ sleep: async (ms) => void slept.push(ms) });
    const url = await serve(
      async (event) => {
        if (event.headers.authorization !== 'Bearer right') throw new InfralogsError('UNAUTHORIZED', 'no');
        return { ok: true };
      },
      { limiter },
    );
    const call = (authorization?: string, forwardedFor?: string) =>
      fetch(url, {
        headers: {
          ...(authorization ? { authorization } : {}),
          ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
        },
      }).then((r) => r.status);
    // No credential: refused, not counted as a guess.
    expect(await call()).toBe(401);
    expect(await call()).toBe(401);
    for (let i = 0; i < 4; i++) expect(await call('Bearer wrong')).toBe(401);
    expect(slept).toEqual([250, 500, 1000]);
    // Another client (as the gateway names it, last in X-Forwarded-For) is not slowed.
    expect(await call('Bearer wrong', 'forged, 10.9.9.9')).toBe(401);
    expect(slept).toEqual([250, 500, 1000]);
    expect(await call('Bearer right')).toBe(200);
    expect(slept).toEqual([250, 500, 1000, 2000]);
    expect(await call('Bearer wrong')).toBe(401);
    expect(slept).toHaveLength(4);
  });

  it('answers an announced body over the limit with 413 at once, without reading it', async () => {
    const url = await serve(echo, { maxJsonSize: '1kb' });
    const { hostname, port } = new URL(url);
    const answer = await new Promise<string>((resolve) => {
      const s = connect(Number(port), hostname, () =>
        s.write(
          `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${64 << 20}\r\n\r\n{`,
        ),
      );
      let out = '';
      s.on('data', (d) => {
        out += d.toString();
        if (out.includes('}}')) {
          s.destroy();
          resolve(out);
        }
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"code":"PAYLOAD_TOO_LARGE"');
  });
});

describe('node22-ts wrapper: failures', () => {
  let url: string;
  beforeAll(async () => {
    url = await serve(async (event, context) => {
      switch (event.path) {
        case '/coded':
          throw new InfralogsError('BAD_BATCH', 'batch has no entries');
        case '/unknown':
          throw new Error('connect ECONNREFUSED user=admin password=hunter2');
        case '/fail':
          return context.fail(new Error('nope'));
        case '/fail-status':
          return context.status(422).fail(new InfralogsError('BAD_REQUEST', 'hosts must be an array'));
        default:
          return context.fail('a string');
      }
    });
  });

  it('maps a coded error to its status and JSON body', async () => {
    const res = await fetch(`${url}/coded`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: { code: 'BAD_BATCH', message: 'batch has no entries' } });
  });

  it('never leaks an unknown error message', async () => {
    const res = await fetch(`${url}/unknown`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(text).not.toContain('hunter2');
  });

  it('treats context.fail like a throw, keeping a failure status the handler chose', async () => {
    expect((await fetch(`${url}/fail`)).status).toBe(500);
    expect((await fetch(`${url}/other`)).status).toBe(500);
    const chosen = await fetch(`${url}/fail-status`);
    expect(chosen.status).toBe(422);
    expect(await chosen.json()).toEqual({
      error: { code: 'BAD_REQUEST', message: 'hosts must be an array' },
    });
  });
});

describe('loadHandler', () => {
  it('loads the default export of a handler file or folder', async () => {
    const handler = await loadHandler(new URL('../function', import.meta.url).pathname);
    expect(typeof handler).toBe('function');
  });

  it('rejects a module without a default handler with a coded error', async () => {
    await expect(loadHandler(new URL('../handler-file.ts', import.meta.url).pathname)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await expect(loadHandler('/nonexistent/function')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('node22-ts wrapper: metrics', () => {
  it('counts requests by the route answered and its code; 404s as route "other"', async () => {
    const metrics = new Metrics();
    const url = await serve(
      async (event, context) => {
        if (event.path === '/api/summary') return { ok: true };
        if (event.path === '/broken') throw new InfralogsError('DATABASE_FAILED', 'down');
        context.status(404).succeed({ error: { code: 'NOT_FOUND', message: 'no' } });
        return undefined;
      },
      { metrics },
    );
    await fetch(`${url}/api/summary?token=abc`);
    await fetch(`${url}/api/summary`);
    await fetch(`${url}/broken`);
    for (let i = 0; i < 5; i++) await fetch(`${url}/probe-${i}`);
    const text = await metrics.text();
    expect(text).toContain('infralogs_http_requests_total{route="/api/summary",code="200"} 2');
    expect(text).toContain('infralogs_http_requests_total{route="/broken",code="503"} 1');
    expect(text).toContain('infralogs_http_requests_total{route="other",code="404"} 5');
    expect(text).not.toMatch(/probe|token=abc/);
  });
});
