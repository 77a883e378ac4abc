import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entries } from '@infralogs/devkit/fixtures';
import { createIngestClient } from '../src/ingest-client';

/** A gateway stand-in for `/function/ingest` answering a scripted status sequence. */
let server: Server;
let url: string;
let script: { status: number; body: string }[] = [];
const bodies: { authorization: string | undefined; body: unknown }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      bodies.push({ authorization: req.headers.authorization, body: JSON.parse(text) });
      const answer = script.shift() ?? { status: 500, body: '{}' };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const ingest = () =>
  createIngestClient({
    gatewayUrl: url,
    token: async () => 'ingest-token',
    timeoutMs: 5000,
    retry: { retries: 2, baseMs: 1, maxMs: 5 },
  });
const batchEntries = entries(1, 3);
const batch = {
  host: 'web-1',
  body: Buffer.from(JSON.stringify({ host: 'web-1', entries: batchEntries })),
  starts: [],
  first: 1,
};
const result = {
  host: 'web-1',
  received: 3,
  inserted: 3,
  duplicates: 0,
  checkpoint: batchEntries[2]!.cursor,
  gaps: 0,
};

describe('createIngestClient', () => {
  it('posts { host, entries } with the caller token, retrying a passing failure', async () => {
    script = [
      { status: 503, body: '{"error":{"code":"DATABASE_FAILED","message":"x"}}' },
      { status: 200, body: JSON.stringify(result) },
    ];
    bodies.length = 0;
    expect(await ingest()(batch)).toEqual(result);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toEqual({
      authorization: 'Bearer ingest-token',
      body: { host: 'web-1', entries: batchEntries },
    });
  });

  it('does not retry a refused batch and names ingest’s error', async () => {
    script = [{ status: 400, body: '{"error":{"code":"BAD_BATCH","message":"malformed batch: entry 1"}}' }];
    bodies.length = 0;
    await expect(ingest()(batch)).rejects.toMatchObject({
      code: 'UPSTREAM_FAILED',
      message: 'ingest answered 400: BAD_BATCH malformed batch: entry 1',
      details: { upstreamStatus: 400, upstreamError: 'BAD_BATCH' },
    });
    expect(bodies).toHaveLength(1);
  });
});
