import { describe, expect, it } from 'vitest';
import type { CutLine } from '../src/cut-line';
import { ndjsonLines } from '../src/ndjson';

/** The lines read, whole ones as text (a whole line is a view of its chunk: copied here). */
async function collect(source: AsyncIterable<Buffer | string>, max = 1000) {
  const lines: (string | CutLine)[] = [];
  for await (const line of ndjsonLines(source, max))
    lines.push(Buffer.isBuffer(line) ? line.toString() : line);
  return lines;
}

async function* chunks(...parts: (Buffer | string)[]) {
  for (const p of parts) yield p;
}

/** `bytes` cut into pieces of `size` bytes: every kind of boundary, multi-byte characters too. */
const pieces = (bytes: Buffer, size: number) =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

describe('ndjsonLines', () => {
  it('splits lines across chunk boundaries, also inside a multi-byte character', async () => {
    const text = '{"a":"é€"}\n{"b":"😀"}\n\n{"c":1}';
    // Cut every byte apart: every boundary, including the middle of each UTF-8 sequence.
    expect(await collect(chunks(...pieces(Buffer.from(text), 1)))).toEqual([
      '{"a":"é€"}',
      '{"b":"😀"}',
      '{"c":1}',
    ]);
  });

  it('yields a line of exactly the limit whole', async () => {
    const line = JSON.stringify({ m: 'é'.repeat(40) }); // 88 bytes
    expect(await collect(chunks(...pieces(Buffer.from(`${line}\n{"n":1}\n`), 7)), 88)).toEqual([
      line,
      '{"n":1}',
    ]);
  });

  it('cuts a line over the limit instead of holding it, and goes on with the next line', async () => {
    const message = `${'grüße '.repeat(300)}end`;
    const long = JSON.stringify({ cursor: 'c1', message, pid: 7 });
    const after = JSON.stringify({ cursor: 'c2', message: 'short' });
    for (const size of [1, 13, 4096]) {
      const lines = await collect(chunks(...pieces(Buffer.from(`${long}\n${after}`), size)), 200);
      expect(lines).toHaveLength(2);
      const cut = lines[0] as CutLine;
      expect(cut.bytes).toBe(Buffer.byteLength(long));
      expect(cut.cut).toEqual({ message: { bytes: Buffer.byteLength(message), tail: 'nd' } });
      const value = JSON.parse(cut.text) as { cursor: string; message: string; pid: number };
      expect(value.cursor).toBe('c1');
      expect(value.pid).toBe(7);
      expect(message.startsWith(value.message)).toBe(true);
      expect(Buffer.byteLength(value.message)).toBeLessThanOrEqual(200);
      expect(Buffer.byteLength(value.message)).toBeGreaterThan(196); // cut between characters
      expect(lines[1]).toBe(after);
    }
  });

  it('refuses an over-long line that is not one flat JSON object, complete or still open', async () => {
    await expect(collect(chunks(`${'x'.repeat(50)}\n`), 20)).rejects.toMatchObject({
      code: 'UPSTREAM_FAILED',
    });
    await expect(collect(chunks(`{"a":"${'y'.repeat(30)}`), 20)).rejects.toMatchObject({
      code: 'UPSTREAM_FAILED',
    });
    await expect(collect(chunks(`{"a":{"b":"${'y'.repeat(30)}"}}\n`), 20)).rejects.toMatchObject({
      code: 'UPSTREAM_FAILED',
    });
  });

  it('passes a source error on and never yields the line it cut', async () => {
    async function* broken() {
      yield Buffer.from('{"a":1}\n{"b":');
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const line of ndjsonLines(broken(), 100)) seen.push(line.toString());
      })(),
    ).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(seen).toEqual(['{"a":1}']);
  });

  it('yields the bytes of a line as they came, invalid UTF-8 and white space inside it too', async () => {
    const line = Buffer.concat([Buffer.from('{"m":"a'), Buffer.from([0xff, 0xc3]), Buffer.from('\t b"} ')]);
    const seen: Buffer[] = [];
    for await (const l of ndjsonLines(
      chunks(...pieces(Buffer.concat([line, Buffer.from('\n \r\n')]), 3)),
      100,
    ))
      seen.push(Buffer.from(l as Buffer));
    expect(seen).toEqual([line]);
  });
});
