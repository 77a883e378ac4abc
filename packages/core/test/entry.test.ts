import { describe, expect, it } from 'vitest';
import {
  entryFromFields,
  entrySchema,
  isValidUtf8,
  parseCursor,
  parsePriorityRange,
  type JournalFields,
} from '../src/entry';
import { InfralogsError } from '../src/errors';

const CURSOR =
  's=8c7196499b954413a742eb1e2107fa5d;i=1;b=0ffe5f74a4bd49ca8597eb05fe1a512a;m=39f445;t=6225212a5b6da;x=3f056d2626450d83';

const fields = (o: Record<string, string | Buffer | (string | Buffer)[]>): JournalFields =>
  new Map(
    Object.entries(o).map(([k, v]) => [
      k,
      (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x))),
    ]),
  );

describe('parseCursor', () => {
  it('reads seqnum id, seqnum, boot id and realtime from a cursor', () => {
    const c = parseCursor(CURSOR);
    expect(c).toEqual({
      seqnumId: '8c7196499b954413a742eb1e2107fa5d',
      seqnum: 1,
      bootId: '0ffe5f74a4bd49ca8597eb05fe1a512a',
      monotonicUs: 0x39f445,
      realtimeUs: 1726585755776730,
    });
  });
  it.each(['', 'garbage', 's=zz;i=1;b=0;m=1;t=1;x=1', CURSOR.replace('i=1;', '')])(
    'rejects %j with BAD_CURSOR',
    (c) => {
      expect(() => parseCursor(c)).toThrowError(
        expect.objectContaining({ code: 'BAD_CURSOR' }) as InfralogsError,
      );
    },
  );
});

describe('entryFromFields', () => {
  it('takes identity from the cursor when __SEQNUM fields are missing (older systemd)', () => {
    const e = entryFromFields(fields({ __CURSOR: CURSOR, MESSAGE: 'hi', PRIORITY: '5', _PID: '42' }));
    expect(e).toMatchObject({
      seqnumId: '8c7196499b954413a742eb1e2107fa5d',
      seqnum: 1,
      realtimeUs: 1726585755776730,
    });
    expect(e).toMatchObject({ message: 'hi', messageRaw: null, priority: 5, pid: 42 });
    expect(entrySchema.parse(e)).toEqual(e);
  });
  it('keeps invalid UTF-8 as base64 next to a lossy text', () => {
    const raw = Buffer.from([0x66, 0xff, 0x6f, 0x0d]);
    const e = entryFromFields(fields({ __CURSOR: CURSOR, MESSAGE: raw }));
    expect(isValidUtf8(raw)).toBe(false);
    expect(Buffer.from(e.messageRaw!, 'base64')).toEqual(raw);
    expect(e.message).toBe('f\uFFFDo\r');
  });
  it('maps a missing or out-of-range PRIORITY and _PID to null and keeps the first repeated value', () => {
    const e = entryFromFields(fields({ __CURSOR: CURSOR, PRIORITY: '9', MESSAGE: ['first', 'second'] }));
    expect(e.priority).toBeNull();
    expect(e.pid).toBeNull();
    expect(e.message).toBe('first');
  });
});

describe('parsePriorityRange', () => {
  it('reads a level (and everything more severe), names, and ranges in either order', () => {
    expect(parsePriorityRange('3')).toEqual({ from: 0, to: 3 });
    expect(parsePriorityRange('Warning')).toEqual({ from: 0, to: 4 });
    expect(parsePriorityRange('info..err')).toEqual({ from: 3, to: 6 });
  });
  it.each(['8', '', 'loud', '1..', '1..2..3', '-1'])('refuses %j', (v) => {
    expect(parsePriorityRange(v)).toBeNull();
  });
});
