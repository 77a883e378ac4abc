import { describe, expect, it } from 'vitest';
import { entrySchema, messageBytes, SHORTENED_TEXT_BYTES, validateBatch, type Entry } from '@infralogs/core';
import { entryFromLine } from '../src/entry-line';
import { ndjsonLines } from '../src/ndjson';
import { entryBytes, truncateEntry, truncationMarker } from '../src/truncate';

const entry = (seqnum: number, over: Partial<Entry> = {}): Entry => ({
  cursor: `s=${'a'.repeat(32)};i=${seqnum.toString(16)};b=${'b'.repeat(32)};m=1;t=1;x=1`,
  bootId: 'b'.repeat(32),
  seqnumId: 'a'.repeat(32),
  seqnum,
  realtimeUs: 1_764_504_000_000_000 + seqnum,
  message: `message ${seqnum}`,
  messageRaw: null,
  hostname: 'web-1',
  comm: 'app',
  pid: 42,
  priority: 6,
  syslogIdentifier: 'app',
  unit: 'app.service',
  machineId: 'c'.repeat(32),
  transport: 'journal',
  ...over,
});

/** Bytes that are not valid UTF-8 (0x80-0xff everywhere), deterministic. */
const binary = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 0x80) % 256));
const withRaw = (raw: Buffer, over: Partial<Entry> = {}) =>
  entry(1, { message: raw.toString('utf8'), messageRaw: raw.toString('base64'), ...over });

/** The checks every truncated entry passes: valid, within the limit, marked, a prefix of the original. */
function expectTruncated(result: Entry, original: Buffer, maxBytes: number) {
  expect(entrySchema.safeParse(result).success).toBe(true);
  expect(entryBytes(result)).toBeLessThanOrEqual(maxBytes);
  const stored = messageBytes(result)!;
  const marker = Buffer.from(truncationMarker(original.length));
  expect(stored.subarray(-marker.length)).toEqual(marker);
  const kept = stored.subarray(0, stored.length - marker.length);
  expect(kept).toEqual(original.subarray(0, kept.length));
  // message and messageRaw agree, as the agent sends them: raw only when the bytes are not UTF-8.
  expect(result.message).toBe(stored.toString('utf8'));
  return kept;
}

describe('truncateEntry', () => {
  it('cuts a UTF-8 message between characters, marks it with the original size and fits', () => {
    const message = 'é€😀x'.repeat(50_000);
    const result = truncateEntry(entry(1, { message }), 100_000, {
      bytes: Buffer.byteLength(message),
      partial: false,
    });
    const kept = expectTruncated(result, Buffer.from(message), 100_000);
    expect(result.messageRaw).toBeNull();
    expect(kept.length).toBeGreaterThan(90_000);
  });

  it('fits a message made of escapes (six JSON bytes per byte)', () => {
    const message = '\u0001'.repeat(200_000);
    const result = truncateEntry(entry(1, { message }), 100_000, { bytes: 200_000, partial: false });
    expectTruncated(result, Buffer.from(message), 100_000);
  });

  it('keeps invalid UTF-8 as base64 of the kept bytes plus the marker, with their lossy text', () => {
    const raw = binary(300_000);
    const result = truncateEntry(withRaw(raw), 100_000, { bytes: raw.length, partial: false });
    expectTruncated(result, raw, 100_000);
    expect(result.messageRaw).not.toBeNull();
  });

  it('drops messageRaw when the kept part is valid UTF-8', () => {
    const raw = Buffer.concat([Buffer.from('a'.repeat(200_000)), Buffer.from([0xff])]);
    const result = truncateEntry(withRaw(raw), 100_000, { bytes: raw.length, partial: false });
    expectTruncated(result, raw, 100_000);
    expect(result.messageRaw).toBeNull();
  });

  it('caps the other text fields and leaves a message that fits unmarked', () => {
    const big = entry(1, { message: 'short', syslogIdentifier: 'i'.repeat(200_000), unit: 'u'.repeat(100) });
    const result = truncateEntry(big, 100_000, { bytes: 5, partial: false });
    expect(result).toEqual({ ...big, syslogIdentifier: 'i'.repeat(SHORTENED_TEXT_BYTES) });
  });

  it('marks a message that was read only in part, even when it fits', () => {
    const result = truncateEntry(entry(1, { message: 'leading part' }), 100_000, {
      bytes: 5_000_000,
      partial: true,
    });
    expect(result.message).toBe(`leading part${truncationMarker(5_000_000)}`);
  });
});

describe('entryFromLine', () => {
  async function readOne(line: string, maxBytes: number) {
    async function* source() {
      yield Buffer.from(`${line}\n`);
    }
    for await (const l of ndjsonLines(source(), maxBytes)) {
      const { json, ...rest } = entryFromLine(l, 1, maxBytes);
      return { json: json.toString(), ...rest };
    }
    throw new Error('no line');
  }

  it('passes a whole line on as its own text, unparsed', async () => {
    const e = entry(3, { message: 'x'.repeat(10_000) });
    expect(await readOne(JSON.stringify(e), 100_000)).toEqual({ json: JSON.stringify(e) });
    // The line's own text, not a new serialization: 1.7e15 stays as the agent wrote it.
    const line = JSON.stringify(entry(4, { realtimeUs: 1_700_000_000_000_000 })).replace(
      '"realtimeUs":1700000000000000',
      '"realtimeUs":1.7e15',
    );
    expect(await readOne(line, 100_000)).toEqual({ json: line });
    // Even a line that is no entry: ingest refuses it, and fetch-host then names it (firstInvalid).
    expect(await readOne('{"cursor":"not an entry"}', 100_000)).toEqual({
      json: '{"cursor":"not an entry"}',
    });
  });

  it('turns a line cut while read into a truncated entry, reporting its sizes but no content', async () => {
    const raw = binary(1_500_000);
    const e = withRaw(raw, { seqnum: 4, syslogIdentifier: 'app' });
    const line = JSON.stringify(e);
    const { json, truncated } = await readOne(line, 200_000);
    const result = JSON.parse(json) as Entry;
    const kept = expectTruncated(result, raw, 200_000);
    expect(result).toMatchObject({ cursor: e.cursor, seqnum: 4, syslogIdentifier: 'app' });
    expect(truncated).toEqual({
      cursor: e.cursor,
      bytes: Buffer.byteLength(line),
      messageBytes: raw.length,
      keptBytes: kept.length,
    });
  });

  it("sends an older agent's line as it is, for ingest to complete with nulls", async () => {
    // An agent older than machineId and transport leaves them out; ingest reads them as null.
    const e = entry(5, { message: 'y'.repeat(150_000), machineId: null, transport: null });
    const { machineId: _m, transport: _t, ...older } = e;
    const line = JSON.stringify(older);
    expect(await readOne(line, Buffer.byteLength(line))).toEqual({ json: line });
    expect(validateBatch({ host: 'h', entries: [JSON.parse(line)] }).entries).toEqual([e]);
  });

  it("truncates an older agent's line cut while read, completing it with nulls", async () => {
    const e = entry(6, { message: 'z'.repeat(300_000), machineId: null, transport: null });
    const { machineId: _m, transport: _t, ...older } = e;
    const { json, truncated } = await readOne(JSON.stringify(older), 100_000);
    const result = JSON.parse(json) as Entry;
    expectTruncated(result, Buffer.from(e.message!), 100_000);
    expect(result).toMatchObject({ machineId: null, transport: null, seqnum: 6 });
    expect(truncated).toMatchObject({ cursor: e.cursor, messageBytes: 300_000 });
  });
});
