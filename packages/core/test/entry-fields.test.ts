import { readAll, writeExport, type ExportEntry } from '@infralogs/devkit';
import { describe, expect, it } from 'vitest';
import {
  ENTRY_FIELDS,
  entryFromFields,
  entrySchema,
  JOURNAL_FIELDS,
  PLAIN_FIELDS,
  type Entry,
} from '../src/entry';
import { EntryReader, ExportParser, NdjsonEncoder } from '../src/journal';
import { plainlyValid, validateBatch } from '../src/store/batch';
import { LOGS_COLUMNS, toRow, tsvRow } from '../src/store/rows';

/**
 * The fast paths (EntryReader, NdjsonEncoder, the batch check, the row builder) are written out by
 * hand for speed but must take their keys and order from ENTRY_FIELDS: these tests fail when one
 * of them disagrees with the table.
 */
const S = '8c7196499b954413a742eb1e2107fa5d';
const B = '0ffe5f74a4bd49ca8597eb05fe1a512a';
const CURSOR = `s=${S};i=1f;b=${B};m=39f445;t=6225212a5b6da;x=3f056d2626450d83`;

/** One entry holding every journald field the table reads, each with a value of its kind. */
function fullJournalEntry(): ExportEntry {
  const entry: ExportEntry = {};
  for (const f of ENTRY_FIELDS) {
    if (f.journal === null) continue;
    if (f.kind === 'cursor') entry[f.journal] = CURSOR;
    else if (f.kind === 'id128') entry[f.journal] = f.key === 'bootId' ? B : S;
    else if (f.kind === 'seqnum') entry[f.journal] = '31';
    else if (f.kind === 'realtime') entry[f.journal] = '1730000000000000';
    else if (f.kind === 'integer') entry[f.journal] = String(Math.min(f.max ?? 1, 5));
    else entry[f.journal] = `${f.key} value`;
  }
  return entry;
}

const keys = ENTRY_FIELDS.map((f) => f.key);

describe('ENTRY_FIELDS drives every representation of an entry', () => {
  const bytes = writeExport([fullJournalEntry()]);

  it('lists each journald field, wire key and column once', () => {
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(JOURNAL_FIELDS).size).toBe(JOURNAL_FIELDS.length);
    expect(new Set(LOGS_COLUMNS).size).toBe(LOGS_COLUMNS.length);
    expect(LOGS_COLUMNS).toEqual(['host_id', ...ENTRY_FIELDS.map((f) => f.column)]);
  });

  it('the reference mapping, EntryReader and NdjsonEncoder give the same keys in table order, every field set', () => {
    const reference = entryFromFields(readAll((h) => new ExportParser(h), bytes).entries[0]!);
    const fast: Entry[] = [];
    const reader = new EntryReader({ onEntry: (e) => fast.push(e) });
    reader.push(bytes);
    reader.end();
    const encoder = new NdjsonEncoder();
    encoder.push(bytes);
    encoder.end();
    const line = encoder.take()!.toString('utf8');
    expect(Object.keys(reference)).toEqual(keys);
    expect(Object.keys(fast[0]!)).toEqual(keys);
    expect(Object.keys(JSON.parse(line) as object)).toEqual(keys);
    expect(line).toBe(`${JSON.stringify(reference)}\n`);
    for (const f of PLAIN_FIELDS) expect(reference[f.key as keyof Entry], f.key).not.toBeNull();
  });

  it('the batch check and the schema accept it; the row builder and LOAD DATA text give every column', () => {
    const entry = entryFromFields(readAll((h) => new ExportParser(h), bytes).entries[0]!);
    expect(plainlyValid(entry)).toBe(true);
    expect(entrySchema.parse(entry)).toEqual(entry);
    const row = toRow(7, entry);
    expect(Object.keys(row)).toEqual(LOGS_COLUMNS);
    expect(tsvRow(row).split('\t')).toHaveLength(LOGS_COLUMNS.length);
    for (const f of PLAIN_FIELDS) {
      expect((row as unknown as Record<string, unknown>)[f.column], f.column).toBe(
        entry[f.key as keyof Entry],
      );
    }
  });

  it('reads an optional field an older agent left out as null, and refuses unknown keys', () => {
    const entry = entryFromFields(readAll((h) => new ExportParser(h), bytes).entries[0]!);
    const optional = ENTRY_FIELDS.filter((f) => 'optional' in f && f.optional).map((f) => f.key);
    expect(optional.length).toBeGreaterThan(0);
    const older = Object.fromEntries(Object.entries(entry).filter(([k]) => !optional.includes(k as never)));
    expect(plainlyValid(older)).toBe(false);
    const batch = validateBatch({ host: 'h', entries: [older] });
    expect(Object.keys(batch.entries[0]!)).toEqual(expect.arrayContaining(keys));
    for (const k of optional) expect(batch.entries[0]![k as keyof Entry]).toBeNull();
    expect(() => validateBatch({ host: 'h', entries: [{ ...entry, surprise: 1 }] })).toThrow(/surprise|key/i);
  });
});
