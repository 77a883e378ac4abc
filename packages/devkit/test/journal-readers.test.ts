import { describe, expect, it } from 'vitest';
import { feed, JsonParser, LineSplitter, readAll, VerboseParser } from '../src/journal-readers';

const C1 =
  's=8c7196499b954413a742eb1e2107fa5d;i=1;b=0ffe5f74a4bd49ca8597eb05fe1a512a;m=1;t=6225212a5b6da;x=1';
const C2 = C1.replace('i=1;', 'i=2;');
const str = (b: Buffer[] | undefined) => b?.map((x) => x.toString('latin1'));

describe('LineSplitter', () => {
  it('splits at \\n only, keeps \\r, and gives a last line without newline', () => {
    const lines: [string, number][] = [];
    const s = new LineSplitter((buf, a, b, offset) => lines.push([buf.toString('latin1', a, b), offset]));
    feed(s, Buffer.from('a\r\n\nbc\rd\nlast'), [1]);
    expect(lines).toEqual([
      ['a\r', 0],
      ['', 3],
      ['bc\rd', 4],
      ['last', 9],
    ]);
  });
});

describe('JsonParser', () => {
  it('reads strings, byte arrays, repeated fields and nulls; reports bad lines and goes on', () => {
    const text = [
      JSON.stringify({ __CURSOR: C1, MESSAGE: [102, 255, 13], TAG: ['a', [98, 10], null], BIG: null }),
      'not json at all',
      '[1,2,3]',
      '\u001e' + JSON.stringify({ __CURSOR: C2, MESSAGE: 'plain', ODD: { x: 1 } }),
      '',
    ].join('\n');
    const { entries, invalid, lost } = readAll((h) => new JsonParser(h), Buffer.from(text));
    expect(entries).toHaveLength(2);
    expect(entries[0]!.get('MESSAGE')).toEqual([Buffer.from([102, 255, 13])]);
    expect(str(entries[0]!.get('TAG'))).toEqual(['a', 'b\n']);
    expect(str(entries[1]!.get('MESSAGE'))).toEqual(['plain']);
    expect(lost).toEqual([
      { cursor: C1, field: 'TAG', reason: 'too-large' },
      { cursor: C1, field: 'BIG', reason: 'too-large' },
    ]);
    expect(invalid.map((p) => p.reason)).toEqual([
      'not JSON',
      'not a JSON object',
      'unexpected value for ODD',
    ]);
    expect(invalid[0]!.offset).toBe(text.indexOf('not json'));
  });
});

describe('VerboseParser', () => {
  it('reads headers, fields, continuation lines and blobs; skips "-- " lines', () => {
    const text = [
      '-- Logs begin at Tue 2024-09-17 --',
      `Tue 2024-09-17 15:09:15.776731 UTC [${C1}]`,
      '    MESSAGE=line one',
      '            line two',
      '            ',
      '              indented',
      '    X=',
      '      lead',
      '    RAW=[4B blob data]',
      '    EMPTY=',
      'this line is not verbose format',
      '-- Boot 457105b2d84547a4b4549f0eaa700b61 --',
      `Thu 2024-09-19 20:31:30.550047 UTC [${C2}]`,
      '    PRIORITY=6',
    ].join('\n');
    const { entries, invalid, lost } = readAll((h) => new VerboseParser(h), Buffer.from(text));
    expect(entries).toHaveLength(2);
    expect(str(entries[0]!.get('__CURSOR'))).toEqual([C1]);
    expect(str(entries[0]!.get('MESSAGE'))).toEqual(['line one\nline two\n\n  indented']);
    expect(str(entries[0]!.get('X'))).toEqual(['\nlead']);
    expect(str(entries[0]!.get('EMPTY'))).toEqual(['']);
    expect(entries[0]!.has('RAW')).toBe(false);
    expect(lost).toEqual([{ cursor: C1, field: 'RAW', reason: 'blob' }]);
    expect(invalid.map((p) => p.line.toString())).toEqual(['this line is not verbose format']);
    expect(str(entries[1]!.get('PRIORITY'))).toEqual(['6']);
  });
});
