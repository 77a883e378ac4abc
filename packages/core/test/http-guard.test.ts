import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerClientErrors, serverOptions } from '../src/http-guard';

/** A real server on loopback with short limits; requests written byte by byte over raw sockets. */
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer(
    serverOptions({ headersTimeoutMs: 500, requestTimeoutMs: 1500, checkIntervalMs: 100 }),
    (req, res) => {
      if (req.url === '/early') return res.writeHead(401, { 'content-type': 'application/json' }).end('{}');
      req.resume();
      req.on('end', () => res.writeHead(200).end('ok'));
    },
  );
  answerClientErrors(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

function exchange(chunks: string[], everyMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    const pending = [...chunks];
    const next = () => {
      const c = pending.shift();
      if (c !== undefined && !s.destroyed) s.write(c, () => setTimeout(next, everyMs));
    };
    s.on('connect', next);
    s.on('data', (d) => (out += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(out));
  });
}

const statusAndCode = (answer: string) => {
  const [head, body] = answer.split('\r\n\r\n');
  return {
    status: Number(head!.split(' ')[1]),
    code: (JSON.parse(body!) as { error: { code: string } }).error.code,
  };
};

describe('http-guard', () => {
  it('answers a malformed head with a JSON 400', async () => {
    expect(statusAndCode(await exchange(['GET / HTTP/1.1\r\nBad Header\r\n\r\n']))).toEqual({
      status: 400,
      code: 'BAD_REQUEST',
    });
  });

  it('answers a head over 16 KiB with a JSON 431', async () => {
    const answer = await exchange([`GET / HTTP/1.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`]);
    expect(statusAndCode(answer)).toEqual({ status: 431, code: 'HEADERS_TOO_LARGE' });
  });

  it('answers a slow head and a slow body with a JSON 408', async () => {
    const slowHead = await exchange([...'GET / HTTP/1.1\r\nX-Slow: ssssssssss\r\n\r\n'], 100);
    expect(statusAndCode(slowHead)).toEqual({ status: 408, code: 'REQUEST_TIMEOUT' });
    const slowBody = await exchange(
      ['POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n', ...'x'.repeat(100)],
      100,
    );
    expect(statusAndCode(slowBody)).toEqual({ status: 408, code: 'REQUEST_TIMEOUT' });
  });

  it('gives no second answer when the request was refused before its body came', async () => {
    const answer = await exchange(['POST /early HTTP/1.1\r\nContent-Length: 100\r\n\r\n', 'x'], 100);
    expect(answer.match(/HTTP\/1\.1/g)).toHaveLength(1);
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
  });
});
