import { readdir, readFile, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import got from 'got';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, formatTs } from '@infralogs/core';
import {
  HOSTILE_1970_US,
  HOSTILE_2100_US,
  HOSTILE_BOOT_ID,
  HOSTILE_HUGE_BYTES,
  hostileEntries,
  makeJournalDir,
  writeExport,
} from '@infralogs/devkit';
import { startAgent, type RunningAgent } from '../../../agent/src/index';
import { startLocalStack, type LocalStack } from '../../src/stack';
import { DATABASE_NAME } from '../../src/stack/database';
import { EDGE_CASES_HOST } from '../../src/stack/journals';
import { journalRows, storedRows, type ComparableRow } from './journal-truth';

/**
 * Hostile input and authentication on the local stack (issue 11, items 2 and 3):
 * - a journal built to break parsers, SQL and HTML, served by edge-1's real agent, collected
 *   through the gateway → fetch-host → ingest → the primary, and compared with journalctl's own
 *   export of it: every entry stored as core maps it, the 16 MiB one shortened with its marker;
 * - oversized, truncated, slow and malformed requests to an agent, the gateway and every function
 *   get JSON 4xx answers (timeouts configured short for the test);
 * - missing or wrong credentials get the same 401 whatever host they name;
 * - no secret of the run appears in any log, error body or dashboard page.
 */
const SHORT = { headersTimeoutMs: 1500, requestTimeoutMs: 4000, checkIntervalMs: 250 };
const SHORT_ENV = {
  HTTP_HEADERS_TIMEOUT_MS: String(SHORT.headersTimeoutMs),
  HTTP_REQUEST_TIMEOUT_MS: String(SHORT.requestTimeoutMs),
};
const FUNCTIONS = ['collect', 'fetch-host', 'ingest', 'dashboard'] as const;

let work: string;
let stack: LocalStack;
let agent: RunningAgent;
let agentLog = '';
const progress: string[] = [];
/** Every answer body the tests received, searched for secrets at the end. */
const answers: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'infralogs-hostile-'));
  stack = await startLocalStack({
    stateDir: join(work, 'stack'),
    gatewayPort: 0,
    useMachineJournal: false,
    collectOnStart: false,
    progress: (line) => progress.push(line),
    // Short request timeouts, so slow clients are cut quickly; ingest keeps room for 12 MB bodies.
    gatewayRequestLimits: { ...SHORT, requestTimeoutMs: 30_000 },
    functionEnv: {
      collect: SHORT_ENV,
      'fetch-host': SHORT_ENV,
      dashboard: SHORT_ENV,
      ingest: {
        HTTP_HEADERS_TIMEOUT_MS: SHORT_ENV.HTTP_HEADERS_TIMEOUT_MS,
        HTTP_REQUEST_TIMEOUT_MS: '30000',
      },
    },
  });
  const edge = stack.hosts.find((h) => h.name === EDGE_CASES_HOST)!;
  await makeJournalDir(writeExport(hostileEntries(edge.name)), edge.journalDir!, { file: 'hostile.journal' });
  // One more agent, plain HTTP, with the short limits: the HTTP edge's own behaviour.
  const tokens = join(work, 'agent-tokens');
  await writeFile(tokens, 'hostile-test-agent-token-0123456789\n');
  agent = await startAgent(
    { host: '127.0.0.1', port: 0, tokensFile: tokens, journalDir: edge.journalDir!, requestLimits: SHORT },
    createLogger({ component: 'agent' }, { write: (line) => (agentLog += line + '\n') }),
  );
}, 300_000);

