import { describe, expect, it } from 'vitest';
import { ndjsonLines } from '../src/ndjson';

async function collect(source: AsyncIterable<Buffer | string>, max = 1000) {
  const lines: string[] = [];
  for await (const line of ndjsonLines(source, max)) lines.push(line);
  return lines;
}

async function* chunks(...parts: (Buffer | string)[]) {
  for (const p of parts) yield p;
}

describe('ndjsonLines', () => {
  it('splits lines across chunk boundaries, also inside a multi-byte character', async () => {
    const text = '{"a":"é€"}\n{"b":"😀"}\n\n{"c":1}';
    const bytes = Buffer.from(text);
    // Cut every byte apart: every boundary, including the middle of each UTF-8 sequence.
    const parts = [...bytes].map((b) => Buffer.from([b]));
    expect(await collect(chunks(...parts))).toEqual(['{"a":"é€"}', '{"b":"😀"}', '{"c":1}']);
  });

  it('refuses a line longer than the limit, complete or still open', async () => {
    await expect(collect(chunks(`${'x'.repeat(50)}\n`), 20)).rejects.toMatchObject({
      code: 'UPSTREAM_FAILED',
    });
    await expect(collect(chunks('y'.repeat(30)), 20)).rejects.toMatchObject({ code: 'UPSTREAM_FAILED' });
  });

  it('passes a source error on and never yields the line it cut', async () => {
    async function* broken() {
      yield Buffer.from('{"a":1}\n{"b":');
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const line of ndjsonLines(broken(), 100)) seen.push(line);
      })(),
    ).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(seen).toEqual(['{"a":1}']);
  });
});
