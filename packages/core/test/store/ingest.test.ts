import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, waitForReplica } from '@infralogs/devkit';
import { messageBytes, type Entry } from '../../src/entry';
import type { Pool } from 'mysql2/promise';
import type { IngestBatch } from '../../src/store/batch';
import { getCheckpoint, ingestBatch as ingest, type IngestOptions } from '../../src/store/ingest';
import { upsertHost } from '../../src/store/hosts';
import { createStorePool } from '../../src/store/sql';
import { BOOT_ID, entries, entry, freshStore } from '@infralogs/devkit/fixtures';

type Store = Awaited<ReturnType<typeof freshStore>>;
let store: Store;

async function count(host: string, which: 'primary' | 'replica' = 'primary') {
  const c = await store.admin(which);
  const [rows] = await c.query(
    'SELECT COUNT(*) AS n FROM logs JOIN hosts h ON h.id = logs.host_id WHERE h.name = ?',
    [host],
  );
  await c.end();
  return Number((rows as { n: number }[])[0]!.n);
}

async function rollup(host: string) {
  const c = await store.admin();
  const [rows] = await c.query(
    'SELECT COALESCE(SUM(n), 0) AS n FROM log_counts_hourly JOIN hosts h ON h.id = host_id WHERE h.name = ?',
    [host],
  );
  await c.end();
  return Number((rows as { n: number }[])[0]!.n);
}