afterAll(async () => {
  await agent?.close();
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

const hostileRow = (rows: ComparableRow[]) => rows.filter((r) => r.identity.startsWith(HOSTILE_BOOT_ID));

describe('a hostile journal', () => {
  it('is stored as journalctl exports it, the 16 MiB message shortened, and nothing else is lost', async () => {
    const edge = stack.hosts.find((h) => h.name === EDGE_CASES_HOST)!;
    const expected = await journalRows(edge.journalDir!);
    const hostile = hostileRow(expected);
    expect(hostile).toHaveLength(hostileEntries(edge.name).length);

    const run = await stack.collect();
    answers.push(JSON.stringify(run));
    expect(run.status).toBe('succeeded');
    for (const h of run.hosts) expect(h.error, h.host).toBeNull();
    const edgeResult = run.hosts.find((h) => h.host === edge.name)!;
    expect(edgeResult).toMatchObject({ fetched: expected.length, inserted: expected.length, duplicates: 0 });

    const stored = await storedRows(stack.topology, 'primary', DATABASE_NAME, edge.name);
    expect(stored).toHaveLength(expected.length);
    const huge = expected.findIndex((r) => r.message?.length === HOSTILE_HUGE_BYTES);
    expect(huge).toBeGreaterThanOrEqual(0);
    // Everything but the huge message equals journalctl's export, mapped by core.
    const strip = (r: ComparableRow) => ({ ...r, message: null, messageBytes: null });
    expect(stored.map(strip)).toEqual(expected.map(strip));
    for (const [i, row] of stored.entries()) {
      if (i === huge) continue;
      expect(row.message, row.identity).toEqual(expected[i]!.message);
      expect(row.messageBytes?.equals(expected[i]!.messageBytes!) ?? expected[i]!.messageBytes === null).toBe(
        true,
      );
    }
    // Shortened by fetch-host, with the reason in the message itself.
    const shortened = stored[huge]!.message!;
    expect(shortened.length).toBeLessThan(HOSTILE_HUGE_BYTES);
    expect(shortened).toMatch(/^H+ \[truncated by infralogs: MESSAGE was 16777216 bytes\]$/);

    const byMessage = (m: string) => hostileRow(stored).find((r) => r.message === m)!;
    expect(byMessage('PRIORITY=99').priority).toBeNull();
    expect(byMessage('PRIORITY=-1').priority).toBeNull();
    expect(byMessage('_PID=abc').pid).toBeNull();
    expect(byMessage('claims another host').hostname).toBe("web-1'; --<b>");
    expect(byMessage("'; DROP TABLE logs; --").syslogIdentifier).toBe("x'); DELETE FROM hosts; -- ");
    expect(byMessage('the first microsecond of 1970').ts).toBe(formatTs(HOSTILE_1970_US));
    expect(byMessage('noon on 1 January 2100').ts).toBe(formatTs(HOSTILE_2100_US));
    expect(byMessage('before\0after\0').syslogIdentifier).toBe('id\0nul');

    // The forged hostname did not put rows under web-1, whose rows are still its journal's.
    const web = stack.hosts.find((h) => h.name === 'web-1')!;
    expect(await storedRows(stack.topology, 'primary', DATABASE_NAME, 'web-1')).toEqual(
      await journalRows(web.journalDir!),
    );
    // Nothing is fetched twice, and the host is not stuck behind its hostile entries.
    const again = await stack.collect();
    expect(again.status).toBe('succeeded');
    for (const h of again.hosts) expect(h).toMatchObject({ fetched: 0, inserted: 0, error: null });
  }, 600_000);
});

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Sends bytes over a raw connection (one chunk every `everyMs`) and reads until the server closes. */
function raw(
  url: string,
  chunks: (string | Buffer)[],
  options: { everyMs?: number; ca?: string } = {},
): Promise<RawAnswer> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket =
      protocol === 'https:'
        ? tlsConnect({ host: hostname, port: Number(port), ca: options.ca, servername: undefined })
        : netConnect({ host: hostname, port: Number(port) });
    const received: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pending = [...chunks];
    const next = () => {
      const chunk = pending.shift();
      if (chunk === undefined || socket.destroyed) return;
      socket.write(chunk, () => (timer = setTimeout(next, options.everyMs ?? 0)));
    };
    socket.once(protocol === 'https:' ? 'secureConnect' : 'connect', next);
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(received).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      answers.push(text);
      if (status === 0) reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      else resolve({ status, headers: head, body: rest.join('\r\n\r\n') });
    });
  });
}

const bytesOf = (s: string) => [...Buffer.from(s)].map((b) => Buffer.from([b]));

/** The targets: the extra agent (plain), a stack agent (TLS), each function through the gateway and directly. */
function targets(): { name: string; url: string; path: string; ca?: string }[] {
  const direct = Object.fromEntries(stack.functions().map((f) => [f.name, f.port]));
  return [
    { name: 'agent', url: agent.url, path: '/logs' },
    { name: 'agent-tls', url: stack.hosts[0]!.agentUrl, path: '/logs', ca: stack.agentCa },
    ...FUNCTIONS.flatMap((fn) => [
      { name: `gateway ${fn}`, url: stack.gatewayUrl, path: `/function/${fn}` },
      { name: fn, url: `http://127.0.0.1:${direct[fn]}`, path: '/' },
    ]),
  ];
}

