import { readAll, writeExport, type ExportEntry } from '@infralogs/devkit';
import { describe, expect, it } from 'vitest';
import { entryFromFields, type Entry } from '../../src/entry';
import type { InfralogsError } from '../../src/errors';
import { EntryReader, ExportParser, NdjsonEncoder } from '../../src/journal';

const S = '8c7196499b954413a742eb1e2107fa5d';
const B = '0ffe5f74a4bd49ca8597eb05fe1a512a';
const CURSOR = `s=${S};i=1f;b=${B};m=39f445;t=6225212a5b6da;x=3f056d2626450d83`;

/** What the reference mapping gives: entryFromFields over every field, or its error code. */
function reference(bytes: Buffer): (Entry | string)[] {
  return readAll((h) => new ExportParser(h), bytes).entries.map((f) => {
    try {
      return entryFromFields(f);
    } catch (err) {
      return (err as InfralogsError).code;
    }
  });
}

function fast(bytes: Buffer): (Entry | string)[] {
  const out: (Entry | string)[] = [];
  const reader = new EntryReader({ onEntry: (e) => out.push(e), onUnmapped: (err) => out.push(err.code) });
  reader.push(bytes);
  reader.end();
  return out;
}

const cases: Record<string, ExportEntry> = {
  'cursor only': { __CURSOR: CURSOR },
  'cursor in another order': { __CURSOR: `i=1f;s=${S};b=${B};m=1;t=2;x=3` },
  'cursor with an old p= part': { __CURSOR: `${CURSOR};p=system.journal` },
  'uppercase hex cursor': { __CURSOR: CURSOR.toUpperCase() },
  'cursor with a 14-digit seqnum': { __CURSOR: CURSOR.replace('i=1f', 'i=1ffffffffffff') },
  'cursor with an unsafe seqnum': { __CURSOR: CURSOR.replace('i=1f', 'i=fffffffffffffff') },
  'no cursor': { MESSAGE: 'lost' },
  'empty cursor': { __CURSOR: '', MESSAGE: 'lost' },
  'malformed cursor': { __CURSOR: 'garbage' },
  'identity fields win over the cursor': {
    __CURSOR: CURSOR,
    __SEQNUM: '77',
    __SEQNUM_ID: 'a'.repeat(32),
    _BOOT_ID: 'b'.repeat(32),
    __REALTIME_TIMESTAMP: '1700000000000000',
  },
  'garbage identity fields fall back to the cursor': {
    __CURSOR: CURSOR,
    __SEQNUM: 'x',
    __REALTIME_TIMESTAMP: '99999999999999999',
  },
  'padded and odd integers': { __CURSOR: CURSOR, PRIORITY: ' 6 ', _PID: '007' },
  'out of range integers': { __CURSOR: CURSOR, PRIORITY: '8', _PID: '4294967296' },
  'signed and decimal integers': { __CURSOR: CURSOR, PRIORITY: '-1', _PID: '1.5' },
  'non-ASCII text fields': {
    __CURSOR: CURSOR,
    _HOSTNAME: 'hôte',
    SYSLOG_IDENTIFIER: Buffer.from([0xff]),
    _COMM: '',
  },
  'repeated fields: the first wins': {
    __CURSOR: [CURSOR, 'other'],
    MESSAGE: ['one', 'two'],
    PRIORITY: ['3', '4'],
  },
  'invalid UTF-8 and encoded surrogates': {
    __CURSOR: CURSOR,
    MESSAGE: Buffer.from([0xed, 0xa0, 0x80, 0x41]),
  },
  'overlong encoding': { __CURSOR: CURSOR, MESSAGE: Buffer.from([0xc0, 0xaf]) },
};

