import { Readable } from 'node:stream';
import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import type { Entry } from '../entry';
import type { Logger } from '../log';
import { InfralogsError } from '../errors';
import { validateBatch, type IngestBatch } from './batch';
import { detectGaps, type Gap, type Position } from './gaps';
import { ensurePartitionsCover } from './partitions';
import {
  chunkRows,
  formatTs,
  hourGroups,
  hourlyCounts,
  identityKey,
  loadStatement,
  LOGS_COLUMNS,
  rowSqlBytes,
  sqlValues,
  toRow,
  tsvFields,
  type LogRow,
} from './rows';
import { dailyFieldCounts, fieldCounts, newestTs, type FieldCount } from './rollups';
import { dbCode, execute, formatSql, inTransaction, select, storeError, type Queryable } from './sql';

export interface IngestResult {
  host: string;
  /** Entries in the batch. */
  received: number;
  /** Rows actually written (new identities). */
  inserted: number;
  /** Entries already stored, or repeated within the batch. */
  duplicates: number;
  /** The host's checkpoint after the batch committed. */
  checkpoint: string | null;
  /** Source gaps recorded for the first time by this batch. */
  gaps: number;
}

export interface IngestOptions {
  /** Skip entrySchema validation when the caller ran validateBatch already. Default true. */
  validate?: boolean;
  /** Multi-row INSERT size limits; the SQL text of one INSERT stays under maxChunkBytes. */
  maxChunkBytes?: number;
  maxChunkRows?: number;
  /**
   * How rows are written: 'load' streams them from memory with LOAD DATA LOCAL INFILE (needs
   * local_infile=ON on the server), 'insert' uses multi-row INSERTs, 'auto' (default) loads and
   * falls back to INSERTs for good once the server refuses LOCAL INFILE.
   */
  bulk?: 'auto' | 'load' | 'insert';
  /** Gets a warning when day partitions could not be added (the rows then wait in pmax). */
  log?: Logger;
  /** Day partitions are kept this many days ahead of now. */
  partitionDaysAhead?: number;
  now?: Date;
  /** Told of each deadlock or lock wait timeout (its ER_ code) and whether the batch is retried. */
  onRollback?: (code: string, retried: boolean) => void;
}

// Under MariaDB's default max_allowed_packet (16 MiB) with room to spare; measured in the benchmark.
const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
const DEFAULT_CHUNK_ROWS = 2000;
const TS_FORMAT = `'%Y-%m-%d %H:%i:%s.%f'`;
const INSERT_LOGS = `INSERT INTO logs (${LOGS_COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES ?`;
// The servers' refusals of LOCAL INFILE: MySQL 8 (3948), MariaDB (4166), older servers (1148).
const LOCAL_INFILE_REFUSED = new Set([3948, 4166, 1148]);
const loadRefused = new WeakSet<object>();
/**
 * Whether a server refused LOCAL INFILE in this process (MySQL 8's default): batches are then
 * prepared as rows for INSERTs, not as LOAD DATA text that would be thrown away.
 */
let insertsSeen = false;

interface HostState {
  id: number;
  /** The host's checkpoint: the cursor of the last entry committed. */
  checkpoint: string | null;
  seqnumId: string | null;
  seqnum: number | string | null;
  realtimeUs: number | string | null;
}

/**
 * A pool, or a function answering the pool to use now (`() => db.getPool()`). With Vault-leased
 * credentials pass the function: adding partitions may wait up to a minute for their lock, and a
 * rotation meanwhile closes the pool taken before it, so the pool is asked for again right before
 * each step that needs one.
 */
export type PoolSource = Pool | (() => Pool);

const currentPool = (source: PoolSource): Pool => (typeof source === 'function' ? source() : source);

/**
 * A batch made ready for its transaction in one synchronous step, before anything is awaited: the
 * LOAD DATA text of its rows (or the rows, for INSERTs), their rollup counts, the gaps within it
 * and its last entry. The
 * parsed entries and their rows are then garbage at the next scavenge. Kept through the
 * transaction's round trips instead (and ingest holds a batch of each host it serves), they were
 * copied by every scavenge and promoted: a third of ingest's CPU went to the garbage collector.
 */