const expectJsonError = (a: RawAnswer, status: number, what: string) => {
  expect(a.status, `${what}: ${a.headers}\n${a.body.slice(0, 300)}`).toBe(status);
  expect(a.headers.toLowerCase(), what).toContain('content-type: application/json');
  const body = JSON.parse(a.body) as { error: { code: string; message: string } };
  expect(body.error.code, what).toMatch(/^[A-Z_]+$/);
  expect(typeof body.error.message, what).toBe('string');
  return body.error.code;
};

describe('hostile HTTP', () => {
  it('answers malformed, oversized, truncated and slow requests with JSON 4xx errors', async () => {
    const all = targets();
    await Promise.all(
      all.map(async (t) => {
        const host = `Host: ${new URL(t.url).host}\r\n`;
        const o = { ca: t.ca };
        // A header line without a colon, and a header name with a space.
        expectJsonError(
          await raw(t.url, [`GET ${t.path} HTTP/1.1\r\n${host}Bad Header\r\n\r\n`], o),
          400,
          `${t.name} malformed`,
        );
        // A head larger than 16 KiB.
        const big = `X-Big: ${'b'.repeat(20_000)}\r\n`;
        expect(
          expectJsonError(
            await raw(t.url, [`GET ${t.path} HTTP/1.1\r\n${host}${big}\r\n`], o),
            431,
            `${t.name} head`,
          ),
        ).toBe('HEADERS_TOO_LARGE');
        // A chunked body cut by a chunk that is not hex. The agent takes no body: it answers the
        // head (401 without a token) before the chunk comes.
        const chunked = `POST ${t.path} HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\n`;
        const cut = await raw(t.url, [chunked], o);
        expectJsonError(cut, t.path === '/logs' ? cut.status : 400, `${t.name} truncated chunk`);
        expect(cut.status).toBeLessThan(500);
        // One byte a second, head and then body: cut by the server's timeouts.
        const slowHead = await raw(
          t.url,
          bytesOf(`GET ${t.path} HTTP/1.1\r\n${host}X-Slow: ${'s'.repeat(40)}\r\n\r\n`),
          {
            ...o,
            everyMs: 1000,
          },
        );
        expect(expectJsonError(slowHead, 408, `${t.name} slow head`)).toBe('REQUEST_TIMEOUT');
        const slowBody = await raw(
          t.url,
          [
            `POST ${t.path} HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n`,
            ...bytesOf('{"hosts": ['),
          ],
          { ...o, everyMs: 1000 },
        );
        expect([408, 401, 404]).toContain(slowBody.status);
        expectJsonError(slowBody, slowBody.status, `${t.name} slow body`);
      }),
    );
  }, 180_000);

  it('refuses oversized and malformed bodies with a valid token, with bounded memory', async () => {
    const token = async (fn: string) =>
      (await readFile(join(stack.stateDir, 'secrets', fn, `${fn}-token`), 'utf8')).trim();
    for (const fn of ['collect', 'fetch-host', 'ingest'] as const) {
      const headers = { authorization: `Bearer ${await token(fn)}`, 'content-type': 'application/json' };
      const bad = await got.post(`${stack.gatewayUrl}/function/${fn}`, {
        headers,
        body: '{"host": ',
        throwHttpErrors: false,
        retry: { limit: 0 },
      });
      answers.push(bad.body);
      expect(bad.statusCode, `${fn} malformed`).toBe(400);
      expect(JSON.parse(bad.body).error.code).toMatch(/^BAD_/);
      // 64 MiB announced, more than any limit: refused on the length, not read.
      const huge = await raw(stack.gatewayUrl, [
        `POST /function/${fn} HTTP/1.1\r\nHost: x\r\nAuthorization: ${headers.authorization}\r\nContent-Type: application/json\r\nContent-Length: ${64 << 20}\r\nConnection: close\r\n\r\n`,
        Buffer.alloc(1 << 20, 0x20),
      ]);
      expect(expectJsonError(huge, 413, `${fn} oversized`)).toBe('PAYLOAD_TOO_LARGE');
    }
    for (const f of stack.functions()) {
      const status = await readFile(`/proc/${f.pid}/status`, 'utf8');
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
      expect(rssKb / 1024, `${f.name} RSS MB`).toBeLessThan(400);
    }
  }, 120_000);
});

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  got.post(url, {
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    throwHttpErrors: false,
    retry: { limit: 0 },
    followRedirect: false,
  });