/** NdjsonEncoder's bytes, and what JSON.stringify of the reference entries gives. */
function ndjson(bytes: Buffer): { encoded: string; expected: string } {
  const encoder = new NdjsonEncoder();
  encoder.push(bytes);
  encoder.end();
  const expected = reference(bytes)
    .filter((e) => typeof e !== 'string')
    .map((e) => JSON.stringify(e) + '\n')
    .join('');
  return { encoded: encoder.take()?.toString('utf8') ?? '', expected };
}

describe('EntryReader and NdjsonEncoder', () => {
  it.each(Object.entries(cases))('%s: same as entryFromFields', (_, entry) => {
    const bytes = writeExport([entry]);
    expect(fast(bytes)).toEqual(reference(bytes));
    const { encoded, expected } = ndjson(bytes);
    expect(encoded).toBe(expected);
  });

  it('NdjsonEncoder escapes exactly as JSON.stringify does', () => {
    const all = Array.from({ length: 256 }, (_, b) => b);
    const values = [
      Buffer.from(all),
      Buffer.from(all.slice(0, 128)),
      Buffer.from('quote " backslash \\ slash / tab \t del \u007f nbsp \u00a0 ls \u2028 emoji 🙂'),
      Buffer.from([0xf0, 0x9f, 0x99]), // a cut 4-byte sequence
      Buffer.from('x'.repeat(300) + '"'),
      Buffer.from('ü'.repeat(200)),
    ];
    const entries = values.map((v, i) => ({
      __CURSOR: CURSOR.replace('i=1f', `i=${i + 1}`),
      MESSAGE: v,
      _HOSTNAME: v,
      _COMM: v,
      SYSLOG_IDENTIFIER: v,
      _SYSTEMD_UNIT: v,
      _PID: String(i),
    }));
    const { encoded, expected } = ndjson(writeExport(entries));
    expect(encoded).toBe(expected);
    expect(encoded.split('\n')).toHaveLength(values.length + 1);
  });

  it('NdjsonEncoder leaves out what accept() refuses and hands each line out once', () => {
    const bytes = writeExport([1, 2, 3, 4].map((i) => ({ __CURSOR: CURSOR.replace('i=1f', `i=${i}`) })));
    const seen: boolean[] = [];
    const encoder = new NdjsonEncoder({
      accept: (e) => (seen.push(e.cursorIs(CURSOR.replace('i=1f', 'i=2'))), !seen.at(-1)),
    });
    encoder.push(bytes.subarray(0, 200));
    const first = encoder.take()?.toString() ?? '';
    encoder.push(bytes.subarray(200));
    encoder.end();
    const rest = encoder.take()?.toString() ?? '';
    expect(encoder.take()).toBeNull();
    expect(seen).toEqual([false, true, false, false]);
    expect(
      (first + rest)
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as Entry).seqnum),
    ).toEqual([1, 3, 4]);
  });

  it('keeps host, unit and identity strings right when they change from entry to entry', () => {
    const entries: ExportEntry[] = ['a', 'b', 'a', 'ab', 'a'].map((h, i) => ({
      __CURSOR: CURSOR.replace('i=1f', `i=${i + 1}`).replace(B, i % 2 ? 'c'.repeat(32) : B),
      _HOSTNAME: h,
      _SYSTEMD_UNIT: `${h}.service`,
    }));
    const bytes = writeExport(entries);
    const out = fast(bytes) as Entry[];
    expect(out).toEqual(reference(bytes));
    expect(out.map((e) => e.hostname)).toEqual(['a', 'b', 'a', 'ab', 'a']);
    expect(out.map((e) => e.bootId[0])).toEqual(['0', 'c', '0', 'c', '0']);
  });

  it('skips an entry it cannot map and goes on', () => {
    const bytes = writeExport([{ __CURSOR: CURSOR }, { MESSAGE: 'no cursor' }, { __CURSOR: CURSOR }]);
    expect(fast(bytes)).toEqual([
      expect.objectContaining({ seqnum: 31 }),
      'BAD_CURSOR',
      expect.objectContaining({ seqnum: 31 }),
    ]);
  });
});
