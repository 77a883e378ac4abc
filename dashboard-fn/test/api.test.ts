import type { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLogger,
  createStorePool,
  hashPassword,
  ingestBatch,
  InfralogsError,
  Metrics,
  upsertHost,
  type Database,
  type Entry,
  type FunctionEvent,
  type Handler,
} from '@infralogs/core';
import { adminConnection, recordingContext, uniqueName, waitForReplica } from '@infralogs/devkit';
import { entry, freshStore } from '@infralogs/devkit/fixtures';
import { createAuth, type Auth } from '../src/auth';
import { createDashboardHandler } from '../src/dashboard';
import { csvCell, readEntries } from '../src/entries';
import { parseEntriesQuery, parseFilterQuery } from '../src/params';
import { readTop } from '../src/queries';

/**
 * The dashboard's API against the real replica: a fresh database migrated on the primary, entries
 * written by ingestBatch, and the handler reading the replica through a pool logged in as a user
 * that may only SELECT (as the Vault reader role is).
 */

const STATIC_DIR = new URL('../static', import.meta.url).pathname;
const NOW = new Date();
const MIN_US = 60_000_000;
const nowUs = NOW.getTime() * 1000;
const XSS = '<img src=x onerror=alert(1)>';

let store: Awaited<ReturnType<typeof freshStore>>;
let reader: Pool;
let readerUser: string;
let handler: Handler;
let auth: Auth;
/** The Cookie header of a logged-in session. */
let session = '';
const logLines: string[] = [];
const PASSWORD = 'correct horse battery staple';

/** The handler contract as the template's wrapper implements it, recording the answer. */
async function call(
  h: Handler,
  path: string,
  query: Record<string, unknown> = {},
  method = 'GET',
  request: { headers?: FunctionEvent['headers']; body?: unknown } = { headers: { cookie: session } },
) {
  const { context, answer } = recordingContext();
  const event: FunctionEvent = { method, path, query, headers: request.headers ?? {}, body: request.body };
  const returned = await h(event, context);
  if (returned !== undefined) answer.body = returned;
  return answer;
}

// A host's entries, `minutesAgo` each, numbered within the host's own seqnum id.
const seqnumIds = { 'web-1': 'aa'.repeat(16), 'db-1': 'bb'.repeat(16) };
function at(
  host: keyof typeof seqnumIds,
  seqnum: number,
  minutesAgo: number,
  over: Partial<Entry> = {},
): Entry {
  return entry(seqnum, {
    seqnumId: seqnumIds[host],
    realtimeUs: nowUs - minutesAgo * MIN_US,
    hostname: host,
    ...over,
  });
}

const webEntries: Entry[] = [
  at('web-1', 1, 120, { priority: 6, message: 'Accepted publickey for alice' }),
  at('web-1', 2, 100, { priority: 3, message: 'error: maximum authentication attempts exceeded' }),
  at('web-1', 3, 90, { priority: 4, message: XSS }),
  // Entries without PRIORITY (and one whose bytes were not UTF-8) count under "none".
  at('web-1', 4, 80, { priority: null, message: 'no priority here', syslogIdentifier: null, unit: null }),
  at('web-1', 5, 70, {
    priority: null,
    message: 'caf\uFFFD',
    messageRaw: Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('base64'),
  }),
  at('web-1', 6, 10, {
    priority: 0,
    message: 'kernel panic imminent',
    syslogIdentifier: 'kernel',
    unit: null,
  }),
];
const dbEntries: Entry[] = [
  at('db-1', 1, 30 * 60, { priority: 3, message: 'old failure, outside 24 h', comm: 'mysqld' }),
  at('db-1', 2, 50, {
    priority: 6,
    message: 'mysqld ready for connections',
    syslogIdentifier: 'mysqld',
    unit: 'mariadb.service',
  }),
  at('db-1', 3, 5, {
    priority: 7,
    message: 'debug chatter',
    syslogIdentifier: 'mysqld',
    unit: 'mariadb.service',
  }),
  // Last in journal order, but stamped 1970 (a clock reset): the checkpoint's entry, not the newest.
  at('db-1', 4, 0, { realtimeUs: 1_000_000, priority: 6, message: 'clock reset' }),
];

