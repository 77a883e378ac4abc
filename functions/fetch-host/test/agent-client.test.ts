import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage } from '../src/agent-client';

/** An agent stand-in that records the request headers and gzips only when asked, as the agent does. */
let server: Server;
let url = '';
const seen: IncomingHttpHeaders[] = [];
const body = '{"a":1}\n{"a":2}\n';

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(gzip ? gzipSync(body) : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function read(gzip: boolean | undefined) {
  const request = { agentUrl: url, token: 't', after: null, limit: 10, tls: { ca: null, clientCert: null } };
  const page = await openPage(request, { connectMs: 5000, responseMs: 5000, idleMs: 5000, gzip });
  let text = '';
  for await (const chunk of page) text += chunk.toString();
  return text;
}

describe('openPage', () => {
  it('asks for a plain body by default (AGENT_GZIP off): no Accept-Encoding', async () => {
    seen.length = 0;
    expect(await read(undefined)).toBe(body);
    expect(await read(false)).toBe(body);
    expect(seen.map((h) => h['accept-encoding'])).toEqual([undefined, undefined]);
  });

  it('asks for gzip when told to, and reads the body decompressed', async () => {
    seen.length = 0;
    expect(await read(true)).toBe(body);
    expect(seen[0]!['accept-encoding']).toMatch(/\bgzip\b/);
  });
});
