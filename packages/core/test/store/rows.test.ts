import { describe, expect, it } from 'vitest';
import {
  chunkRows,
  clip,
  formatTs,
  hourGroups,
  hourlyCounts,
  LOGS_COLUMNS,
  NO_PRIORITY,
  rowSqlBytes,
  sqlValues,
  toRow,
  tsvRow,
} from '../../src/store/rows';
import { detectGaps } from '../../src/store/gaps';
import { plainlyValid, validateBatch } from '../../src/store/batch';
import { entrySchema } from '../../src/entry';
import { entry, SEQNUM_ID } from '@infralogs/devkit/fixtures';

describe('entry → row mapping', () => {
  it('formats __REALTIME_TIMESTAMP as UTC with microseconds', () => {
    expect(formatTs(1726585755776730)).toBe('2024-09-17 15:09:15.776730');
    expect(formatTs(0)).toBe('1970-01-01 00:00:00.000000');
    expect(formatTs(1_000_001)).toBe('1970-01-01 00:00:01.000001');
  });

  it('maps identity to binary, raw MESSAGE bytes to message_raw, and clips long text columns', () => {
    const raw = Buffer.from([0xff, 0x00, 0x41]);
    const row = toRow(3, entry(5, { messageRaw: raw.toString('base64'), unit: 'u'.repeat(300) }));
    expect(row.host_id).toBe(3);
    expect(row.seqnum_id).toBe(SEQNUM_ID);
    expect(sqlValues(row)[LOGS_COLUMNS.indexOf('seqnum_id')]).toEqual(Buffer.from(SEQNUM_ID, 'hex'));
    expect(row.seqnum).toBe(5);
    expect(row.unit).toHaveLength(255);
    expect(row.message_raw).toEqual(raw);
    expect(toRow(1, entry(1)).message_raw).toBeNull();
  });

  it('writes LOAD DATA text with escapes, \\N for NULL and hex for binary', () => {
    const row = toRow(
      2,
      entry(9, {
        message: 'a\tb\nc\\d\r\0',
        unit: null,
        messageRaw: Buffer.from([0xff, 1]).toString('base64'),
      }),
    );
    const fields = tsvRow(row).split('\t');
    const at = (column: string) => fields[LOGS_COLUMNS.indexOf(column)];
    expect(fields).toHaveLength(LOGS_COLUMNS.length);
    expect(tsvRow(row).endsWith('\n')).toBe(true);
    expect(at('boot_id')).toBe(entry(9).bootId);
    expect(at('unit')).toBe('\\N');
    expect(at('message')).toBe('a\\tb\\nc\\\\d\\r\\0');
    expect(at('message_raw')?.replace(/\n$/, '')).toBe('ff01');
  });

  it('clips by code points without splitting a surrogate pair', () => {
    expect(clip('a\u{1F600}b', 2)).toBe('a\u{1F600}');
    expect(clip('abc', 5)).toBe('abc');
    expect(clip(null, 1)).toBeNull();
  });

  it('cuts chunks by bytes and rows, giving an oversized row a chunk of its own', () => {
    const sizes = [3, 3, 3, 10, 1, 1, 1];
    const chunks = chunkRows(sizes, (n) => n, 7, 2);
    expect(chunks).toEqual([[3, 3], [3], [10], [1, 1], [1]]);
    const big = toRow(1, entry(1, { message: 'é'.repeat(1000) }));
    expect(rowSqlBytes(big)).toBeGreaterThan(4000);
  });

  it('counts rows per hour and priority, with 255 for entries without PRIORITY', () => {
    const rows = [entry(1), entry(2, { priority: 3 }), entry(3, { priority: null }), entry(4)].map((e) =>
      toRow(1, e),
    );
    // In key order (hour, priority): every batch locks its rollup rows in the same order.
    expect(hourlyCounts(hourGroups(rows))).toEqual([
      { hour: '2026-11-30 12:00:00', priority: 3, n: 1 },
      { hour: '2026-11-30 12:00:00', priority: 6, n: 2 },
      { hour: '2026-11-30 12:00:00', priority: NO_PRIORITY, n: 1 },
    ]);
  });
});

describe('detectGaps', () => {
  const other = 'bb'.repeat(16);
  it('finds jumps within a seqnum_id and from the previous checkpoint', () => {
    const gaps = detectGaps({ seqnumId: SEQNUM_ID, seqnum: 2, realtimeUs: 7 }, [
      entry(5),
      entry(6),
      entry(9),
    ]);
    expect(gaps.map((g) => [g.afterSeqnum, g.beforeSeqnum, g.missing, g.afterRealtimeUs])).toEqual([
      [2, 5, 2, 7],
      [6, 9, 2, entry(6).realtimeUs],
    ]);
  });
  it('ignores a new seqnum_id, a new boot, replays and overlaps', () => {
    const prev = { seqnumId: SEQNUM_ID, seqnum: 10, realtimeUs: null };
    expect(detectGaps(prev, [entry(100, { seqnumId: other }), entry(101, { seqnumId: other })])).toEqual([]);
    expect(detectGaps(prev, [entry(11, { bootId: 'cc'.repeat(16) }), entry(3), entry(12)])).toEqual([]);
    expect(detectGaps(null, [entry(40)])).toEqual([]);
  });
  it('tracks interleaved seqnum_ids separately', () => {
    const gaps = detectGaps(null, [
      entry(1),
      entry(1, { seqnumId: other }),
      entry(2),
      entry(4, { seqnumId: other }),
    ]);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ seqnumId: other, afterSeqnum: 1, beforeSeqnum: 4, missing: 2 });
  });
});

describe('validateBatch', () => {
  it('fast-accepts only what entrySchema accepts', () => {
    const base = entry(1) as unknown as Record<string, unknown>;
    const variants: unknown[] = [base, null, [], 'x', { ...base, extra: 1 }, { ...base, cursor: undefined }];
    const odd = [
      null,
      undefined,
      '',
      'x'.repeat(513),
      'ab'.repeat(16),
      'AB'.repeat(16),
      -1,
      0,
      1.5,
      8,
      2 ** 53,
      NaN,
      Infinity,
      4294967296,
      '6',
      '==',
      'a=b',
      {},
    ];
    for (const key of Object.keys(base)) for (const v of odd) variants.push({ ...base, [key]: v });
    const { cursor: _c, ...missing } = base;
    variants.push(missing, { ...missing, other: 1 });
    let accepted = 0;
    for (const v of variants) {
      if (plainlyValid(v)) {
        accepted++;
        expect(entrySchema.safeParse(v).success, JSON.stringify(v)).toBe(true);
      }
    }
    expect(accepted).toBeGreaterThan(20);
  });

  it('returns the typed batch', () => {
    const b = validateBatch({ host: 'h', entries: [entry(1)], extra: true });
    expect(b).toEqual({ host: 'h', entries: [entry(1)] });
  });
  it.each([
    [null, undefined],
    [{ host: '', entries: [] }, undefined],
    [{ host: 'h' }, undefined],
    [{ host: 'h', entries: [entry(1), { ...entry(2), bootId: 'XYZ' }] }, 1],
    [{ host: 'h', entries: [{ ...entry(1), surprise: 1 }] }, 0],
  ])('rejects %j with BAD_BATCH', (body, index) => {
    let err: unknown;
    try {
      validateBatch(body);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'BAD_BATCH', status: 400 });
    expect((err as { details: { index?: number; reason: string } }).details.index).toBe(index);
    expect((err as { details: { reason: string } }).details.reason).not.toBe('');
  });
});
