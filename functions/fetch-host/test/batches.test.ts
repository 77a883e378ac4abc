import { describe, expect, it } from 'vitest';
import type { Entry } from '@infralogs/core';
import { batchBody, Batcher, leadingPart, type Batch } from '../src/batches';

/** The entries a batch sends: it keeps their texts only. */
const entriesOf = (b: Batch) => b.json.map((j) => JSON.parse(j) as Entry);
const bodyOf = (b: Batch) => Buffer.concat([...batchBody(b)]).toString();

const entry = (seqnum: number, message = `message ${seqnum}`): Entry => ({
  cursor: `s=${'a'.repeat(32)};i=${seqnum.toString(16)};b=${'b'.repeat(32)};m=1;t=1;x=1`,
  bootId: 'b'.repeat(32),
  seqnumId: 'a'.repeat(32),
  seqnum,
  realtimeUs: 1_700_000_000_000_000 + seqnum,
  message,
  messageRaw: null,
  hostname: 'web-1',
  comm: 'sshd',
  pid: 42,
  priority: 6,
  syslogIdentifier: 'sshd',
  unit: null,
  machineId: null,
  transport: 'syslog',
});

const limits = (maxBytes: number, maxEntries: number) => ({ maxBytes, maxEntries, maxEntryBytes: 100_000 });

/** Feeds entries through a batcher and returns every batch, in order. */
function cut(batcher: Batcher, entries: Entry[]) {
  const batches = [];
  for (const [i, e] of entries.entries()) {
    const full = batcher.add(JSON.stringify(e), i + 1);
    if (full) batches.push(full);
  }
  const rest = batcher.flush();
  if (rest) batches.push(rest);
  return batches;
}

describe('batchBody', () => {
  it('streams a large batch in small pieces that add up to its exact bytes', () => {
    const entries = Array.from({ length: 100 }, (_, i) => entry(i + 1, 'x'.repeat(2000)));
    const [batch] = cut(new Batcher('web-1', limits(1_000_000, 10_000)), entries);
    const pieces = [...batchBody(batch!)];
    expect(pieces.length).toBeGreaterThan(2);
    for (const p of pieces) expect(p.length).toBeLessThan(70 * 1024);
    expect(Buffer.concat(pieces).toString()).toBe(JSON.stringify({ host: 'web-1', entries }));
    expect(Buffer.concat(pieces).length).toBe(batch!.bytes);
  });
});

describe('Batcher', () => {
  it('reports the exact serialized size of each batch and never exceeds the byte limit', () => {
    const entries = Array.from({ length: 500 }, (_, i) => entry(i + 1, 'é€😀'.repeat(i % 17)));
    const maxBytes = 8000;
    const batches = cut(new Batcher('web-1', limits(maxBytes, 10_000)), entries);
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) {
      const body = JSON.stringify({ host: b.host, entries: entriesOf(b) });
      expect(b.bytes).toBe(Buffer.byteLength(body));
      expect(b.bytes).toBeLessThanOrEqual(maxBytes);
    }
    // Order and completeness: the batches concatenated are the input.
    expect(batches.flatMap((b) => entriesOf(b).map((e) => e.seqnum))).toEqual(entries.map((e) => e.seqnum));
  });

  it('fills a batch as far as the byte limit allows', () => {
    const entries = Array.from({ length: 50 }, (_, i) => entry(i + 1));
    const batches = cut(new Batcher('h', limits(3000, 10_000)), entries);
    for (const [i, b] of batches.entries()) {
      if (i === batches.length - 1) continue;
      const next = entriesOf(batches[i + 1]!)[0]!;
      // The first entry of the next batch would not have fitted.
      expect(b.bytes + 1 + Buffer.byteLength(JSON.stringify(next))).toBeGreaterThan(3000);
    }
  });

  it('cuts by count as well', () => {
    const batches = cut(
      new Batcher('h', limits(1_000_000, 7)),
      Array.from({ length: 20 }, (_, i) => entry(i)),
    );
    expect(batches.map((b) => entriesOf(b).length)).toEqual([7, 7, 6]);
  });

  it('gives an entry larger than a batch a batch of its own, in order', () => {
    const batcher = new Batcher('h', limits(4096, 10));
    const huge = entry(3, 'x'.repeat(20_000));
    const batches = cut(batcher, [entry(1), entry(2), huge, entry(4), entry(5)]);
    expect(batches.map((b) => entriesOf(b).map((e) => e.seqnum))).toEqual([[1, 2], [3], [4, 5]]);
    const alone = batches[1]!;
    expect(alone.bytes).toBe(Buffer.byteLength(JSON.stringify({ host: 'h', entries: [huge] })));
    expect(alone.bytes).toBeGreaterThan(4096);
    // Two large entries in a row: each alone.
    const twice = cut(new Batcher('h', limits(4096, 10)), [huge, { ...huge, seqnum: 4 }]);
    expect(twice.map((b) => entriesOf(b).length)).toEqual([1, 1]);
  });

  it('refuses an entry over the entry limit, naming its position, and keeps what came before', () => {
    const batcher = new Batcher('h', { maxBytes: 4096, maxEntries: 10, maxEntryBytes: 10_000 });
    expect(batcher.add(JSON.stringify(entry(1)), 1)).toBeNull();
    const huge = entry(2, 'x'.repeat(10_000));
    expect(() => batcher.add(JSON.stringify(huge), 2)).toThrow(
      expect.objectContaining({
        code: 'PAYLOAD_TOO_LARGE',
        details: expect.objectContaining({ position: 2 }),
      }),
    );
    expect(entriesOf(batcher.flush()!).map((e) => e.seqnum)).toEqual([1]);
  });

  it("sends each entry as the text it came in, and counts that text's bytes", () => {
    const lines = [entry(1), entry(2, 'é€😀')].map((e) =>
      JSON.stringify(e).replace('"pid":42', '"pid":4.2e1'),
    );
    const batcher = new Batcher('web-"1"', limits(1_000_000, 10));
    for (const [i, line] of lines.entries()) expect(batcher.add(line, i + 7)).toBeNull();
    const batch = batcher.flush()!;
    const body = bodyOf(batch);
    expect(body).toBe(`{"host":"web-\\"1\\"","entries":[${lines.join(',')}]}`);
    expect(batch.bytes).toBe(Buffer.byteLength(body));
    expect(batch.first).toBe(7);
    expect(JSON.parse(body)).toEqual({ host: 'web-"1"', entries: [entry(1), entry(2, 'é€😀')] });
    // Texts made by JSON.stringify give JSON.stringify's body exactly.
    const plain = cut(new Batcher('h', limits(1_000_000, 10)), [entry(1), entry(2)])[0]!;
    expect(bodyOf(plain)).toBe(JSON.stringify({ host: 'h', entries: entriesOf(plain) }));
  });

  it('cuts a batch at an entry, with the exact size of the part kept', () => {
    const [batch] = cut(new Batcher('wéb', limits(1_000_000, 100)), [entry(1, 'é€😀'), entry(2), entry(3)]);
    const part = leadingPart(batch!, 2);
    expect(entriesOf(part).map((e) => e.seqnum)).toEqual([1, 2]);
    expect(part.first).toBe(batch!.first);
    expect(part.bytes).toBe(Buffer.byteLength(bodyOf(part)));
    expect(part.bytes).toBeLessThan(batch!.bytes);
  });

  it('flushes nothing when empty', () => {
    expect(new Batcher('h', limits(5000, 5)).flush()).toBeNull();
  });
});