describe.each(['load', 'insert'] as const)('ingestBatch writing with %s', (bulk) => {
  const ingestBatch = (pool: Pool, batch: IngestBatch, options: IngestOptions = {}) =>
    ingest(pool, batch, { bulk, ...options });
  beforeAll(async () => {
    store = await freshStore();
    for (const name of ['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6', 'web-7'])
      await upsertHost(store.pool, { name, agentUrl: `http://127.0.0.1:9/${name}` });
  });
  afterAll(async () => store?.drop());

  it('writes a batch on the primary, moves the checkpoint, and the replica receives the rows', async () => {
    const batch = entries(1, 500);
    const r = await ingestBatch(store.pool, { host: 'web-1', entries: batch });
    expect(r).toEqual({
      host: 'web-1',
      received: 500,
      inserted: 500,
      duplicates: 0,
      checkpoint: batch[499]!.cursor,
      gaps: 0,
    });
    expect(await getCheckpoint(store.pool, 'web-1')).toBe(batch[499]!.cursor);
    expect(await rollup('web-1')).toBe(500);
    await waitForReplica(store.infra);
    expect(await count('web-1', 'replica')).toBe(500);
    const c = await store.admin('replica');
    const [rows] = await c.query(
      `SELECT ts, LOWER(HEX(boot_id)) AS boot, seqnum, priority, unit, \`cursor\` AS cur, message
         FROM logs WHERE seqnum = 7`,
    );
    await c.end();
    expect(rows).toEqual([
      {
        ts: '2026-11-30 12:00:00.007000',
        boot: BOOT_ID,
        seqnum: 7,
        priority: 6,
        unit: 'ssh.service',
        cur: batch[6]!.cursor,
        message: 'message 7',
      },
    ]);
  });

  it('inserts nothing twice when a batch is replayed or overlaps, and keeps rollups exact', async () => {
    const first = await ingestBatch(store.pool, { host: 'web-2', entries: entries(1, 100) });
    expect(first.inserted).toBe(100);
    const replay = await ingestBatch(store.pool, { host: 'web-2', entries: entries(1, 100) });
    expect(replay).toMatchObject({ received: 100, inserted: 0, duplicates: 100, gaps: 0 });
    const overlap = await ingestBatch(store.pool, { host: 'web-2', entries: entries(51, 150) });
    expect(overlap).toMatchObject({ inserted: 50, duplicates: 50 });
    const repeated = [entry(151), entry(151), entry(152)];
    expect(await ingestBatch(store.pool, { host: 'web-2', entries: repeated })).toMatchObject({
      inserted: 2,
      duplicates: 1,
    });
    expect(await count('web-2')).toBe(152);
    expect(await rollup('web-2')).toBe(152);
  });

  it('serialises concurrent overlapping batches of one host without duplicates or errors', async () => {
    const results = await Promise.all([
      ingestBatch(store.pool, { host: 'web-3', entries: entries(100, 300) }),
      ingestBatch(store.pool, { host: 'web-3', entries: entries(200, 400) }),
      ingestBatch(store.pool, { host: 'web-3', entries: entries(100, 400) }),
    ]);
    expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(301);
    expect(await count('web-3')).toBe(301);
    expect(await rollup('web-3')).toBe(301);
  });

  it('finds stored rows even when a batch looks wholly new (checkpoint behind the rows), and hosts without a checkpoint row', async () => {
    await ingestBatch(store.pool, { host: 'web-7', entries: entries(1001, 1020) });
    const c = await store.admin();
    await c.query(
      `UPDATE checkpoints JOIN hosts h ON h.id = host_id SET \`cursor\` = ?, seqnum = 1010 WHERE h.name = 'web-7'`,
      [entry(1010).cursor],
    );
    const r = await ingestBatch(store.pool, { host: 'web-7', entries: entries(1011, 1025) });
    expect(r).toMatchObject({ inserted: 5, duplicates: 10, checkpoint: entry(1025).cursor, gaps: 0 });
    await c.query(
      `DELETE checkpoints FROM checkpoints JOIN hosts h ON h.id = host_id WHERE h.name = 'web-7'`,
    );
    await c.end();
    expect(await ingestBatch(store.pool, { host: 'web-7', entries: entries(1026, 1030) })).toMatchObject({
      inserted: 5,
      checkpoint: entry(1030).cursor,
    });
    expect(await getCheckpoint(store.pool, 'web-7')).toBe(entry(1030).cursor);
  });

  it('ingests the first batches of several hosts at once without deadlocking', async () => {
    const hosts = ['c-1', 'c-2', 'c-3', 'c-4'];
    for (const name of hosts) await upsertHost(store.pool, { name, agentUrl: 'http://127.0.0.1:9/' });
    const results = await Promise.all(
      hosts.map((host) => ingestBatch(store.pool, { host, entries: entries(1, 50) })),
    );
    expect(results.map((r) => r.inserted)).toEqual([50, 50, 50, 50]);
    for (const host of hosts) expect(await getCheckpoint(store.pool, host)).toBe(entry(50).cursor);
  });

  it('does not move the checkpoint back when an older batch of the same journal is replayed', async () => {
    await ingestBatch(store.pool, { host: 'web-3', entries: entries(401, 420) });
    const r = await ingestBatch(store.pool, { host: 'web-3', entries: entries(401, 410) });
    expect(r.checkpoint).toBe(entry(420).cursor);
    expect(await getCheckpoint(store.pool, 'web-3')).toBe(entry(420).cursor);
  });

  it('leaves neither rows, rollups nor a moved checkpoint when the batch fails midway', async () => {
    await ingestBatch(store.pool, { host: 'web-4', entries: entries(1, 10) });
    const c = await store.admin();
    // A real server-side failure in the third multi-row INSERT of the transaction.
    await c.query(`CREATE TRIGGER fail_on_boom BEFORE INSERT ON logs FOR EACH ROW
      BEGIN IF NEW.message = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF; END`);
    try {
      const batch = entries(11, 40);
      batch[25] = entry(36, { message: 'boom' });
      await expect(
        ingestBatch(store.pool, { host: 'web-4', entries: batch }, { maxChunkRows: 10 }),
      ).rejects.toMatchObject({ code: 'DATABASE_FAILED' });
    } finally {
      await c.query('DROP TRIGGER fail_on_boom');
      await c.end();
    }
    expect(await count('web-4')).toBe(10);
    expect(await rollup('web-4')).toBe(10);
    expect(await getCheckpoint(store.pool, 'web-4')).toBe(entry(10).cursor);
  });

  // The failure comes after every row of the batch was written (in load mode by one finished LOAD
  // DATA): a trigger on a later statement of the transaction counts them and refuses.
  it.each([
    ['the rollup insert', 'BEFORE INSERT ON log_counts_hourly', 'web-8'],
    ['the checkpoint update', 'BEFORE UPDATE ON checkpoints', 'web-9'],
  ])('rolls the written rows back when %s fails, and the same batch then commits', async (_, on, host) => {
    await upsertHost(store.pool, { name: host, agentUrl: 'http://127.0.0.1:9/' });
    await ingestBatch(store.pool, { host, entries: entries(1, 10) });
    const c = await store.admin();
    await c.query(`CREATE TRIGGER fail_late ${on} FOR EACH ROW
      BEGIN
        DECLARE msg VARCHAR(128);
        SET msg = CONCAT('boom after ', (SELECT COUNT(*) FROM logs WHERE host_id = NEW.host_id), ' rows');
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg;
      END`);
    const batch = { host, entries: entries(11, 40) };
    try {
      await expect(ingestBatch(store.pool, batch)).rejects.toMatchObject({
        code: 'DATABASE_FAILED',
        cause: expect.objectContaining({ sqlMessage: 'boom after 40 rows' }),
      });
    } finally {
      await c.query('DROP TRIGGER fail_late');
      await c.end();
    }
    expect(await count(host)).toBe(10);
    expect(await rollup(host)).toBe(10);
    expect(await getCheckpoint(store.pool, host)).toBe(entry(10).cursor);

    expect(await ingestBatch(store.pool, batch)).toMatchObject({ inserted: 30, duplicates: 0 });
    expect(await count(host)).toBe(40);
    expect(await rollup(host)).toBe(40);
    expect(await getCheckpoint(store.pool, host)).toBe(entry(40).cursor);
  });

  it('round-trips invalid UTF-8 and 1 MiB messages byte for byte, on the replica too', async () => {
    const raw = Buffer.from([0x66, 0xff, 0x6f, 0x0d, 0x00, 0xc3, 0x28, 0x0a]);
    const big = 'ä'.repeat(512 * 1024) + '\u{1F600}\n\u0000end';
    const bigRaw = Buffer.concat([Buffer.alloc(1024 * 1024, 0x41), Buffer.from([0xfe, 0xfe])]);
    const batch: Entry[] = [
      entry(1, { message: raw.toString('utf8'), messageRaw: raw.toString('base64') }),
      entry(2, { message: big }),
      entry(3, { message: bigRaw.toString('utf8'), messageRaw: bigRaw.toString('base64') }),
      entry(4, { message: null, priority: null, unit: null, pid: null }),
    ];
    expect(Buffer.byteLength(big)).toBeGreaterThan(1024 * 1024);
    await ingestBatch(store.pool, { host: 'web-5', entries: batch });
    await waitForReplica(store.infra);
    for (const which of ['primary', 'replica'] as const) {
      const c = await store.admin(which);
      const [rows] = await c.query({
        sql: `SELECT seqnum, message, message_raw FROM logs JOIN hosts h ON h.id = host_id
               WHERE h.name = 'web-5' ORDER BY seqnum`,
        typeCast: (field, next) => (field.name === 'message' ? field.buffer() : next()),
      });
      await c.end();
      const got = rows as { seqnum: number; message: Buffer | null; message_raw: Buffer | null }[];
      expect(got).toHaveLength(4);
      for (const [i, e] of batch.entries()) {
        const stored = got[i]!.message_raw ?? got[i]!.message;
        const want = messageBytes(e);
        // Buffer.equals: vitest's deep equality walks 1 MiB byte by byte.
        expect(stored === null || want === null ? stored === want : want.equals(stored)).toBe(true);
      }
      expect(got[1]!.message_raw).toBeNull();
    }
  });

  it('records seqnum jumps as gaps, within a batch and from the checkpoint, but not replays or new seqnum ids', async () => {
    const other = 'aa'.repeat(16);
    const batch1 = [...entries(1, 5), ...entries(9, 10)];
    expect(await ingestBatch(store.pool, { host: 'web-6', entries: batch1 })).toMatchObject({ gaps: 1 });
    const batch2 = [entry(14), entry(1, { seqnumId: other }), entry(2, { seqnumId: other })];
    expect(await ingestBatch(store.pool, { host: 'web-6', entries: batch2 })).toMatchObject({ gaps: 1 });
    // Replaying the first batch neither re-records its gap nor treats it as new.
    expect(await ingestBatch(store.pool, { host: 'web-6', entries: batch1 })).toMatchObject({ gaps: 0 });
    const c = await store.admin();
    const [rows] = await c.query(
      `SELECT LOWER(HEX(seqnum_id)) AS sid, after_seqnum AS a, before_seqnum AS b, missing, before_ts AS ts
         FROM gaps ORDER BY after_seqnum`,
    );
    await c.end();
    expect(rows).toEqual([
      { sid: entry(1).seqnumId, a: 5, b: 9, missing: 3, ts: '2026-11-30 12:00:00.009000' },
      { sid: entry(1).seqnumId, a: 10, b: 14, missing: 3, ts: '2026-11-30 12:00:00.014000' },
    ]);
  });

  it('answers an empty batch with the current checkpoint and refuses unknown hosts and bad batches', async () => {
    expect(await ingestBatch(store.pool, { host: 'web-1', entries: [] })).toMatchObject({
      received: 0,
      checkpoint: entry(500).cursor,
    });
    await expect(ingestBatch(store.pool, { host: 'nope', entries: entries(1, 2) })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const bad = { host: 'web-1', entries: [entry(501), { ...entry(502), priority: 9 }] };
    await expect(ingestBatch(store.pool, bad)).rejects.toMatchObject({
      code: 'BAD_BATCH',
      details: { index: 1 },
    });
    expect(await count('web-1')).toBe(500);
  });
});

describe('ingestBatch with bulk auto', () => {
  it('falls back to multi-row INSERTs when LOCAL INFILE is refused', async () => {
    const s = await freshStore();
    // A client that does not offer LOCAL INFILE makes the server refuse it, as a MySQL 8 with local_infile=OFF does.
    const pool = createStorePool({
      host: s.infra.mysql.primary.host,
      port: s.infra.mysql.primary.port,
      user: s.infra.mysql.admin.user,
      password: s.infra.mysql.admin.password,
      database: s.name,
      flags: ['-LOCAL_FILES'],
    });
    try {
      await upsertHost(pool, { name: 'h', agentUrl: 'http://127.0.0.1:9/' });
      await expect(
        ingest(pool, { host: 'h', entries: entries(1, 3) }, { bulk: 'load' }),
      ).rejects.toMatchObject({
        code: 'DATABASE_FAILED',
      });
      expect(await ingest(pool, { host: 'h', entries: entries(1, 3) })).toMatchObject({ inserted: 3 });
      expect(await ingest(pool, { host: 'h', entries: entries(1, 5) })).toMatchObject({ inserted: 2 });
      // Batches read forward are now prepared as rows for INSERTs, given the host's id once locked.
      expect(await ingest(pool, { host: 'h', entries: entries(6, 8) })).toMatchObject({ inserted: 3 });
      const [[stored]] = (await pool.query(
        "SELECT COUNT(*) AS n FROM logs WHERE host_id = (SELECT id FROM hosts WHERE name = 'h')",
      )) as unknown as [[{ n: number }]];
      expect(Number(stored.n)).toBe(8);
    } finally {
      await pool.end();
      await s.drop();
    }
  });
});

describe('ingestBatch with a pool getter', () => {
  it('asks for the pool again after waiting for the partition lock, so a rotation meanwhile is harmless', async () => {
    const s = await freshStore();
    const open = () =>
      createStorePool({
        host: s.infra.mysql.primary.host,
        port: s.infra.mysql.primary.port,
        user: s.infra.mysql.admin.user,
        password: s.infra.mysql.admin.password,
        database: s.name,
      });
    const [before, after] = [open(), open()];
    let current = before;
    const lock = `infralogs.partitions.${s.name}`.slice(0, 64);
    const holder = await s.admin();
    try {
      await upsertHost(s.pool, { name: 'h', agentUrl: 'http://127.0.0.1:9/' });
      await holder.query('SELECT GET_LOCK(?, 10)', [lock]);
      const pending = ingest(() => current, { host: 'h', entries: entries(1, 20) });
      await waitFor('the batch to wait for the partition lock', async () => {
        const [rows] = await holder.query(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT GET_LOCK%'",
          [s.name],
        );
        return Number((rows as { n: number }[])[0]!.n) === 1;
      });
      // A rotation while the batch waits: new pool in place, the old one closed (as a drain that
      // timed out does), which also ends the waiting partition step.
      current = after;
      const closing = before.end();
      await holder.query('SELECT RELEASE_LOCK(?)', [lock]);
      await closing;
      expect(await pending).toMatchObject({ inserted: 20, checkpoint: entry(20).cursor });
      const [rows] = await holder.query('SELECT COUNT(*) AS n FROM logs');
      expect(Number((rows as { n: number }[])[0]!.n)).toBe(20);
    } finally {
      await holder.end();
      await after.end();
      await s.drop();
    }
  });
});