const iso = (e: Entry) => {
  const ms = Math.floor(e.realtimeUs / 1000);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(e.realtimeUs % 1_000_000).padStart(6, '0')}Z`;
};

beforeAll(async () => {
  store = await freshStore({ now: NOW });
  await upsertHost(store.pool, { name: 'web-1', agentUrl: 'http://127.0.0.2:19532/' });
  await upsertHost(store.pool, { name: 'db-1', agentUrl: 'http://127.0.0.3:19532/' });
  await upsertHost(store.pool, { name: 'off-1', agentUrl: 'http://127.0.0.4:19532/', enabled: false });
  await ingestBatch(store.pool, { host: 'web-1', entries: webEntries });
  await ingestBatch(store.pool, { host: 'db-1', entries: dbEntries });

  // A read-only user, made on the primary and replicated, like the Vault reader role's users.
  readerUser = uniqueName('ro');
  const admin = await adminConnection(store.infra, 'primary');
  await admin.query(`CREATE USER ?@'%' IDENTIFIED BY 'reader-pw'`, [readerUser]);
  await admin.query(`GRANT SELECT ON ${store.name}.* TO ?@'%'`, [readerUser]);
  await admin.end();
  await waitForReplica(store.infra);

  reader = createStorePool({
    host: store.infra.mysql.replica.host,
    port: store.infra.mysql.replica.port,
    user: readerUser,
    password: 'reader-pw',
    database: store.name,
  });
  const database: Database = { role: 'reader', getPool: () => reader, close: () => reader.end() };
  // A cheap scrypt cost for tests; the hash records its cost.
  const users = new Map([['alice', await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })]]);
  auth = createAuth({
    path: '/function/dashboard/',
    loadSecrets: async () => ({ users, key: Buffer.from('k'.repeat(40)) }),
    sleep: async () => {},
  });
  handler = createDashboardHandler({
    getDatabase: async () => database,
    staticDir: STATIC_DIR,
    auth,
    now: () => NOW,
    log: createLogger({}, { write: (line) => logLines.push(line) }),
  });
  const login = await call(handler, '/login', {}, 'POST', {
    headers: { 'content-type': 'application/json' },
    body: { user: 'alice', password: PASSWORD },
  });
  expect(login.status).toBe(200);
  session = login.headers['Set-Cookie']!.split(';')[0]!;
});

afterAll(async () => {
  await reader?.end();
  const admin = await adminConnection(store.infra, 'primary');
  await admin.query(`DROP USER IF EXISTS ?@'%'`, [readerUser]);
  await admin.end();
  await store?.drop();
});

describe('the reader pool', () => {
  it('is on the replica and cannot write, nor could its user on the primary', async () => {
    const [[server]] = (await reader.query(
      'SELECT @@read_only AS readOnly, CURRENT_USER() AS user',
    )) as unknown as [{ readOnly: number; user: string }[]];
    expect(server).toMatchObject({ readOnly: 1, user: `${readerUser}@%` });
    await expect(
      reader.query(`INSERT INTO hosts (name, agent_url, enabled, created_at, updated_at)
                    VALUES ('x', 'http://x/', 1, UTC_TIMESTAMP(), UTC_TIMESTAMP())`),
    ).rejects.toMatchObject({ code: 'ER_OPTION_PREVENTS_STATEMENT' });
    // The replica refuses every write; the user's own grants refuse it even where writes are allowed.
    const primary = await mysql.createConnection({
      host: store.infra.mysql.primary.host,
      port: store.infra.mysql.primary.port,
      user: readerUser,
      password: 'reader-pw',
      database: store.name,
    });
    try {
      await expect(primary.query("DELETE FROM hosts WHERE name = 'web-1'")).rejects.toMatchObject({
        code: 'ER_TABLEACCESS_DENIED_ERROR',
      });
    } finally {
      await primary.end();
    }
  });
});

describe('GET /api/summary', () => {
  it('lists every host with its flag, checkpoint and counts per level from the rollup', async () => {
    const a = await call(handler, '/api/summary');
    expect(a.status).toBe(200);
    expect(a.headers).toMatchObject({
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    });
    const body = a.body as {
      window: { preset: string | null; from: string; to: string };
      levels: string[];
      totals: Record<string, number>;
      total: number;
      hosts: {
        name: string;
        enabled: boolean;
        lastEntryAt: string | null;
        counts: Record<string, number>;
        total: number;
      }[];
    };
    expect(body.window.preset).toBe('24h');
    expect(Date.parse(body.window.to) - Date.parse(body.window.from)).toBe(24 * 3_600_000);
    expect(body.levels).toEqual([
      'emerg',
      'alert',
      'crit',
      'err',
      'warning',
      'notice',
      'info',
      'debug',
      'none',
    ]);
    expect(body.hosts.map((h) => [h.name, h.enabled])).toEqual([
      ['db-1', true],
      ['off-1', false],
      ['web-1', true],
    ]);
    const [db, off, web] = body.hosts;
    expect(web!.counts).toEqual({
      emerg: 1,
      alert: 0,
      crit: 0,
      err: 1,
      warning: 1,
      notice: 0,
      info: 1,
      debug: 0,
      none: 2,
    });
    expect(web!.total).toBe(6);
    expect(web!.lastEntryAt).toBe(iso(webEntries.at(-1)!));
    // The 30 hours old entry is outside the default window.
    expect(db!.counts).toMatchObject({ err: 0, info: 1, debug: 1 });
    expect(db!.total).toBe(2);
    expect(off).toMatchObject({ lastEntryAt: null, total: 0 });
    expect(body.total).toBe(8);
    expect(body.totals).toMatchObject({ emerg: 1, err: 1, none: 2, info: 2, debug: 1 });

    const wide = (await call(handler, '/api/summary', { hours: '48' })).body as typeof body;
    expect(wide.total).toBe(9);
    expect(wide.hosts[0]!.counts.err).toBe(1);
  });
});

describe('GET /api/volume', () => {
  it('answers hourly counts per level, epoch ms on x, zero-filled over the window', async () => {
    const a = await call(handler, '/api/volume', { hours: '6' });
    expect(a.status).toBe(200);
    const body = a.body as { x: number[]; counts: Record<string, number[]> };
    expect(body.x).toHaveLength(6);
    for (let i = 1; i < 6; i++) expect(body.x[i]! - body.x[i - 1]!).toBe(3_600_000);
    expect(body.x[5]! % 3_600_000).toBe(0);
    expect(body.x[5]).toBeLessThanOrEqual(NOW.getTime());
    expect(body.x[5]! + 3_600_000).toBeGreaterThan(NOW.getTime());
    for (const series of Object.values(body.counts)) expect(series).toHaveLength(6);
    const sum = (l: string) => body.counts[l]!.reduce((s, n) => s + n, 0);
    expect(sum('none')).toBe(2);
    expect(sum('emerg')).toBe(1);
    expect(sum('debug')).toBe(1);
    expect(sum('info')).toBe(2);
    // The emerg entry (10 minutes ago) is in the hour that holds NOW - 10 min.
    const hourOf = (ms: number) => Math.floor(ms / 3_600_000) * 3_600_000;
    expect(body.counts.emerg![body.x.indexOf(hourOf(NOW.getTime() - 10 * 60_000))]).toBe(1);
  });

  it('filters by host, and refuses an unknown host with 404', async () => {
    const body = (await call(handler, '/api/volume', { host: 'db-1', hours: '48' })).body as {
      counts: Record<string, number[]>;
    };
    const total = Object.values(body.counts)
      .flat()
      .reduce((s, n) => s + n, 0);
    expect(total).toBe(3);
    const missing = await call(handler, '/api/volume', { host: 'nope' });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});

interface EntriesBody {
  entries: {
    ts: string;
    host: string;
    priority: string | null;
    syslogIdentifier: string | null;
    unit: string | null;
    message: string | null;
    truncated: boolean;
  }[];
  next: string | null;
}

describe('GET /api/entries', () => {
  it('answers the newest entries first, with level names and the message as text', async () => {
    const a = await call(handler, '/api/entries', { range: '3d' });
    expect(a.status).toBe(200);
    const body = a.body as EntriesBody;
    const all = [
      ...webEntries.map((e) => ({ e, host: 'web-1' })),
      ...dbEntries.map((e) => ({ e, host: 'db-1' })),
    ]
      .filter((x) => x.e.realtimeUs > nowUs - 72 * 3600 * 1e6)
      .sort((x, y) => y.e.realtimeUs - x.e.realtimeUs);
    expect(body.entries.map((r) => r.message)).toEqual(all.map((x) => x.e.message));
    expect(body.entries.map((r) => r.host)).toEqual(all.map((x) => x.host));
    expect(body.entries[0]).toMatchObject({
      ts: iso(dbEntries[2]!),
      host: 'db-1',
      priority: 'debug',
      syslogIdentifier: 'mysqld',
      unit: 'mariadb.service',
      message: 'debug chatter',
      truncated: false,
    });
    const hostile = body.entries.find((r) => r.message === XSS);
    expect(hostile).toMatchObject({ host: 'web-1', priority: 'warning' });
    expect(body.entries.filter((r) => r.priority === null).map((r) => r.message)).toEqual([
      'caf\uFFFD',
      'no priority here',
    ]);
    expect(body.next).toBeNull();
  });

  it('filters by host and priority (a level and everything more severe, or a range)', async () => {
    const errs = (await call(handler, '/api/entries', { priority: 'err', range: '3d' })).body as EntriesBody;
    expect(errs.entries.map((r) => [r.host, r.priority])).toEqual([
      ['web-1', 'emerg'],
      ['web-1', 'err'],
      ['db-1', 'err'],
    ]);
    const range = (await call(handler, '/api/entries', { priority: '4..6', host: 'web-1' }))
      .body as EntriesBody;
    expect(range.entries.map((r) => r.priority)).toEqual(['warning', 'info']);
    const db = (await call(handler, '/api/entries', { host: 'db-1', range: '3d' })).body as EntriesBody;
    expect(db.entries).toHaveLength(3);
    expect(new Set(db.entries.map((r) => r.host))).toEqual(new Set(['db-1']));
  });

  it('pages with limit and before', async () => {
    const seen: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const query: Record<string, string> = { limit: '4', range: '3d', ...(before ? { before } : {}) };
      const page = (await call(handler, '/api/entries', query)).body as EntriesBody;
      expect(page.entries.length).toBeLessThanOrEqual(4);
      seen.push(...page.entries.map((r) => r.ts));
      before = page.next;
      pages++;
    } while (before !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(9);
    expect([...seen].sort().reverse()).toEqual(seen);
    expect(new Set(seen).size).toBe(9);
  });

  it('reads logs through its indexes only (no full scan), as EXPLAIN on the replica shows', async () => {
    const statements: { sql: string; values: unknown[] }[] = [];
    const recording = new Proxy(reader, {
      get(target, prop, receiver) {
        if (prop === 'query')
          return (sql: string, values: unknown[]) => {
            statements.push({ sql, values });
            return target.query(sql, values);
          };
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const spying = createDashboardHandler({
      getDatabase: async () => ({ role: 'reader', getPool: () => recording, close: async () => {} }),
      staticDir: STATIC_DIR,
      auth,
      now: () => NOW,
    });
    for (const query of [
      {},
      { host: 'web-1' },
      { priority: 'err' },
      { host: 'db-1', priority: '3..6' },
      { identifier: 'mysqld' },
      { host: 'db-1', unit: 'mariadb.service' },
    ])
      expect((await call(spying, '/api/entries', query)).status).toBe(200);
    const onLogs = statements.filter((s) => /FROM logs/.test(s.sql));
    expect(onLogs).toHaveLength(6);
    const admin = await adminConnection(store.infra, 'replica', store.name);
    try {
      for (const s of onLogs) {
        const [plan] = (await admin.query(`EXPLAIN ${s.sql}`, s.values)) as unknown as [
          { table: string | null; type: string | null; key: string | null; Extra: string | null }[],
        ];
        // The walks (`w`): index-only, in index order (no sort of the matching rows); then the
        // kept entries' rows (`l`), each by its primary key.
        const walks = plan.filter((p) => p.table === 'w');
        expect(walks.length).toBeGreaterThan(0);
        for (const p of walks) {
          expect(p.type, s.sql).not.toBe('ALL');
          expect(p.key, s.sql).toMatch(/^ix_logs_/);
          expect(p.Extra ?? '', s.sql).toMatch(/Using index($|;)/);
          expect(p.Extra ?? '', s.sql).not.toMatch(/filesort/);
        }
        const fetches = plan.filter((p) => p.table === 'l');
        expect(fetches).toHaveLength(1);
        expect(fetches[0], s.sql).toMatchObject({ type: 'eq_ref', key: 'PRIMARY' });
      }
    } finally {
      await admin.end();
    }
  });
});

describe('query validation and errors', () => {
  it.each([
    ['/api/summary', { hours: '0' }, 'hours'],
    ['/api/summary', { hours: 'abc' }, 'hours'],
    ['/api/summary', { hours: '99999' }, 'hours'],
    ['/api/summary', { since: 'x' }, 'since'],
    ['/api/volume', { hours: ['1', '2'] }, 'hours'],
    ['/api/volume', { host: 'a\nb' }, 'host'],
    ['/api/entries', { limit: '0' }, 'limit'],
    ['/api/entries', { limit: '501' }, 'limit'],
    ['/api/entries', { priority: '9' }, 'priority'],
    ['/api/entries', { priority: 'loud' }, 'priority'],
    ['/api/entries', { priority: '1..2..3' }, 'priority'],
    ['/api/entries', { before: 'yesterday' }, 'before'],
    ['/api/entries', { before: '2026-02-30T00:00:00Z' }, 'before'],
  ])('%s %j is a 400 BAD_QUERY naming the parameter', async (path, query, param) => {
    const a = await call(handler, path, query);
    expect(a.status).toBe(400);
    expect(a.headers['Content-Type']).toBe('application/json; charset=utf-8');
    expect(a.body).toMatchObject({ error: { code: 'BAD_QUERY', details: { param } } });
    expect((a.body as { error: { message: string } }).error.message).toMatch(new RegExp(param));
  });

  it('answers 404 JSON for an unknown path and 405 for anything but GET', async () => {
    for (const path of [
      '/api/nope',
      '/nope',
      '/static/vendor/bokeh-gl.min.js',
      '/static/vendor/../../package.json',
    ]) {
      const a = await call(handler, path);
      expect(a.status, path).toBe(404);
      expect(a.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
    const post = await call(handler, '/api/summary', {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.Allow).toBe('GET, HEAD');
  });

  it('answers 503 with a code, and no stack, when Vault or the database fails', async () => {
    const vaultDown = createDashboardHandler({
      getDatabase: async () => {
        throw new InfralogsError('VAULT_UNAVAILABLE', 'Vault did not answer');
      },
      staticDir: STATIC_DIR,
      auth,
      log: createLogger({}, { write: () => {} }),
    });
    const a = await call(vaultDown, '/api/summary');
    expect(a.status).toBe(503);
    expect(a.body).toEqual({ error: { code: 'VAULT_UNAVAILABLE', message: 'Vault did not answer' } });

    const closed = createStorePool({
      host: '127.0.0.1',
      port: 9,
      user: 'nobody',
      password: 'x',
      connectTimeout: 2000,
    });
    const dbDown = createDashboardHandler({
      getDatabase: async () => ({ role: 'reader', getPool: () => closed, close: () => closed.end() }),
      staticDir: STATIC_DIR,
      auth,
      log: createLogger({}, { write: () => {} }),
    });
    const b = await call(dbDown, '/api/entries');
    await closed.end();
    expect(b.status).toBe(503);
    expect(b.body).toMatchObject({ error: { code: 'DATABASE_FAILED' } });
    expect(JSON.stringify(b.body)).not.toMatch(/stack|at .*\.ts/);
  });
});

describe('the page and its files', () => {
  it('serves HTML with a CSP allowing only same-origin scripts, and no inline script', async () => {
    const a = await call(handler, '/');
    expect(a.status).toBe(200);
    expect(a.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(a.headers['Content-Security-Policy']).toContain("script-src 'self'");
    expect(a.headers['Content-Security-Policy']).toContain("default-src 'none'");
    const html = String(a.body);
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    // app.js first: it sends its requests while the bundles are parsed.
    expect(scripts.map((s) => /src="([^"]+)"/.exec(s[1]!)?.[1])).toEqual([
      'static/app.js',
      'static/vendor/bokeh.min.js',
      'static/vendor/bokeh-tables.min.js',
      'static/vendor/bokeh-api.min.js',
    ]);
    for (const s of scripts) expect(s[2]).toBe('');
    expect(html).toContain('<base href="/function/dashboard/">');
  });

  it('serves app.js and the BokehJS bundles from the installed package', async () => {
    const app = await call(handler, '/static/app.js');
    expect(app.status).toBe(200);
    expect(app.headers['Content-Type']).toBe('text/javascript; charset=utf-8');
    expect(String(app.body)).toContain('Bokeh.Plotting.figure');
    const bokeh = await call(handler, '/static/vendor/bokeh-api.min.js');
    expect(bokeh.status).toBe(200);
    expect((bokeh.body as Buffer).length).toBeGreaterThan(10_000);
  });

  it('logged nothing secret', () => {
    expect(logLines.join('\n')).not.toContain('reader-pw');
    expect(logLines.join('\n')).not.toContain(PASSWORD);
  });
});

describe('the panels', () => {
  it("tells each host's newest stored entry, not its checkpoint entry's time", async () => {
    const body = (await call(handler, '/api/summary')).body as {
      hosts: { name: string; lastEntryAt: string | null }[];
    };
    expect(body.hosts.find((h) => h.name === 'db-1')!.lastEntryAt).toBe(iso(dbEntries[2]!));
    const health = (await call(handler, '/api/health')).body as {
      hosts: {
        name: string;
        newestEntryAt: string | null;
        lagSeconds: number | null;
        checkpointAt: string | null;
      }[];
      replica: { heartbeatAt: string | null; lagSeconds: number | null };
    };
    const db = health.hosts.find((h) => h.name === 'db-1')!;
    expect(db.newestEntryAt).toBe(iso(dbEntries[2]!));
    expect(db.lagSeconds).toBe(Math.round(5 * 60));
    expect(db.checkpointAt).not.toBeNull();
    expect(health.hosts.find((h) => h.name === 'off-1')).toMatchObject({
      newestEntryAt: null,
      lastRun: null,
    });
    // The heartbeat ingest wrote on the primary, read here on the replica.
    expect(health.replica.heartbeatAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('answers top identifiers with counts per level, from the rollup', async () => {
    const top = (await call(handler, '/api/top', { field: 'identifier', range: '3d' })).body as {
      rows: { value: string; counts: Record<string, number>; total: number }[];
    };
    expect(top.rows.map((r) => [r.value, r.total])).toEqual([
      ['sshd', 5],
      ['mysqld', 2],
      ['', 1],
      ['kernel', 1],
    ]);
    expect(top.rows[0]!.counts).toMatchObject({ info: 1, err: 2, warning: 1, none: 1 });
    const units = (await call(handler, '/api/top', { field: 'unit', host: 'db-1', priority: 'debug' }))
      .body as {
      rows: { value: string; total: number }[];
    };
    expect(units.rows).toEqual([expect.objectContaining({ value: 'mariadb.service', total: 2 })]);
    expect((await call(handler, '/api/top', { field: 'message' })).status).toBe(400);
  });

  it('keeps two values of one CRC32 apart in a top list (plumless and buckeroo)', async () => {
    // The top lists group by the value's checksum and fall back to the value on a collision.
    const own = await freshStore({ now: NOW });
    try {
      await upsertHost(own.pool, { name: 'crc-1', agentUrl: 'http://127.0.0.5:19532/' });
      const ids = ['plumless', 'buckeroo', 'plumless'];
      await ingestBatch(own.pool, {
        host: 'crc-1',
        entries: ids.map((syslogIdentifier, i) =>
          entry(i + 1, { seqnumId: 'cc'.repeat(16), realtimeUs: nowUs - (i + 1) * MIN_US, syslogIdentifier }),
        ),
      });
      for (const range of ['24h', '7d']) {
        const top = await readTop(own.pool, parseFilterQuery({ range }, NOW).filter, 'identifier');
        expect(top.rows.map((r) => [r.value, r.total])).toEqual([
          ['plumless', 2],
          ['buckeroo', 1],
        ]);
      }
    } finally {
      await own.drop();
    }
  });

  it("reads a window's last, partial day from the daily rollup only when nothing lies after the window that day", async () => {
    const own = await freshStore({ now: NOW });
    try {
      await upsertHost(own.pool, { name: 'day-1', agentUrl: 'http://127.0.0.6:19532/' });
      const day = Math.floor(NOW.getTime() / 86_400_000) * 86_400_000 - 86_400_000; // yesterday 00:00 UTC
      const hourUs = 3_600_000_000;
      await ingestBatch(own.pool, {
        host: 'day-1',
        entries: (['early', 'late'] as const).map((syslogIdentifier, i) =>
          entry(i + 1, {
            seqnumId: 'dd'.repeat(16),
            realtimeUs: day * 1000 + (1 + 4 * i) * hourUs,
            syslogIdentifier,
          }),
        ),
      });
      const top = async (toHours: number) => {
        const q = {
          from: new Date(day).toISOString(),
          to: new Date(day + toHours * 3_600_000).toISOString(),
        };
        const t = await readTop(own.pool, parseFilterQuery(q, NOW).filter, 'identifier');
        return t.rows.map((r) => [r.value, r.total]);
      };
      // 'late' (05:00) is after a window to 03:00: that day's daily row would count it.
      expect(await top(3)).toEqual([['early', 1]]);
      expect(await top(6)).toEqual([
        ['early', 1],
        ['late', 1],
      ]);
    } finally {
      await own.drop();
    }
  });

  it('answers the err-and-worse heatmap per host and hour, and volume per host', async () => {
    const heat = (await call(handler, '/api/heatmap')).body as {
      hosts: string[];
      cells: { host: string; hour: number; n: number }[];
    };
    expect(heat.hosts).toEqual(['db-1', 'off-1', 'web-1']);
    expect(heat.cells.map((c) => c.host).sort()).toEqual(['web-1', 'web-1']);
    expect(heat.cells.reduce((s, c) => s + c.n, 0)).toBe(2);
    const volume = (await call(handler, '/api/volume', { host: 'web-1,db-1' })).body as {
      hosts: { name: string; counts: number[] }[];
    };
    const totals = Object.fromEntries(volume.hosts.map((h) => [h.name, h.counts.reduce((s, n) => s + n, 0)]));
    expect(totals).toEqual({ 'db-1': 2, 'web-1': 6 });
  });

  it('narrows counts to an identifier through the field rollup', async () => {
    const body = (await call(handler, '/api/summary', { identifier: 'mysqld' })).body as {
      total: number;
      ignored: string[];
    };
    expect(body.total).toBe(2);
    const both = (await call(handler, '/api/summary', { identifier: 'mysqld', unit: 'x', q: 'y' })).body as {
      ignored: string[];
    };
    expect(both.ignored).toEqual(['unit', 'q']);
  });
});

interface SearchBody extends EntriesBody {
  search: { scanned: number; searchedFrom: string; searchedTo: string } | null;
}

describe('search, detail and export', () => {
  it('finds text with a budgeted walk, saying how much it searched; LIKE wildcards are literal', async () => {
    const searches = async () =>
      Number(
        /infralogs_dashboard_search_rows_scanned_total (\d+)/.exec(await Metrics.forProcess().text())?.[1] ??
          0,
      );
    const before = await searches();
    const a = (await call(handler, '/api/entries', { q: 'ONERROR', range: '3d' })).body as SearchBody;
    // The budget this request used is a metric too (rows scanned per search request).
    expect(await searches()).toBe(before + a.search!.scanned);
    expect(a.entries.map((e) => e.message)).toEqual([XSS]);
    expect(a.search).not.toBeNull();
    expect(a.search!.scanned).toBeGreaterThanOrEqual(6);
    expect(a.next).toBeNull();
    const none = (await call(handler, '/api/entries', { q: '%', range: '3d' })).body as SearchBody;
    expect(none.entries).toEqual([]);
    const ident = (await call(handler, '/api/entries', { identifier: 'mysqld', range: '3d' }))
      .body as SearchBody;
    expect(ident.entries.map((e) => e.message)).toEqual(['debug chatter', 'mysqld ready for connections']);
  });

  it('answers a search whose time budget is spent at once: no matches, next where it started', async () => {
    const query = parseEntriesQuery({ q: 'ONERROR', range: '3d' }, NOW);
    // Arrived 10 s ago: nothing of its budget is left, so no statement is started.
    const late = await readEntries(reader, query, undefined, Date.now() - 10_000);
    expect(late.entries).toEqual([]);
    expect(late.search!.scanned).toBe(0);
    expect(late.next).toBe(late.search!.searchedFrom);
    expect(Date.parse(late.next!)).toBe(query.filter.toMs);
    // The same step on time finds the match.
    const onTime = await readEntries(reader, query);
    expect(onTime.entries.map((e) => e.message)).toEqual([XSS]);
  });

  it('shows every stored field of one entry, the raw size for a message that was not UTF-8', async () => {
    const list = (await call(handler, '/api/entries', { host: 'web-1', range: '3d' })).body as {
      entries: { id: string; message: string }[];
    };
    const cafe = list.entries.find((e) => e.message === 'caf\uFFFD')!;
    const a = await call(handler, '/api/entry', { id: cafe.id });
    expect(a.status).toBe(200);
    const detail = a.body as {
      fields: { key: string; value: unknown }[];
      message: string;
      truncated: boolean;
    };
    const field = (k: string) => detail.fields.find((f) => f.key === k)?.value;
    expect(field('rawBytes')).toBe(4);
    expect(field('seqnum')).toBe('5');
    expect(field('comm')).toBe('sshd');
    expect(field('cursor')).toBe(webEntries[4]!.cursor);
    expect(field('bootId')).toMatch(/^[0-9a-f]{32}$/);
    expect(detail.message).toBe('caf\uFFFD');
    expect(detail.truncated).toBe(false);
    expect((await call(handler, '/api/entry', { id: 'nope' })).status).toBe(400);
    expect((await call(handler, '/api/entry', { id: cafe.id.replace(/\.\d+$/, '.1') })).status).toBe(404);
  });

  it('exports the filter as CSV and NDJSON, streamed, equal to the entries the API lists', async () => {
    const read = async (a: { body?: unknown }) => {
      const chunks: string[] = [];
      for await (const c of a.body as Readable) chunks.push(String(c));
      return chunks.join('');
    };
    const list = (await call(handler, '/api/entries', { range: '3d', limit: '500' })).body as EntriesBody;
    const csv = await call(handler, '/api/export', { range: '3d', format: 'csv' });
    expect(csv.headers['Content-Type']).toBe('text/csv; charset=utf-8');
    const lines = (await read(csv)).split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('ts,host,priority,syslogIdentifier,pid,unit,transport,machineId,message,truncated');
    expect(lines).toHaveLength(list.entries.length + 1);
    expect(lines[1]!.startsWith(`${list.entries[0]!.ts},db-1,debug,mysqld,`)).toBe(true);
    const nd = (await read(await call(handler, '/api/export', { range: '3d', format: 'ndjson' })))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { message: string });
    expect(nd.map((r) => r.message)).toEqual(list.entries.map((e) => e.message));
  });

  it('neutralises CSV cells that a spreadsheet would run as formulas', () => {
    expect(['=1+2', '+x', '-x', '@x', '\tx', 'plain', 'a,b', 'say "hi"'].map(csvCell)).toEqual([
      "'=1+2",
      "'+x",
      "'-x",
      "'@x",
      "'\tx",
      'plain',
      '"a,b"',
      '"say ""hi"""',
    ]);
  });
});

describe('the login', () => {
  it('answers 401 on the API and sends the page to the login without a session', async () => {
    const none = { headers: {} };
    for (const path of ['/api/summary', '/api/entries', '/api/export', '/api/health', '/api/entry']) {
      const a = await call(handler, path, {}, 'GET', none);
      expect(a.status, path).toBe(401);
      expect(a.body).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    }
    const page = await call(handler, '/', {}, 'GET', none);
    expect(page.status).toBe(303);
    expect(page.headers.Location).toBe('/function/dashboard/login');
    const login = await call(handler, '/login', {}, 'GET', none);
    expect(login.status).toBe(200);
    expect(String(login.body)).toContain('static/login.js');
    // A forged or tampered cookie is no session.
    const forged = session.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await call(handler, '/api/summary', {}, 'GET', { headers: { cookie: forged } })).status).toBe(
      401,
    );
    expect((await call(handler, '/api/summary')).status).toBe(200);
  });

  it('sets an HttpOnly SameSite=Strict cookie, Secure over HTTPS, and slows repeated failures', async () => {
    const waits: number[] = [];
    const slow = createDashboardHandler({
      getDatabase: async () => ({ role: 'reader', getPool: () => reader, close: async () => {} }),
      staticDir: STATIC_DIR,
      auth: createAuth({
        path: '/function/dashboard/',
        loadSecrets: async () => ({
          users: new Map([['alice', await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })]]),
          key: Buffer.from('k'.repeat(40)),
        }),
        sleep: async (ms) => void waits.push(ms),
      }),
      log: createLogger({}, { write: () => {} }),
    });
    const post = (user: string, password: string, headers: Record<string, string> = {}) =>
      call(slow, '/login', {}, 'POST', {
        headers: { 'content-type': 'application/json', ...headers },
        body: { user, password },
      });
    for (let i = 0; i < 4; i++) {
      const a = await post('alice', 'wrong');
      expect(a.status).toBe(401);
      expect(a.headers['Set-Cookie']).toBeUndefined();
    }
    expect((await post('mallory', 'x')).status).toBe(401);
    expect(waits).toEqual([250, 500, 1000, 2000]);
    const ok = await post('alice', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(ok.status).toBe(200);
    const cookie = ok.headers['Set-Cookie']!;
    expect(cookie).toMatch(
      /^infralogs_session=[^;]+; Path=\/function\/dashboard\/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure$/,
    );
    const plain = await post('alice', PASSWORD);
    expect(plain.headers['Set-Cookie']).not.toContain('Secure');
    // A form post (not JSON) is refused: a cross-site form cannot log anyone in.
    const form = await call(slow, '/login', {}, 'POST', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: { user: 'alice', password: PASSWORD },
    });
    expect(form.status).toBe(400);
    const out = await call(slow, '/logout', {}, 'POST');
    expect(out.headers['Set-Cookie']).toContain('Max-Age=0');
  });
});