export interface PreparedBatch {
  host: string;
  received: number;
  /** The newest entry time (µs since the epoch): the day partitions the batch needs. */
  latestUs: number;
  /** Where the checkpoint moves: the last entry's cursor and position (null for no entries). */
  last: Pick<Entry, 'cursor' | 'seqnumId' | 'seqnum' | 'realtimeUs'> | null;
  /** The usual batch, one journal read forward; null for any other, which goes the careful way. */
  forward: ForwardRun | null;
  /** The entries again, for the careful way (the usual batch keeps only its raw body for it). */
  entries: () => Entry[];
}

/** A batch of one seqnum_id in strictly rising seqnum order, ready to be written as it is. */
interface ForwardRun {
  first: Pick<Entry, 'seqnumId' | 'seqnum' | 'bootId' | 'realtimeUs'>;
  /**
   * What is written: every entry's row as LOAD DATA text (tsvFields; the statement sets the
   * host), or, where the server refuses LOCAL INFILE, the rows themselves (for INSERTs; host_id
   * set once the host is locked).
   */
  write: { tsv: Buffer[] } | { rows: LogRow[] };
  counts: RollupCounts;
  newest: string | null;
  /** The seqnum jumps within the batch; one from the checkpoint is found in the transaction. */
  gaps: Gap[];
}

/**
 * Prepares a checked batch (validateBatch). `entries` gives its entries again should the careful
 * way need them; by default the batch's own, which the prepared batch then keeps. `bulk` as in
 * IngestOptions: with 'insert', or once a server has refused LOCAL INFILE, rows are prepared
 * instead of LOAD DATA text.
 */
export function prepareBatch(
  batch: IngestBatch,
  entries: () => Entry[] = () => batch.entries,
  bulk: IngestOptions['bulk'] = 'auto',
): PreparedBatch {
  const list = batch.entries;
  let latestUs = 0;
  for (const e of list) if (e.realtimeUs > latestUs) latestUs = e.realtimeUs;
  const l = list[list.length - 1];
  return {
    host: batch.host,
    received: list.length,
    latestUs,
    last: l ? { cursor: l.cursor, seqnumId: l.seqnumId, seqnum: l.seqnum, realtimeUs: l.realtimeUs } : null,
    forward: readsForward(list)
      ? forwardRun(list, bulk === 'insert' || (bulk === 'auto' && insertsSeen))
      : null,
    entries,
  };
}

/** Whether the entries are of one seqnum_id with strictly rising seqnums (so no identity repeats). */
function readsForward(entries: Entry[]): boolean {
  if (entries.length === 0) return false;
  for (let i = 1; i < entries.length; i++) {
    const e = entries[i]!;
    const before = entries[i - 1]!;
    if (e.seqnumId !== before.seqnumId || e.seqnum <= before.seqnum) return false;
  }
  return true;
}

function forwardRun(entries: Entry[], inserts: boolean): ForwardRun {
  // host_id is known once the host is locked: LOAD DATA sets it, tsvFields omits it.
  const rows = entries.map((e) => toRow(0, e));
  const f = entries[0]!;
  return {
    first: { seqnumId: f.seqnumId, seqnum: f.seqnum, bootId: f.bootId, realtimeUs: f.realtimeUs },
    write: inserts ? { rows } : { tsv: tsvText(rows) },
    counts: rollupCounts(rows),
    newest: newestTs(rows),
    gaps: detectGaps(null, entries),
  };
}

/**
 * Rows as LOAD DATA text (tsvFields), in pieces of up to 256 KiB, each one protocol packet (a
 * packet holds < 16 MiB), encoded from strings of about 32 Ki characters so that no batch's text
 * is ever one string.
 */
function tsvText(rows: LogRow[]): Buffer[] {
  const pieces: Buffer[] = [];
  let text = '';
  for (const r of rows) {
    text += tsvFields(r);
    if (text.length >= 32 * 1024) {
      const buf = Buffer.from(text, 'utf8');
      for (let i = 0; i < buf.length; i += 256 * 1024) pieces.push(buf.subarray(i, i + 256 * 1024));
      text = '';
    }
  }
  if (text.length > 0) pieces.push(Buffer.from(text, 'utf8'));
  return pieces;
}

