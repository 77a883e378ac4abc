import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createLogger, EntryReader, entrySchema, type Entry } from '@infralogs/core';
import {
  requiredDatasetLines,
  edgeCaseEntries,
  makeJournalDir,
  syslogToExport,
  waitFor,
  writeExport,
  type ExportEntry,
} from '@infralogs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../src/index';

/**
 * The agent over real HTTP, on journal files written by systemd-journal-remote and read by the
 * real journalctl. Expected entries come from the core reader over journalctl's own export.
 */
const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
let work: string;
let journalDir: string;
let tokensFile: string;
let agent: RunningAgent;
let all: Entry[];
/** What the agents logged, as parsed JSON lines. */
const logged: Record<string, unknown>[] = [];
const testLog = () => createLogger({ component: 'agent-test' }, { write: (l) => logged.push(JSON.parse(l)) });

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function get(path: string, headers: Record<string, string> = auth): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${agent.url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const lines = (body: Buffer) =>
  body
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Entry);
const logs = async (query: string) => {
  const a = await get(`/logs?${query}`);
  expect(a.status, a.body.toString().slice(0, 300)).toBe(200);
  return lines(a.body);
};
const errorOf = (a: Answer) => ({
  status: a.status,
  code: (JSON.parse(a.body.toString()) as { error: { code: string } }).error.code,
});

/** Entries as the core reader reads `journalctl --all -o export` of a directory. */
function journalEntries(dir: string): Entry[] {
  const out: Entry[] = [];
  const reader = new EntryReader({ onEntry: (e) => out.push(e) });
  reader.push(execFileSync('journalctl', ['-D', dir, '--all', '-o', 'export'], { maxBuffer: 1 << 30 }));
  reader.end();
  return out;
}

/** journalctl processes whose parent is this test process (the in-process agent's children). */
function journalctlChildren(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat)!;
      if (comm === 'journalctl' && Number(rest!.split(' ')[1]) === process.pid) pids.push(Number(name));
    } catch {
      // the process went away while we looked
    }
  }
  return pids;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'infralogs-agent-'));
  tokensFile = join(work, 'tokens');
  await writeFile(tokensFile, `# test\n${TOKEN}\n`);
  const syslog = [
    ...requiredDatasetLines('OpenSSH_2k').slice(0, 120),
    ...requiredDatasetLines('Linux_2k').slice(0, 120),
  ];
  journalDir = await makeJournalDir(
    syslogToExport(syslog, { hostname: 'agent-host', boots: 3 }),
    join(work, 'journal'),
  );
  await makeJournalDir(writeExport(edgeCaseEntries('agent-host')), journalDir, { file: 'edge.journal' });
  all = journalEntries(journalDir);
  agent = await startAgent(
    { host: '127.0.0.1', port: 0, tokensFile, journalDir, limitDefault: 50, limitMax: 100_000 },
    testLog(),
  );
});

afterAll(async () => {
  await agent?.close();
  await rm(work, { recursive: true, force: true });
});

