import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StackFunction } from '../../src/stack-file';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * One handler for every test function. It lives under the repository's .work/ so that its
 * `@infralogs/core` import resolves as a real function's does.
 */
export const PROBE_HANDLER = `
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfralogsError, type Handler } from '@infralogs/core';

const events: string[] = [];
const cronCalls: unknown[] = [];
let inflight = 0;
let maxInflight = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const handler: Handler = async (event) => {
  const q = event.query as Record<string, string>;
  if (event.headers['x-connector'] === 'cron-connector') {
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    cronCalls.push({
      method: event.method,
      path: event.path,
      topic: event.headers['x-topic'],
      bodyUndefined: event.body === undefined,
      authorization: event.headers.authorization ?? null,
    });
    await sleep(Number(process.env.CRON_SLEEP_MS ?? 0));
    inflight--;
    return { cron: true };
  }
  switch (event.path) {
    case '/sleep':
      events.push('start ' + q.tag);
      await sleep(Number(q.ms));
      events.push('end ' + q.tag);
      return { slept: Number(q.ms), tag: q.tag };
    case '/events':
      return events;
    case '/cron-calls':
      return { cronCalls, maxInflight };
    case '/coded':
      throw new InfralogsError('BAD_BATCH', 'batch has no entries');
    case '/boom':
      throw new Error('secret internals');
    case '/exit':
      setTimeout(() => process.exit(3), 20);
      return { exiting: true };
    default:
      return {
        method: event.method,
        path: event.path,
        query: event.query,
        body: event.body ?? null,
        callId: event.headers['x-call-id'] ?? null,
        env: {
          FOO: process.env.FOO ?? null,
          STACK_VAR: process.env.STACK_VAR ?? null,
          GATEWAY_URL: process.env.GATEWAY_URL ?? null,
          LEAK: process.env.INFRALOGS_GATEWAY_TEST_LEAK ?? null,
          FUNCTION_DIR: process.env.FUNCTION_DIR ?? null,
          exec_timeout: process.env.exec_timeout ?? null,
        },
        secret: readFileSync(join(process.env.SECRETS_DIR ?? '/nonexistent', 'probe-token'), 'utf8').trim(),
        pid: process.pid,
      };
  }
};

export default handler;
`;

export interface Workspace {
  dir: string;
  handlerFile: string;
  secretsDir: string;
  remove(): void;
}

export function makeWorkspace(handlerSource = PROBE_HANDLER): Workspace {
  mkdirSync(join(repoRoot, '.work'), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, '.work', 'gateway-test-'));
  mkdirSync(join(dir, 'probe', 'src'), { recursive: true });
  const handlerFile = join(dir, 'probe', 'src', 'handler.ts');
  writeFileSync(handlerFile, handlerSource);
  const secretsDir = join(dir, 'secrets');
  mkdirSync(secretsDir);
  writeFileSync(join(secretsDir, 'probe-token'), 's3cr3t\n');
  return { dir, handlerFile, secretsDir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const probeFunction = (extra: Partial<StackFunction> = {}): StackFunction => ({
  lang: 'node22-ts',
  handler: './probe',
  image: 'registry.local/probe:test',
  environment: { STACK_VAR: 'from-stack', GATEWAY_URL: 'http://gateway.openfaas:8080', FOO: 'stack-foo' },
  secrets: ['probe-token'],
  labels: { 'app.kubernetes.io/part-of': 'infralogs-test' },
  ...extra,
});

export interface ReceivedCallback {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP server standing in for an X-Callback-Url receiver. */
export async function callbackReceiver(): Promise<{
  url: string;
  received: ReceivedCallback[];
  close(): Promise<void>;
}> {
  const received: ReceivedCallback[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback?source=test`,
    received,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
