import { describe, expect, it } from 'vitest';
import type { Entry } from '@infralogs/core';
import { Batcher, entryText, entryTexts, leadingPart, oneObject, type Batch } from '../src/batches';

/** The entries a batch sends, parsed from its body. */
const entriesOf = (b: Batch) => (JSON.parse(bodyOf(b)) as { entries: Entry[] }).entries;
const bodyOf = (b: Batch) => b.body.toString();
const line = (e: Entry) => Buffer.from(JSON.stringify(e));

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
    const full = batcher.add(line(e), i + 1);
    if (full) batches.push(full);
  }
  const rest = batcher.flush();
  if (rest) batches.push(rest);
  return batches;
}

describe('entryText', () => {
  it("gives each entry's text back from the body, the first and the last too", () => {
    const entries = [entry(1, 'é€😀'), entry(2, 'a,b]}'), entry(3, '')];
    const [batch] = cut(new Batcher('web-1', limits(1_000_000, 10)), entries);
    expect(entryTexts(batch!)).toEqual(entries.map((e) => JSON.stringify(e)));
    expect(entryText(batch!, 2)).toBe(JSON.stringify(entries[2]));
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
      expect(b.body.length).toBe(Buffer.byteLength(body));
      expect(b.body.length).toBeLessThanOrEqual(maxBytes);
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
      expect(b.body.length + 1 + Buffer.byteLength(JSON.stringify(next))).toBeGreaterThan(3000);
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
    expect(alone.body.length).toBe(Buffer.byteLength(JSON.stringify({ host: 'h', entries: [huge] })));
    expect(alone.body.length).toBeGreaterThan(4096);
    // Two large entries in a row: each alone.
    const twice = cut(new Batcher('h', limits(4096, 10)), [huge, { ...huge, seqnum: 4 }]);
    expect(twice.map((b) => entriesOf(b).length)).toEqual([1, 1]);
  });

  it('refuses an entry over the entry limit, naming its position, and keeps what came before', () => {
    const batcher = new Batcher('h', { maxBytes: 4096, maxEntries: 10, maxEntryBytes: 10_000 });
    expect(batcher.add(line(entry(1)), 1)).toBeNull();
    const huge = entry(2, 'x'.repeat(10_000));
    expect(() => batcher.add(line(huge), 2)).toThrow(
      expect.objectContaining({
        code: 'PAYLOAD_TOO_LARGE',
        details: expect.objectContaining({ position: 2 }),
      }),
    );
    expect(entriesOf(batcher.flush()!).map((e) => e.seqnum)).toEqual([1]);
  });

  it('sends each entry as the bytes it came in, even bytes that are not UTF-8', () => {
    const lines = [entry(1), entry(2, 'é€😀')].map((e) =>
      Buffer.from(JSON.stringify(e).replace('"pid":42', '"pid":4.2e1')),
    );
    lines.push(Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0x66, 0xff]), Buffer.from('"}')]));
    const batcher = new Batcher('web-"1"', limits(1_000_000, 10));
    for (const [i, bytes] of lines.entries()) expect(batcher.add(bytes, i + 7)).toBeNull();
    const batch = batcher.flush()!;
    const separated = lines.flatMap((l, i) => (i === 0 ? [l] : [Buffer.from(','), l]));
    expect(batch.body).toEqual(
      Buffer.concat([Buffer.from('{"host":"web-\\"1\\"","entries":['), ...separated, Buffer.from(']}')]),
    );
    expect(batch.first).toBe(7);
    expect(entriesOf(batch).slice(0, 2)).toEqual([entry(1), entry(2, 'é€😀')]);
    // Texts made by JSON.stringify give JSON.stringify's body exactly.
    const plain = cut(new Batcher('h', limits(1_000_000, 10)), [entry(1), entry(2)])[0]!;
    expect(bodyOf(plain)).toBe(JSON.stringify({ host: 'h', entries: [entry(1), entry(2)] }));
  });

  it('cuts a batch after its first entries, as the body of those alone', () => {
    const entries = [entry(1, 'é€😀'), entry(2), entry(3)];
    const [batch] = cut(new Batcher('wéb', limits(1_000_000, 100)), entries);
    const part = leadingPart(batch!, 2);
    expect(bodyOf(part)).toBe(JSON.stringify({ host: 'wéb', entries: entries.slice(0, 2) }));
    expect(part.starts).toEqual(batch!.starts.slice(0, 2));
    expect(part.first).toBe(batch!.first);
    expect(leadingPart(batch!, 3)).toBe(batch);
  });

  it('fills the buffer of a stored batch again, and gives it to one batch only', () => {
    const batcher = new Batcher('h', limits(1_000_000, 3));
    const batches: Batch[] = [];
    for (let i = 1; i <= 12; i++) {
      const full = batcher.add(line(entry(i)), i);
      if (!full) continue;
      batches.push(full);
      // The first batch is stored once the second is being filled; recycled twice by mistake.
      if (batches.length === 1) {
        batcher.recycle(full);
        batcher.recycle(full);
      }
    }
    const [b1, b2, b3] = batches as [Batch, Batch, Batch];
    expect(b3.body.buffer).toBe(b1.body.buffer);
    expect(b2.body.buffer).not.toBe(b1.body.buffer);
    expect(batcher.flush()!.body.buffer).not.toBe(b1.body.buffer);
    expect(entriesOf(b3).map((e) => e.seqnum)).toEqual([7, 8, 9]);
  });

  it('flushes nothing when empty', () => {
    expect(new Batcher('h', limits(5000, 5)).flush()).toBeNull();
  });
});

describe('oneObject', () => {
  const one = (text: string) => oneObject(Buffer.from(text));

  it.each([
    '{}',
    '  {"a":1} \r',
    '{"m":"}],\\"host\\":\\"x\\",\\"entries\\":[{"}',
    '{"m":"ends in a backslash\\\\","n":[1,{"o":"]"}]}',
    '{"m":"\\\\\\"still inside\\\\\\\\"}',
    JSON.stringify({ cursor: 's=1', message: 'é€😀 {[', pid: null }),
  ])('accepts one object, whatever its strings hold: %s', (line) => {
    expect(one(line)).toBe(true);
  });

  it.each([
    // The injection this check exists for: close the array, name another host, open a new one.
    '{"cursor":"a"}],"host":"victim","entries":[{"cursor":"b"}',
    '{"a":1},{"b":2}',
    '{"a":1} x',
    '{"a":1}}',
    '{"a":"unclosed}',
    '{"a":"escaped quote at the end\\"}',
    '{"a":[1}',
    '[{"a":1}]',
    '"text"',
    '',
  ])('refuses a line that could end the entries or holds more than one value: %s', (line) => {
    expect(one(line)).toBe(false);
  });

  it('is checked by the batcher, which refuses such a line with UPSTREAM_FAILED and keeps the batch', () => {
    const batcher = new Batcher('h', limits(1_000_000, 10));
    expect(batcher.add(line(entry(1)), 6)).toBeNull();
    expect(() => batcher.add(Buffer.from('{"a":1}],"host":"x","entries":[{}'), 7)).toThrow(
      expect.objectContaining({
        code: 'UPSTREAM_FAILED',
        message: 'agent sent an invalid entry (line 7 of this call: not one JSON object)',
      }),
    );
    expect(bodyOf(batcher.flush()!)).toBe(JSON.stringify({ host: 'h', entries: [entry(1)] }));
  });
});