/**
 * One batch = one transaction on the primary: lock the host (so two batches of one host never
 * interleave), insert the entries not stored yet, add them to the hourly rollups (per priority, and
 * per identifier/comm/unit), record new source gaps, beat the host's heartbeat and move the
 * checkpoint to the batch's last cursor. Nothing is visible, and the checkpoint
 * does not move, unless all of it commits. Replaying a batch inserts nothing twice.
 */
export async function ingestBatch(
  pools: PoolSource,
  batch: IngestBatch,
  options: IngestOptions = {},
): Promise<IngestResult> {
  const checked = options.validate === false ? batch : validateBatch(batch);
  return ingestPrepared(
    pools,
    prepareBatch(checked, () => checked.entries, options.bulk),
    options,
  );
}

/** ingestBatch of a batch prepared already (prepareBatch), as the ingest function does. */
export async function ingestPrepared(
  pools: PoolSource,
  batch: PreparedBatch,
  options: IngestOptions = {},
): Promise<IngestResult> {
  if (batch.received > 0) {
    // DDL commits implicitly, so partitions are added before the transaction starts.
    const failed = await ensurePartitionsCover(
      currentPool(pools),
      new Date(batch.latestUs / 1000),
      options.now,
      options.partitionDaysAhead,
    );
    if (failed)
      options.log?.warn('store.partitions_not_added', {
        code: failed.code,
        message: failed.message,
        ...failed.details,
      });
  }
  try {
    return await ingestOnce(currentPool(pools), batch, options, true);
  } catch (err) {
    if (!(err instanceof DuplicatesFound)) throw err;
    return ingestOnce(currentPool(pools), batch, options, false);
  }
}

/** Thrown (and the transaction rolled back) when a batch taken for new turns out to hold stored rows. */
class DuplicatesFound extends InfralogsError {
  constructor() {
    super('CONFLICT', 'batch holds entries already stored');
  }
}

/**
 * One attempt. `optimistic`: a batch read forward from past the checkpoint in its journal is
 * written as prepared, without first reading which identities exist (one query less per batch);
 * should the write meet a stored row after all, the attempt rolls back and is redone the careful
 * way, which reads them first and writes only the new rows.
 */
async function ingestOnce(
  pool: Pool,
  batch: PreparedBatch,
  options: IngestOptions,
  optimistic: boolean,
): Promise<IngestResult> {
  // READ COMMITTED, so that batches of different hosts never wait for each other's gap locks:
  // under REPEATABLE READ, lockHost's locking read of a missing checkpoint row gap-locks the
  // checkpoints beside it, and two such hosts then deadlocked inserting their rows into each
  // other's gaps (ER_LOCK_DEADLOCK, every attempt). Every row ingest reads or changes belongs to
  // the batch's host, whose hosts row it locks first (FOR UPDATE): no other transaction writes
  // them meanwhile, so what REPEATABLE READ would add (one snapshot, gap locks) protects nothing
  // here. The servers replicate row-based (binlog_format=ROW), which READ COMMITTED requires.
  const transaction = <T>(work: (conn: PoolConnection) => Promise<T>) =>
    inTransaction(pool, work, {
      isolation: 'READ COMMITTED',
      ...(options.onRollback ? { onRollback: options.onRollback } : {}),
    });
  const { host } = batch;
  return transaction(async (conn) => {
    const state = await lockHost(conn, host);
    const previous: Position | null =
      state.seqnumId === null
        ? null
        : { seqnumId: state.seqnumId, seqnum: Number(state.seqnum), realtimeUs: Number(state.realtimeUs) };
    if (batch.last === null) {
      await beat(conn, state.id, null);
      return { host, received: 0, inserted: 0, duplicates: 0, checkpoint: state.checkpoint, gaps: 0 };
    }
    const run = batch.forward;
    const ahead =
      run !== null &&
      (previous === null || (run.first.seqnumId === previous.seqnumId && run.first.seqnum > previous.seqnum));
    let inserted: number;
    let gaps: Gap[];
    if (optimistic && ahead) {
      await writeRows(
        pool,
        conn,
        state.id,
        {
          count: batch.received,
          tsv: () => ('tsv' in run.write ? run.write.tsv : tsvText(run.write.rows)),
          rows: () => {
            if (!('rows' in run.write)) return batch.entries().map((e) => toRow(state.id, e));
            for (const r of run.write.rows) r.host_id = state.id;
            return run.write.rows;
          },
        },
        options,
        true,
      );
      await writeRollups(conn, state.id, run.counts);
      await beat(conn, state.id, run.newest);
      // After the checkpoint, the batch's first entry is the only one a jump can be measured from.
      gaps = [...detectGaps(previous, [run.first]), ...run.gaps];
      inserted = batch.received;
    } else {
      const entries = batch.entries();
      const fresh = await newRows(conn, state.id, entries);
      await writeRows(
        pool,
        conn,
        state.id,
        { count: fresh.length, tsv: () => tsvText(fresh), rows: () => fresh },
        options,
        false,
      );
      await writeRollups(conn, state.id, rollupCounts(fresh));
      await beat(conn, state.id, newestTs(fresh));
      gaps = detectGaps(previous, entries);
      inserted = fresh.length;
    }
    const recorded = await recordGaps(conn, state.id, gaps);
    const checkpoint = await moveCheckpoint(conn, state, previous, batch.last);
    return {
      host,
      received: batch.received,
      inserted,
      duplicates: batch.received - inserted,
      checkpoint,
      gaps: recorded,
    };
  });
}

