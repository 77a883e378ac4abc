import {
  entryField,
  JOURNAL_FIELDS,
  parseCursor,
  PLAIN_FIELDS,
  type EntryKey,
  type FieldSpec,
} from '../entry';
import { InfralogsError } from '../errors';

/**
 * The fields of one entry as the export scanner found them: byte ranges into the stream's buffers
 * (which stay valid while referenced), plus the identity rules of `entryFromFields`. A field's id
 * is its position in JOURNAL_FIELDS (ENTRY_FIELDS' journald names, the scanner's `wanted` list).
 * EntryReader turns a captured entry into an Entry; NdjsonEncoder writes its JSON line straight
 * from the bytes. Both must give exactly what `entryFromFields` gives; the tests hold them to it.
 */
export const fieldId = (key: EntryKey): number => JOURNAL_FIELDS.indexOf(entryField(key).journal!);
export const CURSOR = fieldId('cursor');
export const REALTIME = fieldId('realtimeUs');
export const SEQNUM = fieldId('seqnum');
export const SEQNUM_ID = fieldId('seqnumId');
export const BOOT_ID = fieldId('bootId');
export const MESSAGE = fieldId('message');
/** The generic (text and integer) fields with their ids, in wire order. */
export const PLAIN: readonly (FieldSpec & { id: number })[] = PLAIN_FIELDS.map((f) => ({
  ...f,
  id: JOURNAL_FIELDS.indexOf(f.journal!),
}));
const COUNT = JOURNAL_FIELDS.length;
// CapturedEntry keeps which fields it has in the bits of one 32-bit integer.
if (COUNT > 31) throw new Error(`CapturedEntry holds at most 31 journal fields, ENTRY_FIELDS has ${COUNT}`);

/** The bytes as a string when they are all ASCII, else null. */
export function asciiText(buf: Buffer, start: number, end: number): string | null {
  for (let i = start; i < end; i++) if (buf[i]! > 127) return null;
  return buf.toString('latin1', start, end);
}

/** Text of bytes as `Buffer.toString('utf8')` gives it, without the detour for plain ASCII. */
export function decode(buf: Buffer, start: number, end: number): string {
  return asciiText(buf, start, end) ?? buf.toString('utf8', start, end);
}

