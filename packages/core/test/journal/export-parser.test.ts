import { feed, randomSizes, readAll, writeExport } from '@infralogs/devkit';
import { describe, expect, it } from 'vitest';
import type { JournalFields } from '../../src/entry';
import { ENTRY_FIELD_NAMES, ExportParser, type InvalidLine } from '../../src/journal';

const text = (fields: JournalFields, name: string) => fields.get(name)?.map((b) => b.toString('latin1'));

function parse(bytes: Buffer, sizes?: number[]) {
  const entries: JournalFields[] = [];
  const invalid: InvalidLine[] = [];
  const parser = new ExportParser({ onEntry: (f) => entries.push(f), onInvalid: (p) => invalid.push(p) });
  if (sizes) feed(parser, bytes, sizes);
  else {
    parser.push(bytes);
    parser.end();
  }
  return { entries, invalid };
}

const SAMPLE = writeExport([
  { __CURSOR: 'c1', MESSAGE: 'hello', PRIORITY: '6' },
  { __CURSOR: 'c2', MESSAGE: Buffer.from('two\nlines'), TAG: ['a', 'b'], EMPTY: '' },
  { __CURSOR: 'c3', MESSAGE: Buffer.from([0x66, 0xff, 0x0d, 0x0a]), BIN_EMPTY: Buffer.alloc(0) },
]);

describe('ExportParser', () => {
  it('reads text fields, binary fields, repeated fields and empty values', () => {
    const { entries, invalid } = parse(SAMPLE);
    expect(invalid).toEqual([]);
    expect(entries).toHaveLength(3);
    expect(text(entries[0]!, 'MESSAGE')).toEqual(['hello']);
    expect(text(entries[1]!, 'MESSAGE')).toEqual(['two\nlines']);
    expect(text(entries[1]!, 'TAG')).toEqual(['a', 'b']);
    expect(text(entries[1]!, 'EMPTY')).toEqual(['']);
    expect(entries[2]!.get('MESSAGE')![0]).toEqual(Buffer.from([0x66, 0xff, 0x0d, 0x0a]));
    expect(entries[2]!.get('BIN_EMPTY')![0]).toEqual(Buffer.alloc(0));
  });

  it("reads each line's own name when it differs from the previous entry's line at that place", () => {
    // The scanner first compares line k with the previous entry's line k: prefixes, a longer and
    // a shorter name, a binary value under a text name, and a stray line where a name was.
    const bytes = Buffer.concat([
      Buffer.from('__CURSOR=a\nAB=1\nA=2\nMESSAGE=m1\n\n'),
      Buffer.from('__CURSOR=b\nA=3\nAB=4\nMESSAGE\n'),
      Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('m2\n\n__CURSOR=c\nABC=5\nA\n'),
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('x\nMESSAGE x\n\n'),
    ]);
    const { entries, invalid } = parse(bytes);
    expect(entries.map((e) => Object.fromEntries([...e].map(([k, v]) => [k, v.map(String)])))).toEqual([
      { __CURSOR: ['a'], AB: ['1'], A: ['2'], MESSAGE: ['m1'] },
      { __CURSOR: ['b'], A: ['3'], AB: ['4'], MESSAGE: ['m2'] },
      { __CURSOR: ['c'], ABC: ['5'], A: ['x'] },
    ]);
    expect(invalid.map((p) => p.line.toString())).toEqual(['MESSAGE x']);
  });

  it('reads the spec example of a binary field byte for byte', () => {
    const bytes = Buffer.concat([
      Buffer.from('__CURSOR=x\nMESSAGE\n'),
      Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('foo\nbar\n\n'),
    ]);
    expect(text(parse(bytes).entries[0]!, 'MESSAGE')).toEqual(['foo\nbar']);
  });

  it('gives the same result whatever the chunk boundaries (byte by byte, random sizes)', () => {
    const whole = parse(SAMPLE);
    expect(parse(SAMPLE, [1])).toEqual(whole);
    for (let seed = 1; seed <= 20; seed++) expect(parse(SAMPLE, randomSizes(seed, 50, 40))).toEqual(whole);
  });

  it('reports lines that are not export format, with their position, and keeps the entries around them', () => {
    const stray1 = 'Sep 17 11:26:36 Debian12 kernel: Command line: BOOT_IMAGE=/boot/vmlinuz ro quiet';
    const stray2 = 'lowercase=not a field name';
    const bytes = Buffer.from(
      `__CURSOR=a\nMESSAGE=first\n\n${stray1}\n__CURSOR=b\n${stray2}\nMESSAGE=second\n\n`,
    );
    for (const sizes of [undefined, [1], [3, 7]]) {
      const { entries, invalid } = parse(bytes, sizes);
      expect(entries.map((e) => text(e, 'MESSAGE'))).toEqual([['first'], ['second']]);
      expect(entries[1]!.size).toBe(2);
      expect(invalid.map((p) => [p.offset, p.line.toString()])).toEqual([
        [bytes.indexOf(stray1), stray1],
        [bytes.indexOf(stray2), stray2],
      ]);
    }
  });

  it('recovers when an all-caps stray line looks like a binary field name', () => {
    const bytes = Buffer.from('__CURSOR=a\nWARNING\nMESSAGE=kept\n\n__CURSOR=b\n\n');
    for (const sizes of [undefined, [1], [5]]) {
      const { entries, invalid } = parse(bytes, sizes);
      expect(invalid.map((p) => [p.offset, p.line.toString()])).toEqual([[11, 'WARNING']]);
      expect(entries.map((e) => text(e, 'MESSAGE'))).toEqual([['kept'], undefined]);
    }
  });

  it('rejects names that journald would not write', () => {
    const long = 'A'.repeat(65);
    const bytes = Buffer.from(`__CURSOR=a\n1ABC=x\n=x\n${long}=x\nA${'B'.repeat(63)}=ok\n\n`);
    const { entries, invalid } = parse(bytes);
    expect(invalid.map((p) => p.line.toString())).toEqual(['1ABC=x', '=x', `${long}=x`]);
    expect(text(entries[0]!, 'A' + 'B'.repeat(63))).toEqual(['ok']);
  });

  it('emits a last entry without its blank line and reports a cut binary field', () => {
    expect(parse(Buffer.from('__CURSOR=a\nMESSAGE=no blank line')).entries).toHaveLength(1);
    const cut = Buffer.concat([
      Buffer.from('__CURSOR=a\n\n__CURSOR=b\nMESSAGE\n'),
      Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('abc'),
    ]);
    const { entries, invalid } = parse(cut);
    expect(entries.map((e) => text(e, '__CURSOR'))).toEqual([['a'], ['b']]);
    expect(invalid).toMatchObject([{ reason: 'stream ended inside a field', line: Buffer.from('MESSAGE') }]);
  });

  it('keeps only the wanted fields when asked', () => {
    const { entries } = readAll((h) => new ExportParser({ ...h, fields: ENTRY_FIELD_NAMES }), SAMPLE);
    expect([...entries[1]!.keys()]).toEqual(['__CURSOR', 'MESSAGE']);
    expect(entries).toHaveLength(3);
  });
});
