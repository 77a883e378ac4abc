import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTestCa,
  makeJournalDir,
  syslogToExport,
  type LeafOptions,
  type TestCa,
} from '@infralogs/devkit';
// The real agent, for the mTLS handshake the stand-in does not do.
import { startAgent } from '../../../agent/src/index';
import {
  createLogger,
  getCheckpoint,
  ingestBatch,
  upsertHost,
  type Database,
  type Entry,
  type IngestResult,
} from '@infralogs/core';
import { entries, freshStore } from '@infralogs/devkit/fixtures';
import { openPage } from '../src/agent-client';
import { entryTexts, type Batch } from '../src/batches';
import { createFetchHost } from '../src/fetch-host';
import { startStandInAgent, type StandInAgent } from './stand-in-agent';

const TOKEN = 'agent-token-web-1';
const JOURNAL = entries(1, 100);

let store: Awaited<ReturnType<typeof freshStore>>;
let agent: StandInAgent;
let ingested: Batch[];
/** Each test pulls into a host of its own, so checkpoints and rows never carry over. */
let host: string;
let hostCount = 0;

beforeAll(async () => {
  store = await freshStore();
  agent = await startStandInAgent(JOURNAL, TOKEN);
});
afterAll(async () => {
  await agent?.close();
  await store?.drop();
});

beforeEach(async () => {
  host = `web-${++hostCount}`;
  await upsertHost(store.pool, { name: host, agentUrl: agent.url, enabled: true, insecure: true });
  agent.requests.length = 0;
  agent.faults = { statuses: [] };
  ingested = [];
  logged = [];
});
afterEach(() => {
  agent.faults = { statuses: [] };
});

/** Every log line of the fetchers made since the test began, parsed. */
let logged: Record<string, unknown>[];

function fetcher(
  over: {
    ingest?: (batch: Batch) => Promise<IngestResult>;
    token?: string;
    ca?: string;
    clientCert?: { cert: string; key: string };
    maxDurationMs?: number;
    maxEntryBytes?: number;
    shutdown?: AbortSignal;
  } = {},
) {
  const database: Database = { role: 'writer', getPool: () => store.pool, close: async () => {} };
  return createFetchHost({
    getDatabase: async () => database,
    readAgentToken: async () => over.token ?? TOKEN,
    agentTls: async () => ({ ca: over.ca ?? null, clientCert: over.clientCert ?? null }),
    openPage: (request) => openPage(request, { connectMs: 2000, responseMs: 5000, idleMs: 5000 }),
    ingest:
      over.ingest ??
      (async (batch) => {
        ingested.push({ ...batch, body: Buffer.from(batch.body) }); // a copy: the buffer is filled again once stored
        return ingestBatch(store.pool, received(batch));
      }),
    pageLimit: 40,
    batchLimits: { maxBytes: 8000, maxEntries: 15, maxEntryBytes: over.maxEntryBytes ?? 100_000 },
    retry: { retries: 2, baseMs: 5, maxMs: 20 },
    ...(over.maxDurationMs === undefined ? {} : { maxDurationMs: over.maxDurationMs }),
    ...(over.shutdown ? { shutdown: over.shutdown } : {}),
    log: createLogger({}, { write: (line) => logged.push(JSON.parse(line) as Record<string, unknown>) }),
  });
}

/** The batch as ingest receives it: its body, parsed. */
const received = (batch: Batch) => JSON.parse(batch.body.toString()) as { host: string; entries: Entry[] };

