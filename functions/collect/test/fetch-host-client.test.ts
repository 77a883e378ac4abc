import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@infralogs/devkit';
import { createFetchHostClient } from '../src/fetch-host-client';

/** A gateway stand-in answering `/function/fetch-host` as scripted per host. */
let server: Server;
let url: string;
const seen: { host: string; authorization: string | undefined }[] = [];
let answers: Record<string, { status: number; body: string }[]> = {};

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const { host } = JSON.parse(text) as { host: string };
      seen.push({ host, authorization: req.headers.authorization });
      const answer = answers[host]?.shift() ?? { status: 500, body: 'no script' };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const client = (gatewayUrl: string) =>
  createFetchHostClient({
    gatewayUrl,
    token: async () => 'fh-token',
    timeoutMs: 5000,
    retry: { retries: 2, baseMs: 1, maxMs: 5 },
  });

describe('createFetchHostClient', () => {
  it('posts the host with the caller token and keeps the answer', async () => {
    answers = {
      'web-1': [
        {
          status: 200,
          body: JSON.stringify({
            host: 'web-1',
            fetched: 4,
            inserted: 3,
            duplicates: 1,
            batches: 1,
            checkpoint: 'c4',
            error: null,
          }),
        },
      ],
    };
    expect(await client(url)('web-1')).toEqual({
      host: 'web-1',
      fetched: 4,
      inserted: 3,
      duplicates: 1,
      batches: 1,
      checkpoint: 'c4',
      error: null,
    });
    expect(seen.at(-1)).toEqual({ host: 'web-1', authorization: 'Bearer fh-token' });
  });

  it('retries a busy function (429) but never one that ran and failed', async () => {
    const busy = { status: 429, body: '{"error":{"code":"BUSY","message":"max_inflight"}}' };
    const failed = {
      status: 502,
      body: JSON.stringify({
        host: 'db-1',
        fetched: 2,
        inserted: 2,
        duplicates: 0,
        batches: 1,
        checkpoint: 'c2',
        error: { code: 'UPSTREAM_FAILED', message: 'agent answered 503' },
      }),
    };
    answers = { 'db-1': [busy, failed, failed] };
    const before = seen.length;
    expect(await client(url)('db-1')).toEqual({
      host: 'db-1',
      fetched: 2,
      inserted: 2,
      duplicates: 0,
      batches: 1,
      checkpoint: 'c2',
      error: { code: 'UPSTREAM_FAILED', message: 'agent answered 503' },
    });
    expect(seen.length - before).toBe(2);
  });

  it('turns an unreachable gateway into the host error after its retries', async () => {
    const port = await freePort();
    const summary = await client(`http://127.0.0.1:${port}`)('edge-1');
    expect(summary).toMatchObject({
      host: 'edge-1',
      fetched: 0,
      inserted: 0,
      checkpoint: null,
      error: { code: 'UPSTREAM_FAILED' },
    });
    expect(summary.error!.message).toContain('ECONNREFUSED');
  });
});