/** What rows add to the rollups: per hour and priority, and per field value by hour and by day. */
interface RollupCounts {
  hourly: { hour: string; priority: number; n: number }[];
  fields: FieldCount[];
  daily: FieldCount[];
}

/** The rows' rollup counts, each list in its table's primary key order (see hourlyCounts). */
function rollupCounts(rows: LogRow[]): RollupCounts {
  const groups = hourGroups(rows);
  const fields = fieldCounts(groups);
  return { hourly: hourlyCounts(groups), fields, daily: dailyFieldCounts(fields) };
}

/** Adds counts to the rollups, in their primary keys' order. */
async function writeRollups(conn: PoolConnection, hostId: number, counts: RollupCounts) {
  if (counts.hourly.length === 0) return;
  await execute(
    conn,
    'INSERT INTO log_counts_hourly (host_id, hour, priority, n) VALUES ? ON DUPLICATE KEY UPDATE n = n + VALUES(n)',
    [counts.hourly.map((c) => [hostId, c.hour, c.priority, c.n])],
  );
  for (const [table, time, rows] of [
    ['log_field_counts_hourly', 'hour', counts.fields],
    ['log_field_counts_daily', 'day', counts.daily],
  ] as const) {
    await execute(
      conn,
      `INSERT INTO ${table} (field, ${time}, host_id, value, priority, n) VALUES ?
         ON DUPLICATE KEY UPDATE n = n + VALUES(n)`,
      [rows.map((c) => [c.field, c.hour, hostId, c.value, c.priority, c.n])],
    );
  }
}

/**
 * The host's activity row: its newest stored entry and the heartbeat (the primary's clock at this
 * commit). One row per host, and the host is locked already, so batches of other hosts never wait.
 */
async function beat(conn: PoolConnection, hostId: number, newest: string | null) {
  await execute(
    conn,
    `INSERT INTO host_activity (host_id, newest_ts, beat_at) VALUES (?, ?, UTC_TIMESTAMP(6))
       ON DUPLICATE KEY UPDATE beat_at = VALUES(beat_at),
         newest_ts = IF(newest_ts IS NULL OR VALUES(newest_ts) > newest_ts, VALUES(newest_ts), newest_ts)`,
    [hostId, newest],
  );
}

/**
 * Locks the host's row and its checkpoint row (upsertHost creates both) until the transaction
 * ends; a locking read sees the checkpoint the last committed batch left. For a host without a
 * checkpoint row (registered by hand) it locks no gap, as the transaction is READ COMMITTED.
 */
async function lockHost(conn: PoolConnection, host: string): Promise<HostState> {
  const [state] = await select<HostState>(
    conn,
    `SELECT h.id, c.\`cursor\` AS \`checkpoint\`, LOWER(HEX(c.seqnum_id)) AS seqnumId, c.seqnum,
            TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', c.ts) AS realtimeUs
       FROM hosts h LEFT JOIN checkpoints c ON c.host_id = h.id
      WHERE h.name = ? FOR UPDATE`,
    [host],
  );
  if (!state) throw new InfralogsError('NOT_FOUND', `unknown host "${host}": register it first`);
  return state;
}

