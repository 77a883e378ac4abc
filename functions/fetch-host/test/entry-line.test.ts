import { describe, expect, it } from 'vitest';
import { entryFromLine, oneObject } from '../src/entry-line';

const one = (text: string) => oneObject(Buffer.from(text));

describe('oneObject', () => {
  it('accepts one object, whatever its strings hold', () => {
    expect(one('{}')).toBe(true);
    expect(one('  {"a":1} \r')).toBe(true);
    expect(one('{"m":"}],\\"host\\":\\"x\\",\\"entries\\":[{"}')).toBe(true);
    expect(one('{"m":"ends in a backslash\\\\","n":[1,{"o":"]"}]}')).toBe(true);
    expect(one('{"m":"\\\\\\"still inside\\\\\\\\"}')).toBe(true);
    expect(one(JSON.stringify({ cursor: 's=1', message: 'é€😀 {[', pid: null }))).toBe(true);
  });

  it('refuses a line that could end the batch entries or hold more than one value', () => {
    // The injection this check exists for: close the array, name another host, open a new one.
    expect(one('{"cursor":"a"}],"host":"victim","entries":[{"cursor":"b"}')).toBe(false);
    expect(one('{"a":1},{"b":2}')).toBe(false);
    expect(one('{"a":1} x')).toBe(false);
    expect(one('{"a":1}}')).toBe(false);
    expect(one('{"a":"unclosed}')).toBe(false);
    expect(one('{"a":"escaped quote at the end\\"}')).toBe(false);
    expect(one('{"a":[1}')).toBe(false);
    expect(one('[{"a":1}]')).toBe(false);
    expect(one('"text"')).toBe(false);
    expect(one('')).toBe(false);
  });

  it('ends the call at such a line with UPSTREAM_FAILED naming its position', () => {
    expect(() => entryFromLine(Buffer.from('{"a":1}],"host":"x","entries":[{}'), 7, 1000)).toThrow(
      expect.objectContaining({
        code: 'UPSTREAM_FAILED',
        message: 'agent sent an invalid entry (line 7 of this call: not one JSON object)',
      }),
    );
  });
});