describe('authentication', () => {
  const token = async (fn: string) =>
    (await readFile(join(stack.stateDir, 'secrets', fn, `${fn}-token`), 'utf8')).trim();

  it('refuses missing and wrong credentials with 401, the same for a known and an unknown host', async () => {
    const known: Record<string, unknown> = {
      collect: { hosts: ['web-1'] },
      'fetch-host': { host: 'web-1' },
      ingest: { host: 'web-1', entries: [] },
    };
    const unknown: Record<string, unknown> = {
      collect: { hosts: ['no-such-host'] },
      'fetch-host': { host: 'no-such-host' },
      ingest: { host: 'no-such-host', entries: [] },
    };
    const other = { collect: 'ingest', 'fetch-host': 'collect', ingest: 'fetch-host' } as const;
    await Promise.all(
      (['collect', 'fetch-host', 'ingest'] as const).map(async (fn) => {
        const url = `${stack.gatewayUrl}/function/${fn}`;
        const credentials = [undefined, 'Bearer wrong-token', `Bearer ${await token(other[fn])}`];
        for (const authorization of credentials) {
          const headers: Record<string, string> = authorization ? { authorization } : {};
          const a = await post(url, known[fn], headers);
          const b = await post(url, unknown[fn], headers);
          answers.push(a.body, b.body);
          expect(a.statusCode, `${fn} ${authorization ?? 'no token'}`).toBe(401);
          expect(JSON.parse(a.body)).toEqual({
            error: { code: 'UNAUTHORIZED', message: expect.any(String) },
          });
          expect({ status: b.statusCode, body: b.body }).toEqual({ status: a.statusCode, body: a.body });
        }
        // Malformed bodies are no way around it either.
        const malformed = await got.post(url, { body: '{', throwHttpErrors: false, retry: { limit: 0 } });
        expect(malformed.statusCode, `${fn} malformed without a token`).toBe(401);
      }),
    );

    for (const url of [agent.url, stack.hosts[0]!.agentUrl]) {
      for (const authorization of [undefined, 'Bearer wrong-token', 'Basic d3Jvbmc6d3Jvbmc=']) {
        const a = await got(`${url}/logs`, {
          headers: authorization ? { authorization } : {},
          https: { certificateAuthority: stack.agentCa },
          throwHttpErrors: false,
          retry: { limit: 0 },
        });
        answers.push(a.body);
        expect(a.statusCode).toBe(401);
        expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(JSON.parse(a.body).error.code).toBe('UNAUTHORIZED');
      }
    }

    const dash = stack.dashboardUrl;
    for (const path of ['/api/summary', '/api/entries?host=web-1', '/api/entries?host=no-such-host']) {
      for (const cookie of [undefined, 'infralogs_session=YWRtaW4.99999999999999.forged']) {
        const a = await got(`${dash}${path}`, {
          headers: cookie ? { cookie } : {},
          throwHttpErrors: false,
          retry: { limit: 0 },
        });
        answers.push(a.body);
        expect(a.statusCode, path).toBe(401);
        expect(JSON.parse(a.body).error.code).toBe('UNAUTHORIZED');
      }
    }
    const wrongPassword = await post(`${dash}/login`, { user: stack.dashboardLogin.user, password: 'wrong' });
    const unknownUser = await post(`${dash}/login`, { user: 'nobody', password: 'wrong' });
    answers.push(wrongPassword.body, unknownUser.body);
    expect(wrongPassword.statusCode).toBe(401);
    expect({ status: unknownUser.statusCode, body: unknownUser.body }).toEqual({
      status: wrongPassword.statusCode,
      body: wrongPassword.body,
    });
  }, 180_000);

  it('shows no token or password of the run in any log, error body or dashboard page', async () => {
    // A run with every credential in use: collect → fetch-host (agent tokens) → ingest, the dashboard.
    const run = await stack.collect();
    answers.push(JSON.stringify(run));
    expect(run.status).toBe('succeeded');
    const dash = stack.dashboardUrl;
    const login = await post(`${dash}/login`, stack.dashboardLogin);
    expect(login.statusCode).toBe(200);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const pages: string[] = [login.body];
    for (const path of [
      '/',
      '/login',
      '/static/app.js',
      '/static/login.js',
      '/api/summary',
      '/api/health',
      '/api/entries?limit=50',
      '/api/top?field=identifier',
      '/api/nope',
    ]) {
      const page = await got(`${dash}${path}`, {
        headers: { cookie },
        throwHttpErrors: false,
        retry: { limit: 0 },
      });
      expect(page.statusCode, path).toBeLessThan(500);
      pages.push(page.body, JSON.stringify(page.headers));
    }

    const secrets = new Map<string, string>();
    const add = (what: string, value: string) => {
      for (const line of value.split('\n').map((l) => l.trim())) {
        if (line.length >= 12 && !line.startsWith('#')) secrets.set(line, what);
      }
    };
    const secretsRoot = join(stack.stateDir, 'secrets');
    for (const fn of await readdir(secretsRoot)) {
      for (const name of await readdir(join(secretsRoot, fn)).catch(() => [])) {
        // The CA is public, the users file holds hashes only, a role id names a role.
        if (['agent-ca', 'dashboard-users', 'vault-role-id'].includes(name)) continue;
        add(`${fn}/${name}`, await readFile(join(secretsRoot, fn, name), 'utf8').catch(() => ''));
      }
    }
    for (const host of await readdir(join(stack.stateDir, 'agents'))) {
      add(`agent ${host} tokens`, await readFile(join(stack.stateDir, 'agents', host, 'tokens'), 'utf8'));
      const key = await readFile(join(stack.stateDir, 'agents', host, 'tls.key'), 'utf8');
      add(`agent ${host} key`, key.split('\n')[1] ?? '');
    }
    add('test agent token', await readFile(join(work, 'agent-tokens'), 'utf8'));
    add('dashboard password', stack.dashboardLogin.password);
    add('vault root token', stack.vault.rootToken);
    const init = JSON.parse(await readFile(join(stack.stateDir, 'openbao', 'init.json'), 'utf8')) as {
      unsealKey: string;
    };
    add('openbao unseal key', init.unsealKey);
    expect(secrets.size).toBeGreaterThanOrEqual(10);

    const texts: { where: string; text: string }[] = [
      { where: 'progress', text: progress.join('\n') },
      { where: 'test agent log', text: agentLog },
      { where: 'answers', text: answers.join('\n') },
      { where: 'dashboard pages', text: pages.join('\n') },
    ];
    // Every log of the run: the stack's log folder (gateway, functions, agents, OpenBao, jobs) and
    // MariaDB's error logs.
    const walk = async (dir: string, all: boolean): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        if (e.isDirectory()) await walk(path, all);
        else if (all || e.name.endsWith('.log'))
          texts.push({ where: path, text: await readFile(path, 'latin1') });
      }
    };
    await walk(stack.logDir, true);
    await walk(join(stack.stateDir, 'mariadb'), false);
    expect(texts.map((t) => t.where)).toEqual(
      expect.arrayContaining([
        join(stack.logDir, 'functions.log'),
        join(stack.logDir, 'openbao.log'),
        join(stack.logDir, `agent-${EDGE_CASES_HOST}.log`),
      ]),
    );
    expect(texts.length).toBeGreaterThan(5);
    const forms = (s: string) => [
      s,
      Buffer.from(s).toString('base64').replace(/=+$/, ''),
      Buffer.from(s).toString('base64url'),
      encodeURIComponent(s),
      Buffer.from(s).toString('hex'),
    ];
    const leaks = (corpus: { where: string; text: string }[]) => {
      // A set: several forms of one secret are often the same text (no byte to encode).
      const found = new Set<string>();
      for (const [secret, what] of secrets) {
        for (const form of forms(secret)) {
          for (const t of corpus) if (t.text.includes(form)) found.add(`${what} in ${t.where}`);
        }
      }
      return [...found];
    };
    // The search finds what it looks for (a planted URL-encoded password, a base64 token).
    const planted = `p=${encodeURIComponent(stack.dashboardLogin.password)}&t=${Buffer.from(stack.vault.rootToken).toString('base64')}`;
    expect(leaks([{ where: 'control', text: planted }])).toEqual([
      'dashboard password in control',
      'vault root token in control',
    ]);
    expect(leaks(texts)).toEqual([]);
  }, 300_000);
});
