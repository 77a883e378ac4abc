import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createLogger,
  getCheckpoint,
  ingestBatch,
  upsertHost,
  type Database,
  type IngestResult,
} from '@infralogs/core';
import { entries, freshStore } from '../../../packages/core/test/store/fixtures';
import { openPage } from '../src/agent-client';
import type { Batch } from '../src/batches';
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
  await upsertHost(store.pool, { name: host, agentUrl: agent.url, enabled: true });
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
    maxDurationMs?: number;
    maxEntryBytes?: number;
    shutdown?: AbortSignal;
  } = {},
) {
  const database: Database = { role: 'writer', getPool: () => store.pool, close: async () => {} };
  return createFetchHost({
    getDatabase: async () => database,
    readAgentToken: async () => over.token ?? TOKEN,
    openPage: (request) => openPage(request, { connectMs: 2000, responseMs: 5000, idleMs: 5000 }),
    ingest:
      over.ingest ??
      (async (batch) => {
        ingested.push(batch);
        return ingestBatch(store.pool, batch);
      }),
    pageLimit: 40,
    batchLimits: { maxBytes: 6000, maxEntries: 15, maxEntryBytes: over.maxEntryBytes ?? 100_000 },
    retry: { retries: 2, baseMs: 5, maxMs: 20 },
    ...(over.maxDurationMs === undefined ? {} : { maxDurationMs: over.maxDurationMs }),
    ...(over.shutdown ? { shutdown: over.shutdown } : {}),
    log: createLogger({}, { write: (line) => logged.push(JSON.parse(line) as Record<string, unknown>) }),
  });
}

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
        ingested.push(batch);
        const result = await ingestBatch(store.pool, batch);
        // The drain begins while the second batch is being written.
        if (ingested.length === 2) draining.abort();
        return result;
      },
      shutdown: draining.signal,
    })(host);
    expect(first.more).toBe(true);
    expect(first.error).toBeUndefined();
    expect(first.inserted).toBeGreaterThanOrEqual(30);
    expect(first.inserted).toBeLessThan(JOURNAL.length);
    expect(await getCheckpoint(store.pool, host)).toBe(first.cursor);
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
      cursor: JOURNAL[99]!.cursor,
    });
    // Pages of 40: 40 + 40 + 20, each resuming after the last entry of the one before.
    expect(agent.requests).toEqual([null, JOURNAL[39]!.cursor, JOURNAL[79]!.cursor]);
    for (const batch of ingested) {
      expect(batch.entries.length).toBeLessThanOrEqual(15);
      expect(batch.bytes).toBeLessThanOrEqual(6000);
    }
    expect(await storedSeqnums()).toEqual(range(1, 100));
    expect(await getCheckpoint(store.pool, host)).toBe(JOURNAL[99]!.cursor);

    const again = await fetcher()(host);
    expect(again).toMatchObject({
      fetched: 0,
      inserted: 0,
      duplicates: 0,
      batches: 0,
      cursor: JOURNAL[99]!.cursor,
    });
    expect(again.error).toBeUndefined();
    expect(agent.requests.at(-1)).toBe(JOURNAL[99]!.cursor);
  });

  it('stops after a full page once its time budget is spent, and the next call goes on', async () => {
    const first = await fetcher({ maxDurationMs: 0 })(host);
    expect(first).toMatchObject({ fetched: 40, inserted: 40, more: true, cursor: JOURNAL[39]!.cursor });
    expect(first.error).toBeUndefined();
    expect(await storedSeqnums()).toEqual(range(1, 40));
    const rest = await fetcher()(host);
    expect(rest).toMatchObject({ fetched: 60, inserted: 60, cursor: JOURNAL[99]!.cursor });
    expect(rest.more).toBeUndefined();
    expect(await storedSeqnums()).toEqual(range(1, 100));
  });

  it('retries a page the agent could not serve yet', async () => {
    agent.faults.statuses = [503, 502];
    const result = await fetcher()(host);
    expect(result.error).toBeUndefined();
    expect(result.inserted).toBe(100);
    expect(agent.requests.slice(0, 3)).toEqual([null, null, null]);
  });

  it('keeps what was ingested when the stream breaks and resumes after the checkpoint', async () => {
    agent.faults.cutAfterLines = 25;
    const result = await fetcher()(host);
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ fetched: 100, inserted: 100, duplicates: 0 });
    // The broken first page delivered 25 entries; the next page starts right after the 25th.
    expect(agent.requests.slice(0, 2)).toEqual([null, JOURNAL[24]!.cursor]);
    expect(await storedSeqnums()).toEqual(range(1, 100));
  });

  it('stops at a bad line, keeping every entry before it', async () => {
    agent.faults.badLineAt = 52;
    const result = await fetcher()(host);
    expect(result.error).toMatchObject({ code: 'UPSTREAM_FAILED' });
    expect(result.error!.message).toMatch(/invalid entry/);
    expect(result).toMatchObject({ fetched: 52, inserted: 52, cursor: JOURNAL[51]!.cursor });
    expect(await storedSeqnums()).toEqual(range(1, 52));
    expect(await getCheckpoint(store.pool, host)).toBe(JOURNAL[51]!.cursor);
  });

  it('does not retry a refused token', async () => {
    const result = await fetcher({ token: 'wrong' })(host);
    expect(result).toMatchObject({
      fetched: 0,
      inserted: 0,
      cursor: null,
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
        return ingestBatch(store.pool, batch);
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
      await upsertHost(store.pool, { name: host, agentUrl: large.url, enabled: true });
      const result = await fetcher({ maxEntryBytes: 3_000_000 })(host);
      expect(result.error).toBeUndefined();
      expect(result).toMatchObject({ fetched: 10, inserted: 10, cursor: journal[9]!.cursor });
      expect(await storedSeqnums()).toEqual(range(1, 10));
      expect(await getCheckpoint(store.pool, host)).toBe(journal[9]!.cursor);
      // Each large entry went alone; the small ones around them were batched as usual.
      expect(ingested.map((b) => b.entries.map((e) => e.seqnum))).toEqual([
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
      expect(again).toMatchObject({ fetched: 0, inserted: 0, cursor: journal[9]!.cursor });
      expect(large.requests.at(-1)).toBe(journal[9]!.cursor);
    } finally {
      await large.close();
    }
  });

  it('refuses an unknown host', async () => {
    await expect(fetcher()('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
