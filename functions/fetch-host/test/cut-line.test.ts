import { describe, expect, it } from 'vitest';
import { LineCutter, utf8Prefix } from '../src/cut-line';

/** Feeds `text` to a cutter in pieces of `size` code points (StringDecoder never splits one). */
function cutLine(text: string, keepBytes: number, size = text.length) {
  const cutter = new LineCutter(keepBytes);
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i += size) cutter.write(chars.slice(i, i + size).join(''));
  return cutter.end();
}

describe('LineCutter', () => {
  const value = {
    cursor: 's=1;i=2',
    message: `${'\n\u0001"\\'.repeat(50)}${'日本語🙂'.repeat(40)}`,
    messageRaw: 'QUJD'.repeat(30) + 'QQ==',
    seqnum: 12,
    realtimeUs: 9e15,
    pid: null,
    ok: true,
  };
  const text = ` ${JSON.stringify(value, null, 1)} `;

  it('keeps a flat object whole when every value fits', () => {
    const cut = cutLine(text, 10_000);
    expect(JSON.parse(cut.text)).toEqual(value);
    expect(cut.cut).toEqual({});
    expect(cut.bytes).toBe(Buffer.byteLength(text));
  });

  it('cuts long string values to valid JSON, never inside an escape or a character, piece size aside', () => {
    for (const size of [1, 2, 3, 5, 64, text.length]) {
      const cut = cutLine(text, 101, size);
      const parsed = JSON.parse(cut.text) as typeof value;
      expect(parsed.cursor).toBe(value.cursor);
      expect(parsed.seqnum).toBe(12);
      expect(parsed.realtimeUs).toBe(9e15);
      expect(parsed.pid).toBeNull();
      expect(parsed.ok).toBe(true);
      expect(value.message.startsWith(parsed.message)).toBe(true);
      expect(value.messageRaw.startsWith(parsed.messageRaw)).toBe(true);
      // What was kept of each value: at most 101 bytes of its JSON text, the most that fits.
      const json = (s: string) => Buffer.byteLength(JSON.stringify(s)) - 2;
      expect(json(parsed.message)).toBeLessThanOrEqual(101);
      expect(json(parsed.message)).toBeGreaterThan(101 - 6);
      expect(parsed.messageRaw).toHaveLength(101);
      expect(cut.cut).toEqual({
        message: { bytes: Buffer.byteLength(value.message), tail: '🙂' },
        messageRaw: { bytes: value.messageRaw.length, tail: '==' },
      });
    }
  });

  it('refuses what is not one flat JSON object', () => {
    for (const bad of [
      '[1,2]',
      '{"a":{"b":1}}',
      '{"a":[1]}',
      '{"a":1',
      '{"a" 1}',
      '{"a":"x"} extra',
      '{"a":"x\\q"}',
    ]) {
      expect(() => cutLine(bad, 10), bad).toThrow(expect.objectContaining({ code: 'UPSTREAM_FAILED' }));
    }
    expect(() => cutLine(`{"${'k'.repeat(300)}":1}`, 10_000)).toThrow(
      expect.objectContaining({ code: 'UPSTREAM_FAILED' }),
    );
  });
});

describe('utf8Prefix', () => {
  it('cuts between characters, at most the given bytes', () => {
    expect(utf8Prefix('aé€😀', 100)).toBe('aé€😀');
    expect(utf8Prefix('aé€😀', 6)).toBe('aé€');
    expect(utf8Prefix('aé€😀', 5)).toBe('aé');
    expect(utf8Prefix('aé€😀', 9)).toBe('aé€');
    expect(utf8Prefix('aé€😀', 10)).toBe('aé€😀');
    expect(utf8Prefix('é', 1)).toBe('');
  });
});