/**
 * The rows whose identity is not stored yet (and not repeated earlier in the batch): existing
 * identities are read per seqnum_id over the batch's seqnum and ts range, which the primary key
 * and partition pruning answer without scanning: exact rollups need to know what is new.
 */
async function newRows(conn: PoolConnection, hostId: number, entries: Entry[]): Promise<LogRow[]> {
  const rows = entries.map((e) => toRow(hostId, e));
  const seen = await storedIdentities(conn, hostId, rows);
  const fresh: LogRow[] = [];
  for (let i = 0; i < rows.length; i++) {
    const e = entries[i]!;
    const id = identityKey(e.bootId, e.seqnumId, e.seqnum, rows[i]!.ts);
    if (seen.has(id)) continue;
    seen.add(id);
    fresh.push(rows[i]!);
  }
  return fresh;
}

async function storedIdentities(conn: PoolConnection, hostId: number, rows: LogRow[]): Promise<Set<string>> {
  const ranges = new Map<string, { lo: number; hi: number; from: string; to: string }>();
  for (const r of rows) {
    const g = ranges.get(r.seqnum_id);
    if (!g) ranges.set(r.seqnum_id, { lo: r.seqnum, hi: r.seqnum, from: r.ts, to: r.ts });
    else {
      if (r.seqnum < g.lo) g.lo = r.seqnum;
      if (r.seqnum > g.hi) g.hi = r.seqnum;
      if (r.ts < g.from) g.from = r.ts;
      if (r.ts > g.to) g.to = r.ts;
    }
  }
  const parts: string[] = [];
  const values: unknown[] = [];
  for (const [seqnumId, g] of ranges) {
    parts.push(
      `SELECT LOWER(HEX(boot_id)) AS b, LOWER(HEX(seqnum_id)) AS s, seqnum AS n, DATE_FORMAT(ts, ${TS_FORMAT}) AS t
         FROM logs WHERE host_id = ? AND seqnum_id = ? AND seqnum BETWEEN ? AND ? AND ts BETWEEN ? AND ?`,
    );
    values.push(hostId, Buffer.from(seqnumId, 'hex'), g.lo, g.hi, g.from, g.to);
  }
  const existing = await select<{ b: string; s: string; n: number | string; t: string }>(
    conn,
    parts.join(' UNION ALL '),
    values,
  );
  return new Set(existing.map((x) => identityKey(x.b, x.s, x.n, x.t)));
}

/** A batch's new rows, as LOAD DATA text or as rows (for INSERTs), each made only when needed. */
interface RowsToWrite {
  count: number;
  tsv: () => Buffer[];
  rows: () => LogRow[];
}

async function writeRows(
  pool: Pool,
  conn: PoolConnection,
  hostId: number,
  rows: RowsToWrite,
  options: IngestOptions,
  optimistic: boolean,
) {
  if (rows.count === 0) return;
  const bulk = options.bulk ?? 'auto';
  if (bulk !== 'insert' && !loadRefused.has(pool)) {
    try {
      return await loadRows(conn, hostId, rows, optimistic);
    } catch (err) {
      const errno = (err as { cause?: { errno?: unknown } }).cause?.errno;
      if (bulk === 'load' || typeof errno !== 'number' || !LOCAL_INFILE_REFUSED.has(errno)) throw err;
      // Refused before reading a row: the transaction is intact and INSERTs take over.
      loadRefused.add(pool);
      insertsSeen = true;
    }
  }
  await insertRows(conn, rows.rows(), options, optimistic);
}

/**
 * LOAD DATA LOCAL from memory. LOCAL turns duplicates and conversion problems into warnings, so
 * anything short of every row stored cleanly fails the batch (the transaction rolls back).
 */
async function loadRows(conn: PoolConnection, hostId: number, rows: RowsToWrite, optimistic: boolean) {
  let header: ResultSetHeader;
  try {
    const text = rows.tsv();
    const [res] = await conn.query({
      sql: loadStatement('batch', hostId),
      infileStreamFactory: () => Readable.from(text),
    });
    header = res as ResultSetHeader;
  } catch (err) {
    throw storeError(err);
  }
  if (optimistic && header.affectedRows < rows.count) throw new DuplicatesFound();
  if (header.affectedRows !== rows.count || header.warningStatus > 0) {
    throw new InfralogsError(
      'DATABASE_FAILED',
      `LOAD DATA stored ${header.affectedRows} of ${rows.count} rows with ${header.warningStatus} warnings`,
    );
  }
}