describe('agent HTTP API', () => {
  it('answers /healthz without a token', async () => {
    const a = await get('/healthz', {});
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body.toString())).toEqual({ status: 'ok' });
  });

  it('refuses a missing or wrong token with 401, a JSON reason and WWW-Authenticate', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of attempts) {
      const a = await get('/logs', headers);
      expect(errorOf(a)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
      expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(a.headers['content-type']).toMatch(/^application\/json/);
    }
  });

  it('takes a rotated token from the file without a restart', async () => {
    await writeFile(tokensFile, `${TOKEN}\nrotated-token-1234567890\n`);
    expect((await get('/logs?limit=1', { authorization: 'Bearer rotated-token-1234567890' })).status).toBe(
      200,
    );
    await writeFile(tokensFile, `rotated-token-1234567890\n`);
    expect((await get('/logs?limit=1')).status).toBe(401);
    await writeFile(tokensFile, `${TOKEN}\n`);
    expect((await get('/logs?limit=1')).status).toBe(200);
  });

  it('streams every entry as NDJSON, exactly as the core reader reads the journal', async () => {
    expect(all.length).toBe(240 + edgeCaseEntries().length);
    const a = await get('/logs?limit=100000');
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(a.headers['x-infralogs-limit']).toBe('100000');
    expect(a.body.toString().endsWith('\n')).toBe(true);
    const got = lines(a.body);
    expect(got).toEqual(all);
    for (const e of got) expect(entrySchema.parse(e)).toEqual(e);
    expect(new Set(got.map((e) => e.bootId)).size).toBe(6);
  });

  it('counts limit in entries from the start, with the configured default', async () => {
    expect(await logs('limit=7')).toEqual(all.slice(0, 7));
    expect(await logs('')).toEqual(all.slice(0, 50));
  });

  it('resumes strictly after a cursor: paging gives every entry once', async () => {
    const paged: Entry[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Entry[] = await logs(`limit=37${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      if (page.length === 0) break;
      paged.push(...page);
      after = page.at(-1)!.cursor;
    }
    expect(paged).toEqual(all);
  });

  it('filters by unit, priority and time like the journal does', async () => {
    expect(await logs('unit=sshd.service&limit=1000')).toEqual(all.filter((e) => e.unit === 'sshd.service'));
    expect(await logs('priority=warning&limit=1000')).toEqual(
      all.filter((e) => e.priority !== null && e.priority <= 4),
    );
    expect(await logs('priority=err..warning&limit=1000')).toEqual(
      all.filter((e) => e.priority === 3 || e.priority === 4),
    );
    const from = all[30]!.realtimeUs;
    const to = all[90]!.realtimeUs;
    const iso = (us: number) =>
      new Date(Math.floor(us / 1000)).toISOString().replace('Z', `${String(us % 1000).padStart(3, '0')}Z`);
    expect(await logs(`since=${iso(from)}&until=${iso(to)}&limit=1000`)).toEqual(
      all.filter((e) => e.realtimeUs >= from && e.realtimeUs <= to),
    );
  });

  it('does not skip the first match after a cursor that the filter excludes (systemd #30288)', async () => {
    const matches = (e: Entry) => e.priority !== null && e.priority <= 4 && e.unit === 'sshd.service';
    const i = all.findIndex((e, k) => !matches(e) && k > 0 && all.slice(k + 1).some(matches));
    expect(i).toBeGreaterThan(0);
    const expected = all.slice(i + 1).filter(matches);
    const got = await logs(
      `after=${encodeURIComponent(all[i]!.cursor)}&priority=4&unit=sshd.service&limit=1000`,
    );
    expect(got[0]).toEqual(expected[0]);
    expect(got).toEqual(expected);
    // And after a cursor the filter does include: that entry itself is not sent again.
    const j = all.findIndex(matches);
    expect(
      await logs(`after=${encodeURIComponent(all[j]!.cursor)}&priority=4&unit=sshd.service&limit=1000`),
    ).toEqual(all.slice(j + 1).filter(matches));
  });

  it('compresses with gzip when asked', async () => {
    const a = await get('/logs?limit=100000', { ...auth, 'accept-encoding': 'br, gzip;q=0.8' });
    expect(a.headers['content-encoding']).toBe('gzip');
    expect(lines(gunzipSync(a.body))).toEqual(all);
    const plain = await get('/logs?limit=3', { ...auth, 'accept-encoding': 'gzip;q=0' });
    expect(plain.headers['content-encoding']).toBeUndefined();
  });

  it('answers bad cursors and bad query values with a JSON 400 and keeps serving', async () => {
    const cases: [string, string][] = [
      ['after=s%3Dnope', 'BAD_CURSOR'],
      ['limit=0', 'BAD_QUERY'],
      ['limit=100001', 'BAD_QUERY'],
      ['since=last%20tuesday', 'BAD_QUERY'],
      ['priority=9', 'BAD_QUERY'],
      ['unit=--all', 'BAD_QUERY'],
      ['follow=1', 'BAD_QUERY'],
    ];
    for (const [query, code] of cases) {
      const a = await get(`/logs?${query}`);
      expect(errorOf(a), query).toEqual({ status: 400, code });
      expect(JSON.parse(a.body.toString()).error.message).toEqual(expect.any(String));
    }
    expect(errorOf(await get('/nowhere'))).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(JSON.stringify(logged)).not.toContain(TOKEN);
    expect(await logs('limit=2')).toEqual(all.slice(0, 2));
  });

  it('answers 503 JOURNAL_UNAVAILABLE while the journal directory is gone, then recovers', async () => {
    const moved = `${journalDir}.away`;
    await rename(journalDir, moved);
    try {
      expect(errorOf(await get('/logs'))).toEqual({ status: 503, code: 'JOURNAL_UNAVAILABLE' });
      expect(errorOf(await get('/healthz', {}))).toEqual({ status: 503, code: 'JOURNAL_UNAVAILABLE' });
    } finally {
      await rename(moved, journalDir);
    }
    expect(await logs('limit=3')).toEqual(all.slice(0, 3));
  });
});

describe('agent streaming on a large journal', () => {
  const ENTRIES = 4000;
  const MESSAGE_BYTES = 16 * 1024;
  let big: RunningAgent;
  let bigDir: string;
  let exportBytes: number;

  beforeAll(async () => {
    const filler = 'log text '.repeat(MESSAGE_BYTES / 9 + 1).slice(0, MESSAGE_BYTES);
    function* entries(): Generator<ExportEntry> {
      for (let i = 0; i < ENTRIES; i++) {
        yield {
          __REALTIME_TIMESTAMP: String(1767225600000000 + i * 1000),
          __MONOTONIC_TIMESTAMP: String(1_000_000 + i * 1000),
          _BOOT_ID: 'b0'.repeat(16),
          MESSAGE: `${i} ${filler}`,
          PRIORITY: '6',
          _HOSTNAME: 'big-host',
        };
      }
    }
    bigDir = await makeJournalDir(writeExport(entries()), join(work, 'big'));
    exportBytes = execFileSync('journalctl', ['-D', bigDir, '--all', '-o', 'export'], {
      maxBuffer: 1 << 30,
    }).length;
    big = await startAgent(
      { host: '127.0.0.1', port: 0, tokensFile, journalDir: bigDir, limitMax: 100_000 },
      testLog(),
    );
  });
  afterAll(() => big?.close());

  /** Opens /logs on the big journal and hands over the response as soon as headers arrive. */
  function open(): Promise<{ res: IncomingMessage; destroy: () => void }> {
    return new Promise((resolve, reject) => {
      const req = request(`${big.url}/logs?limit=100000`, { headers: auth }, (res) => {
        res.pause();
        resolve({ res, destroy: () => req.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Bytes journalctl has written so far (/proc/<pid>/io wchar). */
  const written = (pid: number) => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);

  it('holds journalctl back while the client does not read, and aborts the response when journalctl dies', async () => {
    const { res } = await open();
    let pid = 0;
    await waitFor('journalctl to start', async () => (pid = journalctlChildren()[0] ?? 0) > 0, 10_000, 20);
    // Without backpressure journalctl would write the whole export; with it, it blocks once the pipe
    // and the buffers behind it are full. Blocked = still running and wchar unchanged for a whole
    // second (unblocked, it writes megabytes per second); a slow start with nothing written yet
    // does not count.
    let last = -1;
    let stillSince = 0;
    await waitFor(
      'journalctl to stop writing while the client does not read',
      async () => {
        const now = written(pid);
        if (now !== last) {
          last = now;
          stillSince = Date.now();
          return false;
        }
        return now > 0 && Date.now() - stillSince >= 1000;
      },
      30_000,
      50,
    );
    expect(journalctlChildren()).toContain(pid);
    // Buffered at most a few MiB (pipe, stream and socket buffers) of a ~64 MiB export.
    expect(last).toBeLessThan(exportBytes / 4);

    // journalctl dies mid-stream: the client must see an aborted response, not a clean end.
    process.kill(pid, 'SIGKILL');
    const outcome = await new Promise<{ ended: boolean; lines: number }>((resolve) => {
      let count = 0;
      res.on('data', (c: Buffer) => {
        for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) count++;
      });
      res.on('end', () => resolve({ ended: !res.readableAborted && res.complete, lines: count }));
      res.on('error', () => resolve({ ended: false, lines: count }));
      res.on('close', () => resolve({ ended: res.complete, lines: count }));
      res.resume();
    });
    expect(outcome.ended).toBe(false);
    expect(outcome.lines).toBeLessThan(ENTRIES);
    expect(logged).toContainEqual(
      expect.objectContaining({
        event: 'logs.failed',
        headersSent: true,
        error: expect.objectContaining({ code: 'JOURNAL_FAILED' }),
      }),
    );
    expect((await fetch(`${big.url}/healthz`)).status).toBe(200);
  });

  it('kills journalctl when the client goes away, and when the limit is reached', async () => {
    const { res, destroy } = await open();
    await waitFor('journalctl to start', async () => journalctlChildren().length === 1, 10_000, 20);
    await new Promise((resolve) => {
      res.once('data', resolve);
      res.resume();
    });
    destroy();
    await waitFor('journalctl to be stopped', async () => journalctlChildren().length === 0, 10_000, 20);

    const a = await fetch(`${big.url}/logs?limit=2`, { headers: auth });
    expect((await a.text()).split('\n').filter(Boolean)).toHaveLength(2);
    await waitFor('journalctl to be stopped', async () => journalctlChildren().length === 0, 10_000, 20);
  });

  it('answers 429 with Retry-After beyond AGENT_MAX_STREAMS, and serves again once a stream ends', async () => {
    const capped = await startAgent(
      { host: '127.0.0.1', port: 0, tokensFile, journalDir: bigDir, maxStreams: 1 },
      testLog(),
    );
    try {
      const held = await new Promise<{ res: IncomingMessage; destroy: () => void }>((resolve, reject) => {
        const req = request(`${capped.url}/logs?limit=100000`, { headers: auth }, (res) => {
          res.pause();
          resolve({ res, destroy: () => req.destroy() });
        });
        req.on('error', reject);
        req.end();
      });
      const busy = await fetch(`${capped.url}/logs?limit=1`, { headers: auth });
      expect(busy.status).toBe(429);
      expect(busy.headers.get('retry-after')).toBe('5');
      expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_REQUESTS');
      held.destroy();
      await waitFor(
        'the stream slot to be free',
        async () =>
          (await fetch(`${capped.url}/logs?limit=1`, { headers: auth }).then((r) => r.text()))
            .split('\n')
            .filter(Boolean).length === 1,
        10_000,
        50,
      );
    } finally {
      await capped.close();
    }
  });

  it('streams the whole journal to a client that reads', async () => {
    const a = await fetch(`${big.url}/logs?limit=100000`, { headers: auth });
    const got = (await a.text()).split('\n').filter(Boolean);
    expect(got).toHaveLength(ENTRIES);
    expect((JSON.parse(got.at(-1)!) as Entry).message).toMatch(new RegExp(`^${ENTRIES - 1} log text`));
  });
});