/** The entry model's integer rule: trimmed decimal digits, at most `max`, else null. */
export function integer(buf: Buffer, start: number, end: number, max: number): number | null {
  const length = end - start;
  if (length > 0 && length <= 16) {
    let n = 0;
    let i = start;
    for (; i < end; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
    }
    if (i === end) return n <= max ? n : null;
  }
  const s = buf.toString('utf8', start, end).trim();
  if (!s || !/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n <= max ? n : null;
}

/** Value + 1 of a lowercase hex digit, 0 for any other byte. */
const HEX = new Uint8Array(256);
for (let c = 48; c <= 57; c++) HEX[c] = c - 47;
for (let c = 97; c <= 102; c++) HEX[c] = c - 86;

/** `;<letter>=` at p. */
function tag(buf: Buffer, p: number, end: number, letter: number): boolean {
  return p + 3 <= end && buf[p] === 59 && buf[p + 1] === letter && buf[p + 2] === 61;
}

/** Where the run of lowercase hex digits starting at p ends. */
function hexEnd(buf: Buffer, p: number, end: number): number {
  while (p < end && HEX[buf[p]!] !== 0) p++;
  return p;
}

/** At most 13 hex digits, so the value is a safe integer. */
function hexValue(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 16 + HEX[buf[i]!]! - 1;
  return n;
}

/**
 * Reads the usual cursor shape `s=<32 hex>;i=<hex>;b=<32 hex>;m=<hex>;t=<hex>;x=<hex>` from its
 * bytes. Any other shape returns false and parseCursor decides, so this fast path never accepts
 * what parseCursor would reject, nor reads it differently.
 */
class CursorRanges {
  seqnumIdStart = 0;
  bootIdStart = 0;
  seqnum = 0;
  realtimeUs = 0;

  read(buf: Buffer, start: number, end: number): boolean {
    if (end - start < 2 || buf[start] !== 115 || buf[start + 1] !== 61) return false; // s=
    const s = start + 2;
    let p = hexEnd(buf, s, end);
    if (p - s !== 32 || !tag(buf, p, end, 105)) return false; // ;i=
    const i = p + 3;
    p = hexEnd(buf, i, end);
    if (p === i || p - i > 13 || !tag(buf, p, end, 98)) return false; // ;b=
    const seqnum = hexValue(buf, i, p);
    const b = p + 3;
    p = hexEnd(buf, b, end);
    if (p - b !== 32 || !tag(buf, p, end, 109)) return false; // ;m=
    const m = p + 3;
    p = hexEnd(buf, m, end);
    if (p === m || !tag(buf, p, end, 116)) return false; // ;t=
    const t = p + 3;
    p = hexEnd(buf, t, end);
    if (p === t || p - t > 13 || !tag(buf, p, end, 120)) return false; // ;x=
    if (hexEnd(buf, p + 3, end) !== end) return false;
    this.seqnumIdStart = s;
    this.bootIdStart = b;
    this.seqnum = seqnum;
    this.realtimeUs = hexValue(buf, t, p);
    return true;
  }
}

export class CapturedEntry {
  private readonly bufs: Buffer[] = [];
  private readonly starts: number[] = new Array<number>(COUNT).fill(0);
  private readonly ends: number[] = new Array<number>(COUNT).fill(0);
  /** Bit i set: field i has its (first) value. */
  private seen = 0;
  private readonly cursorRanges = new CursorRanges();

  /** Identity, after resolve(). */
  seqnum = 0;
  realtimeUs = 0;
  /** The cursor has the usual shape (so its bytes, s= and b= are plain ASCII). */
  cursorPlain = false;
  /** Set only when an unusual cursor had to be read by parseCursor. */
  seqnumIdText: string | null = null;
  bootIdText: string | null = null;

  constructor() {
    const none = Buffer.alloc(0);
    for (let i = 0; i < COUNT; i++) this.bufs.push(none);
  }

  /** The first value of a repeated field wins (as with sd_journal_get_data). */
  set(id: number, buf: Buffer, start: number, end: number): void {
    const bit = 1 << id;
    if ((this.seen & bit) !== 0) return;
    this.seen |= bit;
    this.bufs[id] = buf;
    this.starts[id] = start;
    this.ends[id] = end;
  }

  has(id: number): boolean {
    return (this.seen & (1 << id)) !== 0;
  }
  buf(id: number): Buffer {
    return this.bufs[id]!;
  }
  start(id: number): number {
    return this.starts[id]!;
  }
  end(id: number): number {
    return this.ends[id]!;
  }

  /** Field text as entryFromFields' `text()` gives it, or null when absent. */
  text(id: number): string | null {
    return this.has(id) ? decode(this.bufs[id]!, this.starts[id]!, this.ends[id]!) : null;
  }

  /** Field integer as entryFromFields' `int()` gives it. */
  integer(id: number, max: number): number | null {
    return this.has(id) ? integer(this.bufs[id]!, this.starts[id]!, this.ends[id]!, max) : null;
  }

  /** Whether the cursor's bytes are exactly `cursor` (compared as latin1: cursors are ASCII). */
  cursorIs(cursor: string): boolean {
    const buf = this.bufs[CURSOR]!;
    const start = this.starts[CURSOR]!;
    if (!this.has(CURSOR) || this.ends[CURSOR]! - start !== cursor.length) return false;
    for (let i = 0; i < cursor.length; i++) if (cursor.charCodeAt(i) !== buf[start + i]) return false;
    return true;
  }

  /**
   * Settles the identity as entryFromFields does: from __SEQNUM, __SEQNUM_ID, _BOOT_ID and
   * __REALTIME_TIMESTAMP, and from the cursor for whatever is missing. Throws BAD_CURSOR.
   */
  resolve(): void {
    if (!this.has(CURSOR) || this.ends[CURSOR] === this.starts[CURSOR]) {
      throw new InfralogsError('BAD_CURSOR', 'journal entry has no __CURSOR');
    }
    let seqnum = this.integer(SEQNUM, Number.MAX_SAFE_INTEGER);
    let realtimeUs = this.integer(REALTIME, Number.MAX_SAFE_INTEGER);
    if (seqnum === null || realtimeUs === null || !this.has(SEQNUM_ID) || !this.has(BOOT_ID)) {
      const buf = this.bufs[CURSOR]!;
      const c = this.cursorRanges;
      if (c.read(buf, this.starts[CURSOR]!, this.ends[CURSOR]!)) {
        this.cursorPlain = true;
        this.set(SEQNUM_ID, buf, c.seqnumIdStart, c.seqnumIdStart + 32);
        this.set(BOOT_ID, buf, c.bootIdStart, c.bootIdStart + 32);
        seqnum ??= c.seqnum;
        realtimeUs ??= c.realtimeUs;
      } else {
        const parsed = parseCursor(this.text(CURSOR)!);
        if (!this.has(SEQNUM_ID)) this.seqnumIdText = parsed.seqnumId;
        if (!this.has(BOOT_ID)) this.bootIdText = parsed.bootId;
        seqnum ??= parsed.seqnum;
        realtimeUs ??= parsed.realtimeUs;
      }
    }
    this.seqnum = seqnum;
    this.realtimeUs = realtimeUs;
  }

  /**
   * Whether the field holds exactly the decimal digits of `value` (no sign, space or leading
   * zero), so they can be copied as the JSON number.
   */
  isDecimalOf(id: number, value: number): boolean {
    if (!this.has(id)) return false;
    const buf = this.bufs[id]!;
    const start = this.starts[id]!;
    const end = this.ends[id]!;
    if (end - start > 16 || end === start || (buf[start] === 48 && end - start > 1)) return false;
    let n = 0;
    for (let i = start; i < end; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return false;
      n = n * 10 + d;
    }
    return n === value;
  }

  reset(): void {
    this.seen = 0;
    this.cursorPlain = false;
    this.seqnumIdText = null;
    this.bootIdText = null;
  }
}
