import { describe, expect, it } from 'vitest';
import { createLogger, type FunctionEvent } from '@infralogs/core';
import { recordingContext } from '@infralogs/devkit';
import { createIngestHandler } from '../src/ingest';

/**
 * What ingest refuses before it touches the database: these run in the image build's `npm test`
 * (no database there). Storing batches is tested against MariaDB in ingest.test.ts.
 */
const TOKEN = 'ingest-token-current';
const handler = createIngestHandler({
  getDatabase: () => Promise.reject(new Error('a refused call must not reach the database')),
  callerTokens: async () => [TOKEN],
  log: createLogger({}, { write: () => {} }),
});
const event = (over: Partial<FunctionEvent> = {}): FunctionEvent => ({
  method: 'POST',
  path: '/',
  query: {},
  headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  body: undefined,
  ...over,
});
async function call(e: FunctionEvent) {
  const { context, answer } = recordingContext();
  await handler(e, context);
  return answer;
}
const code = (answer: { body?: unknown }) => (answer.body as { error?: { code?: string } }).error?.code;

describe('ingest refuses, as JSON errors and without the database', () => {
  it('anything but POST (405, Allow: POST)', async () => {
    const a = await call(event({ method: 'GET' }));
    expect([a.status, code(a), a.headers.Allow]).toEqual([405, 'METHOD_NOT_ALLOWED', 'POST']);
  });

  it('a missing or unknown token (401, WWW-Authenticate: Bearer)', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }]) {
      const a = await call(event({ headers, body: { host: 'h', entries: [] } }));
      expect([a.status, code(a), a.headers['WWW-Authenticate']]).toEqual([401, 'UNAUTHORIZED', 'Bearer']);
    }
  });

  it('an empty body, a body that is not JSON and a batch that is not one (400 BAD_BATCH)', async () => {
    for (const body of [undefined, '{"host":', { host: 'h' }, { host: 'h', entries: [{ cursor: 1 }] }]) {
      const a = await call(event({ body }));
      expect([a.status, code(a)], JSON.stringify(body)).toEqual([400, 'BAD_BATCH']);
      expect(a.headers['Content-Type']).toBe('application/json');
    }
  });
});