const storedSeqnums = async () => {
  const [rows] = await store.pool.query(
    'SELECT l.seqnum FROM logs l JOIN hosts h ON h.id = l.host_id WHERE h.name = ? ORDER BY l.seqnum',
    [host],
  );
  return (rows as { seqnum: number }[]).map((r) => Number(r.seqnum));
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('fetchHost', () => {
  it('hands back on SIGTERM after the batch it is writing; the next call goes on from the checkpoint', async () => {
    const draining = new AbortController();
    const first = await fetcher({
      ingest: async (batch) => {
        ingested.push({ ...batch, body: Buffer.from(batch.body) }); // a copy: the buffer is filled again once stored
        const result = await ingestBatch(store.pool, received(batch));
        // The drain begins while the second batch is being written.
        if (ingested.length === 2) draining.abort();
        return result;
      },
      shutdown: draining.signal,
    })(host);
    expect(first.more).toBe(true);
    expect(first.error).toBeNull();
    expect(first.inserted).toBeGreaterThanOrEqual(30);
    expect(first.inserted).toBeLessThan(JOURNAL.length);
    expect(await getCheckpoint(store.pool, host)).toBe(first.checkpoint);
    const rest = await fetcher()(host);
    expect([rest.inserted, rest.duplicates]).toEqual([JOURNAL.length - first.inserted, 0]);
    expect(await storedSeqnums()).toEqual(range(1, JOURNAL.length));
  });

  it('pulls every page from the checkpoint on, in batches, then has nothing more to do', async () => {
    const result = await fetcher()(host);
    expect(result).toEqual({
      host,
      fetched: 100,
      inserted: 100,
      duplicates: 0,
      batches: ingested.length,
      checkpoint: JOURNAL[99]!.cursor,
      error: null,
    });
    // Pages of 40: 40 + 40 + 20, each resuming after the last entry of the one before.
    expect(agent.requests).toEqual([null, JOURNAL[39]!.cursor, JOURNAL[79]!.cursor]);
    for (const batch of ingested) {
      expect(batch.starts.length).toBeLessThanOrEqual(15);
      expect(batch.body.length).toBeLessThanOrEqual(8000);
    }
    expect(await storedSeqnums()).toEqual(range(1, 100));
    expect(await getCheckpoint(store.pool, host)).toBe(JOURNAL[99]!.cursor);

    const again = await fetcher()(host);
    expect(again).toMatchObject({
      fetched: 0,
      inserted: 0,
      duplicates: 0,
      batches: 0,
      checkpoint: JOURNAL[99]!.cursor,
    });
    expect(again.error).toBeNull();
    expect(agent.requests.at(-1)).toBe(JOURNAL[99]!.cursor);
  });

  it('stops after a full page once its time budget is spent, and the next call goes on', async () => {
    const first = await fetcher({ maxDurationMs: 0 })(host);
    expect(first).toMatchObject({ fetched: 40, inserted: 40, more: true, checkpoint: JOURNAL[39]!.cursor });
    expect(first.error).toBeNull();
    expect(await storedSeqnums()).toEqual(range(1, 40));
    const rest = await fetcher()(host);
    expect(rest).toMatchObject({ fetched: 60, inserted: 60, checkpoint: JOURNAL[99]!.cursor });
    expect(rest.more).toBeUndefined();
    expect(await storedSeqnums()).toEqual(range(1, 100));
  });

  it('retries a page the agent could not serve yet', async () => {
    agent.faults.statuses = [503, 502];
    const result = await fetcher()(host);
    expect(result.error).toBeNull();
    expect(result.inserted).toBe(100);
    expect(agent.requests.slice(0, 3)).toEqual([null, null, null]);
  });

  it('keeps what was ingested when the stream breaks and resumes after the checkpoint', async () => {
    agent.faults.cutAfterLines = 25;
    const result = await fetcher()(host);
    expect(result.error).toBeNull();
    expect(result).toMatchObject({ fetched: 100, inserted: 100, duplicates: 0 });
    // The broken first page delivered 25 entries; the next page starts right after the 25th.
    expect(agent.requests.slice(0, 2)).toEqual([null, JOURNAL[24]!.cursor]);
    expect(await storedSeqnums()).toEqual(range(1, 100));
  });

  // Batches of 15 in pages of 40: the bad line inside a batch, last in one, first in a page, first of all.
  it.each([52, 54, 40, 0])(
    'stops at a bad line after %i entries, keeping every entry before it',
    async (good) => {
      agent.faults.badLineAt = good;
      const result = await fetcher()(host);
      expect(result.error).toMatchObject({ code: 'UPSTREAM_FAILED' });
      expect(result.error!.message).toBe(
        `agent sent an invalid entry (line ${good + 1} of this call: bootId: Invalid input: expected string, received undefined)`,
      );
      const checkpoint = good === 0 ? null : JOURNAL[good - 1]!.cursor;
      expect(result).toMatchObject({ fetched: good, inserted: good, checkpoint });
      expect(await storedSeqnums()).toEqual(range(1, good));
      expect(await getCheckpoint(store.pool, host)).toBe(checkpoint);
    },
  );

  it('refuses a line that would name another host in the batch, and stores nothing for that host', async () => {
    const victim = `${host}-victim`;
    await upsertHost(store.pool, { name: victim, agentUrl: agent.url, enabled: true, insecure: true });
    agent.faults.badLineAt = 52;
    agent.faults.badLine = `${JSON.stringify(JOURNAL[52])}],"host":"${victim}","entries":[${JSON.stringify(JOURNAL[53])}`;
    const result = await fetcher()(host);
    expect(result.error).toEqual({
      code: 'UPSTREAM_FAILED',
      message: 'agent sent an invalid entry (line 53 of this call: not one JSON object)',
    });
    expect(result).toMatchObject({ fetched: 52, inserted: 52 });
    expect(await storedSeqnums()).toEqual(range(1, 52));
    const [rows] = await store.pool.query(
      'SELECT COUNT(*) AS n FROM logs l JOIN hosts h ON h.id = l.host_id WHERE h.name = ?',
      [victim],
    );
    expect((rows as { n: number }[])[0]!.n).toBe(0);
    expect(await getCheckpoint(store.pool, victim)).toBeNull();
  });

  it('does not retry a refused token', async () => {
    const result = await fetcher({ token: 'wrong' })(host);
    expect(result).toMatchObject({
      fetched: 0,
      inserted: 0,
      checkpoint: null,
      error: { code: 'UPSTREAM_FAILED' },
    });
    expect(result.error!.message).toContain('401');
    expect(agent.requests).toEqual([]);
  });

  it('sends nothing after a batch ingest refused, so the checkpoint never skips entries', async () => {
    let calls = 0;
    const result = await fetcher({
      ingest: async (batch) => {
        calls += 1;
        if (calls === 2) throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
        return ingestBatch(store.pool, received(batch));
      },
    })(host);
    expect(calls).toBe(2);
    expect(result.error).toEqual({ code: 'UPSTREAM_FAILED', message: 'connection failed: ECONNREFUSED' });
    expect(result.inserted).toBe(15);
    expect(await storedSeqnums()).toEqual(range(1, 15));
    expect(await getCheckpoint(store.pool, host)).toBe(JOURNAL[14]!.cursor);
  });

  it('stores an entry over the batch size alone and one over the entry limit truncated, and goes on', async () => {
    // 2 MB of text (stored whole, in a batch of its own) and 1.5 MiB of invalid UTF-8 (base64 +
    // lossy text: 6.5 MB of JSON, over the 3 MB entry limit of this test: stored truncated).
    const big = `${'größer '.repeat(250_000)}`.slice(0, 2_000_000);
    const raw = Buffer.from(Array.from({ length: 1_572_864 }, (_, i) => 0x80 + (i % 128)));
    const journal = entries(1, 10).map((e) =>
      e.seqnum === 4
        ? { ...e, message: big }
        : e.seqnum === 7
          ? { ...e, message: raw.toString('utf8'), messageRaw: raw.toString('base64') }
          : e,
    );
    const large = await startStandInAgent(journal, TOKEN);
    try {
      await upsertHost(store.pool, { name: host, agentUrl: large.url, enabled: true, insecure: true });
      const result = await fetcher({ maxEntryBytes: 3_000_000 })(host);
      expect(result.error).toBeNull();
      expect(result).toMatchObject({ fetched: 10, inserted: 10, checkpoint: journal[9]!.cursor });
      expect(await storedSeqnums()).toEqual(range(1, 10));
      expect(await getCheckpoint(store.pool, host)).toBe(journal[9]!.cursor);
      // Each large entry went alone; the small ones around them were batched as usual.
      expect(ingested.map((b) => entryTexts(b).map((j) => (JSON.parse(j) as Entry).seqnum))).toEqual([
        [1, 2, 3],
        [4],
        [5, 6],
        [7],
        [8, 9, 10],
      ]);

      const [rows] = await store.pool.query(
        `SELECT l.seqnum, COALESCE(l.message_raw, CAST(l.message AS BINARY)) AS bytes, l.message_raw IS NULL AS text
           FROM logs l JOIN hosts h ON h.id = l.host_id WHERE h.name = ? AND l.seqnum IN (4, 7) ORDER BY l.seqnum`,
        [host],
      );
      const [whole, truncated] = rows as { seqnum: number; bytes: Buffer; text: number }[];
      expect(whole!.bytes.equals(Buffer.from(big))).toBe(true);
      expect(Number(whole!.text)).toBe(1);
      const marker = Buffer.from(` [truncated by infralogs: MESSAGE was ${raw.length} bytes]`);
      const kept = truncated!.bytes.subarray(0, truncated!.bytes.length - marker.length);
      expect(truncated!.bytes.subarray(-marker.length).equals(marker)).toBe(true);
      expect(kept.length).toBeGreaterThan(100_000);
      expect(kept.equals(raw.subarray(0, kept.length))).toBe(true);
      expect(Number(truncated!.text)).toBe(0);

      const warnings = logged.filter((l) => l.event === 'fetch_host.entry_truncated');
      expect(warnings).toEqual([
        expect.objectContaining({
          level: 'warn',
          host,
          cursor: journal[6]!.cursor,
          messageBytes: raw.length,
          keptBytes: kept.length,
        }),
      ]);
      // Sizes and the cursor, never the message itself.
      expect(JSON.stringify(warnings[0]).length).toBeLessThan(1000);

      // Nothing blocks: the next call starts after the last entry.
      const again = await fetcher({ maxEntryBytes: 3_000_000 })(host);
      expect(again).toMatchObject({ fetched: 0, inserted: 0, checkpoint: journal[9]!.cursor });
      expect(large.requests.at(-1)).toBe(journal[9]!.cursor);
    } finally {
      await large.close();
    }
  });

  it('refuses an unknown host', async () => {
    await expect(fetcher()('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('fetch-host over TLS', () => {
  let work: string;
  let ca: TestCa;
  const agents: StandInAgent[] = [];
  /** A stand-in agent serving HTTPS with a leaf of `issuer` (default: the trusted CA). */
  const tlsAgent = async (name: string, options: LeafOptions = {}, issuer?: TestCa) => {
    const leaf = await (issuer ?? ca).issue(name, { altNames: ['IP:127.0.0.1'], ...options });
    const a = await startStandInAgent(JOURNAL, TOKEN, {
      cert: leaf.certPem,
      key: await readFile(leaf.keyFile, 'utf8'),
    });
    agents.push(a);
    return a;
  };
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'infralogs-fetch-tls-'));
    ca = await createTestCa(join(work, 'ca'));
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await rm(work, { recursive: true, force: true });
  });

  it('pulls an https:// agent whose certificate chains to the CA bundle', async () => {
    const a = await tlsAgent('good');
    await upsertHost(store.pool, { name: host, agentUrl: a.url });
    const result = await fetcher({ ca: ca.certPem })(host);
    expect(result.error).toBeNull();
    expect(result).toMatchObject({ fetched: 100, inserted: 100 });
  });

  it('prefers the host’s own CA bundle to the fleet’s', async () => {
    const own = await createTestCa(join(work, 'own-ca'), 'Host CA');
    const a = await tlsAgent('own', {}, own);
    await upsertHost(store.pool, { name: host, agentUrl: a.url, agentCa: own.certPem });
    expect((await fetcher({ ca: ca.certPem })(host)).error).toBeNull();
  });

  it('ends the host with a coded error, without retrying, for each kind of bad certificate', async () => {
    const other = await createTestCa(join(work, 'other-ca'), 'Not trusted');
    const cases: [StandInAgent, string][] = [
      [await tlsAgent('wrong-ca', {}, other), 'AGENT_TLS_UNTRUSTED'],
      [
        await tlsAgent('expired', { startDate: '20200101000000Z', endDate: '20200201000000Z' }),
        'AGENT_TLS_EXPIRED',
      ],
      [
        await tlsAgent('wrong-name', { altNames: ['DNS:elsewhere.example', 'IP:10.9.9.9'] }),
        'AGENT_TLS_NAME_MISMATCH',
      ],
    ];
    for (const [a, code] of cases) {
      const name = `${host}-${code.toLowerCase()}`;
      await upsertHost(store.pool, { name, agentUrl: a.url });
      const result = await fetcher({ ca: ca.certPem })(name);
      expect(result.error?.code, JSON.stringify(result.error)).toBe(code);
      expect(result).toMatchObject({ fetched: 0, inserted: 0 });
      expect(logged.some((l) => l.event === 'fetch_host.page_retry' && l.host === name)).toBe(false);
    }
  });

  it('presents its client certificate to an agent that requires one (mTLS), and says when it is refused', async () => {
    const clients = await createTestCa(join(work, 'clients-ca'), 'fetch-host clients');
    const leaf = await ca.issue('mtls-agent', { altNames: ['IP:127.0.0.1'] });
    const journalDir = await makeJournalDir(
      syslogToExport(['sshd[1]: a', 'sshd[2]: b', 'sshd[3]: c'], { hostname: 'mtls', boots: 1 }),
      join(work, 'mtls-journal'),
    );
    const tokensFile = join(work, 'mtls-tokens');
    await writeFile(tokensFile, `${TOKEN}\n`);
    const real = await startAgent(
      {
        host: '127.0.0.1',
        port: 0,
        tokensFile,
        journalDir,
        tls: { certFile: leaf.certFile, keyFile: leaf.keyFile, clientCaFile: clients.certFile },
      },
      createLogger({}, { level: 'error' }),
    );
    try {
      await upsertHost(store.pool, { name: host, agentUrl: real.url });
      const client = await clients.issue('fetch-host', { usage: 'client', altNames: ['DNS:fetch-host'] });
      const clientCert = { cert: client.certPem, key: await readFile(client.keyFile, 'utf8') };
      expect(await fetcher({ ca: ca.certPem, clientCert })(host)).toMatchObject({ fetched: 3, inserted: 3 });
      const refused = await fetcher({ ca: ca.certPem })(`${host}`);
      expect(refused.error?.code, JSON.stringify(refused.error)).toBe('AGENT_TLS_CLIENT_REFUSED');
    } finally {
      await real.close();
    }
  });

  it('refuses a plain http:// agent unless the host is marked insecure', async () => {
    await upsertHost(store.pool, { name: host, agentUrl: agent.url });
    const refused = await fetcher()(host);
    expect(refused.error?.code).toBe('AGENT_INSECURE');
    expect(agent.requests).toEqual([]);
    await upsertHost(store.pool, { name: host, agentUrl: agent.url, insecure: true });
    expect((await fetcher()(host)).error).toBeNull();
  });
});