/** Multi-row INSERTs; the next chunk's SQL is built while the server works on the previous one. */
async function insertRows(conn: PoolConnection, rows: LogRow[], options: IngestOptions, optimistic: boolean) {
  const chunks = chunkRows(
    rows,
    rowSqlBytes,
    options.maxChunkBytes ?? DEFAULT_CHUNK_BYTES,
    options.maxChunkRows ?? DEFAULT_CHUNK_ROWS,
  );
  let pending: Promise<unknown> | null = null;
  try {
    for (const chunk of chunks) {
      const sql = formatSql(INSERT_LOGS, [chunk.map(sqlValues)]);
      if (pending) await pending;
      pending = execute(conn, sql);
    }
    if (pending) await pending;
  } catch (err) {
    if (optimistic && dbCode(err) === 'ER_DUP_ENTRY') throw new DuplicatesFound();
    throw err;
  }
}

async function recordGaps(conn: PoolConnection, hostId: number, gaps: Gap[]): Promise<number> {
  if (gaps.length === 0) return 0;
  // IGNORE on the (host, seqnum_id, after_seqnum) key: a gap seen again by a replay is not new.
  const { affectedRows } = await execute(
    conn,
    `INSERT IGNORE INTO gaps (host_id, seqnum_id, boot_id, after_seqnum, before_seqnum, missing, after_ts, before_ts, detected_at)
     VALUES ?`,
    [
      gaps.map((g) => [
        hostId,
        Buffer.from(g.seqnumId, 'hex'),
        Buffer.from(g.bootId, 'hex'),
        g.afterSeqnum,
        g.beforeSeqnum,
        g.missing,
        g.afterRealtimeUs === null ? null : formatTs(g.afterRealtimeUs),
        formatTs(g.beforeRealtimeUs),
        formatTs(Date.now() * 1000),
      ]),
    ],
  );
  return affectedRows;
}

/**
 * Moves the checkpoint to the last entry's cursor. A replay of an older batch of the same
 * seqnum_id does not move it back (that would only make fetch-host read the same entries again).
 */
async function moveCheckpoint(
  conn: PoolConnection,
  state: HostState,
  previous: Position | null,
  last: NonNullable<PreparedBatch['last']>,
): Promise<string> {
  if (
    previous &&
    state.checkpoint !== null &&
    previous.seqnumId === last.seqnumId &&
    last.seqnum < previous.seqnum
  ) {
    return state.checkpoint;
  }
  const values = [last.cursor, Buffer.from(last.seqnumId, 'hex'), last.seqnum, formatTs(last.realtimeUs)];
  // The row exists for hosts registered by upsertHost; the upsert covers hosts added by hand.
  const { affectedRows } = await execute(
    conn,
    `UPDATE checkpoints SET \`cursor\` = ?, seqnum_id = ?, seqnum = ?, ts = ?, updated_at = UTC_TIMESTAMP(6)
      WHERE host_id = ?`,
    [...values, state.id],
  );
  if (affectedRows === 0) {
    await execute(
      conn,
      `INSERT INTO checkpoints (host_id, \`cursor\`, seqnum_id, seqnum, ts, updated_at)
       VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
       ON DUPLICATE KEY UPDATE \`cursor\` = VALUES(\`cursor\`), seqnum_id = VALUES(seqnum_id),
         seqnum = VALUES(seqnum), ts = VALUES(ts), updated_at = VALUES(updated_at)`,
      [state.id, ...values],
    );
  }
  return last.cursor;
}

/** The host's checkpoint (the cursor to resume after), null before its first batch. */
export async function getCheckpoint(db: Queryable, host: string): Promise<string | null> {
  const rows = await select<{ id: number; checkpoint: string | null }>(
    db,
    'SELECT h.id, c.`cursor` AS `checkpoint` FROM hosts h LEFT JOIN checkpoints c ON c.host_id = h.id WHERE h.name = ?',
    [host],
  );
  const row = rows[0];
  if (!row) throw new InfralogsError('NOT_FOUND', `unknown host "${host}"`);
  return row.checkpoint;
}
