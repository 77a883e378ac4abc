import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Database, type FunctionEvent } from '@infralogs/core';
import { createStorePool, getCheckpoint, upsertHost } from '@infralogs/core';
import { createIngestHandler } from '../src/ingest';
import { parseTokens } from '@infralogs/core';
import { recordingContext } from '@infralogs/devkit';
import { entries, entry, freshStore } from '@infralogs/devkit/fixtures';

const fakeContext = recordingContext;

const TOKEN = 'ingest-token-current';
const event = (over: Partial<FunctionEvent> = {}): FunctionEvent => ({
  method: 'POST',
  path: '/',
  query: {},
  headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  body: undefined,
  ...over,
});

let store: Awaited<ReturnType<typeof freshStore>>;
const logs: string[] = [];
let handler: ReturnType<typeof createIngestHandler>;

async function call(e: FunctionEvent) {
  const { context, answer } = fakeContext();
  await handler(e, context);
  return answer;
}

async function rowCount() {
  const c = await store.admin();
  const [rows] = await c.query('SELECT COUNT(*) AS n FROM logs');
  await c.end();
  return Number((rows as { n: number }[])[0]!.n);
}

beforeAll(async () => {
  store = await freshStore();
  await upsertHost(store.pool, { name: 'web-1', agentUrl: 'http://127.0.0.1:9/' });
  const database: Database = { role: 'writer', getPool: () => store.pool, close: async () => {} };
  handler = createIngestHandler({
    getDatabase: async () => database,
    callerTokens: async () => parseTokens(`old-token\n${TOKEN}\n`),
    log: createLogger({}, { write: (line) => logs.push(line) }),
  });
});
afterAll(async () => store?.drop());

describe('ingest function', () => {
  it('ingests a batch given as parsed JSON, text or bytes, answering the IngestResult as JSON', async () => {
    const batch = { host: 'web-1', entries: entries(1, 10) };
    const a = await call(event({ body: batch }));
    expect(a.status).toBe(200);
    expect(a.headers['Content-Type']).toBe('application/json');
    expect(a.body).toEqual({
      host: 'web-1',
      received: 10,
      inserted: 10,
      duplicates: 0,
      checkpoint: entry(10).cursor,
      gaps: 0,
    });
    const b = await call(event({ body: JSON.stringify({ host: 'web-1', entries: entries(5, 15) }) }));
    expect(b.body).toMatchObject({ inserted: 5, duplicates: 6 });
    // Bytes, as stack.yml's RAW_BODY gives them: read forward, then a replay (the careful way,
    // which parses the bytes again).
    const bytes = (from: number, to: number) =>
      event({ body: Buffer.from(JSON.stringify({ host: 'web-1', entries: entries(from, to) })) });
    const c = await call(bytes(16, 20));
    expect(c.body).toMatchObject({ inserted: 5, duplicates: 0, checkpoint: entry(20).cursor });
    const d = await call(bytes(17, 20));
    expect(d.body).toMatchObject({ inserted: 0, duplicates: 4, checkpoint: entry(20).cursor });
    expect(await rowCount()).toBe(20);
    expect(await getCheckpoint(store.pool, 'web-1')).toBe(entry(20).cursor);
  });

  it('accepts every token of the secret and refuses a missing or wrong one with 401, writing nothing', async () => {
    const old = await call(
      event({ headers: { authorization: 'Bearer old-token' }, body: { host: 'web-1', entries: [] } }),
    );
    expect(old.status).toBe(200);
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Basic ${TOKEN}` }]) {
      const a = await call(event({ headers, body: { host: 'web-1', entries: entries(21, 22) } }));
      expect(a.status).toBe(401);
      expect(a.headers['WWW-Authenticate']).toBe('Bearer');
      expect(a.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'missing or wrong caller token' } });
    }
    expect(await rowCount()).toBe(20);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('answers a malformed batch with 400 BAD_BATCH and the reason, writing nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /empty body/],
      ['{not json', /not JSON/],
      [{ entries: [] }, /host/],
      [{ host: 'web-1', entries: [entry(21), { ...entry(22), seqnum: -1 }] }, /entry 1: seqnum/],
    ];
    for (const [body, reason] of cases) {
      const a = await call(event({ body }));
      expect(a.status).toBe(400);
      expect(a.body).toMatchObject({ error: { code: 'BAD_BATCH', message: expect.stringMatching(reason) } });
    }
    expect(await rowCount()).toBe(20);
    expect(await getCheckpoint(store.pool, 'web-1')).toBe(entry(20).cursor);
  });

  it('answers 405 to anything but POST and 404 to an unknown host', async () => {
    const get = await call(event({ method: 'GET' }));
    expect(get.status).toBe(405);
    expect(get.headers.Allow).toBe('POST');
    const unknown = await call(event({ body: { host: 'nobody', entries: entries(1, 2) } }));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('answers 503 DATABASE_FAILED when MySQL is unreachable and 500 without details on anything unexpected', async () => {
    const unreachable = createStorePool({
      host: '127.0.0.1',
      port: 1,
      user: 'x',
      password: 'y',
      database: 'z',
    });
    const quiet = createLogger({}, { write: () => {} });
    const cases = [
      {
        getDatabase: async (): Promise<Database> => ({
          role: 'writer',
          getPool: () => unreachable,
          close: async () => {},
        }),
      },
      {
        getDatabase: async (): Promise<Database> => {
          throw new Error('boom with internal details');
        },
      },
    ];
    const answers = [];
    for (const c of cases) {
      const h = createIngestHandler({ ...c, callerTokens: async () => [TOKEN], log: quiet });
      const { context, answer } = fakeContext();
      await h(event({ body: { host: 'web-1', entries: entries(30, 31) } }), context);
      answers.push(answer);
    }
    await unreachable.end();
    expect(answers[0]).toMatchObject({ status: 503, body: { error: { code: 'DATABASE_FAILED' } } });
    expect(answers[1]).toMatchObject({
      status: 500,
      body: { error: { code: 'INTERNAL', message: 'internal error' } },
    });
  });
});
