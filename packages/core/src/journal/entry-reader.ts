import { isUtf8 } from 'node:buffer';
import { parseCursor, type Entry } from '../entry';
import { InfralogsError } from '../errors';
import { ExportScanner, type ExportSink, type FieldName } from './export-parser';
import { ENTRY_FIELDS, type InvalidLine, type JournalReader } from './reader';

/**
 * `journalctl -o export` → Entry objects, the agent's hot path. It gives exactly what
 * `entryFromFields` gives for the same entry (the tests hold it to that on real journals), but
 * decodes only the twelve fields the entry needs, straight from the stream's bytes.
 */
export interface EntryReaderHandlers {
  onEntry: (entry: Entry) => void;
  onInvalid?: (problem: InvalidLine) => void;
  /** An entry that cannot become an Entry (no cursor, no identity); it is skipped. */
  onUnmapped?: (error: InfralogsError) => void;
}

const CURSOR = 0;
const REALTIME = 1;
const SEQNUM = 2;
const SEQNUM_ID = 3;
const BOOT_ID = 4;
const MESSAGE = 5;
const HOSTNAME = 6;
const COMM = 7;
const PID = 8;
const PRIORITY = 9;
const SYSLOG_IDENTIFIER = 10;
const UNIT = 11;

/** Text of a value as `Buffer.toString('utf8')` gives it, without the detour for plain ASCII. */
function decode(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) if (buf[i]! > 127) return buf.toString('utf8', start, end);
  return buf.toString('latin1', start, end);
}

/** The entry model's integer rule (trimmed decimal digits, at most `max`, else null). */
function integer(buf: Buffer, start: number, end: number, max: number): number | null {
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

/**
 * Reads the usual cursor shape `s=<32 hex>;i=<hex>;b=<32 hex>;m=<hex>;t=<hex>;x=<hex>` from its
 * bytes. Returns false for any other shape (then parseCursor decides), so the fast path never
 * accepts what parseCursor would reject.
 */
class CursorFields {
  seqnumId = '';
  seqnum = 0;
  bootId = '';
  realtimeUs = 0;

  read(buf: Buffer, start: number, end: number): boolean {
    // s=<32 hex>
    if (end - start < 2 || buf[start] !== 115 || buf[start + 1] !== 61) return false;
    const s = start + 2;
    let p = hexEnd(buf, s, end);
    if (p - s !== 32) return false;
    // ;i=<hex>
    if (!tag(buf, p, end, 105)) return false;
    const i = p + 3;
    p = hexEnd(buf, i, end);
    if (p === i || p - i > 13) return false;
    const seqnum = hexValue(buf, i, p);
    // ;b=<32 hex>
    if (!tag(buf, p, end, 98)) return false;
    const b = p + 3;
    p = hexEnd(buf, b, end);
    if (p - b !== 32) return false;
    // ;m=<hex>
    if (!tag(buf, p, end, 109)) return false;
    const m = p + 3;
    p = hexEnd(buf, m, end);
    if (p === m) return false;
    // ;t=<hex>
    if (!tag(buf, p, end, 116)) return false;
    const t = p + 3;
    p = hexEnd(buf, t, end);
    if (p === t || p - t > 13) return false;
    const realtimeUs = hexValue(buf, t, p);
    // ;x=<hex>
    if (!tag(buf, p, end, 120) || hexEnd(buf, p + 3, end) !== end) return false;
    this.seqnumId = reuse(this.seqnumId, buf, s, s + 32);
    this.seqnum = seqnum;
    this.bootId = reuse(this.bootId, buf, b, b + 32);
    this.realtimeUs = realtimeUs;
    return true;
  }
}

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
 * `last` when `buf[start, end)` holds exactly its (ASCII) text, else the decoded bytes. Values
 * such as the host name or the unit repeat from entry to entry; reusing the string saves
 * allocating it again.
 */
function reuse(last: string, buf: Buffer, start: number, end: number): string {
  if (last.length === end - start) {
    let i = start;
    while (i < end && last.charCodeAt(i - start) === buf[i]) i++;
    if (i === end) return last;
  }
  return decode(buf, start, end);
}

export class EntryReader implements JournalReader, ExportSink {
  private readonly handlers: EntryReaderHandlers;
  private readonly scanner: ExportScanner;

  /** Bit i set: field i has had its (first) value in the current entry. */
  private seen = 0;
  private cursor = '';
  private readonly cursorFields = new CursorFields();
  private cursorStandard = false;
  private realtimeUs: number | null = null;
  private seqnum: number | null = null;
  private seqnumId: string | null = null;
  private bootId: string | null = null;
  private message: string | null = null;
  private messageRaw: string | null = null;
  private hostname: string | null = null;
  private comm: string | null = null;
  private pid: number | null = null;
  private priority: number | null = null;
  private syslogIdentifier: string | null = null;
  private unit: string | null = null;
  /** The previous entry's value of each field, for reuse(). */
  private readonly last: string[] = ENTRY_FIELDS.map(() => '');

  constructor(handlers: EntryReaderHandlers) {
    this.handlers = handlers;
    this.scanner = new ExportScanner(this, { wanted: ENTRY_FIELDS });
  }

  push(chunk: Buffer): void {
    this.scanner.push(chunk);
  }

  end(): void {
    this.scanner.end();
  }

  field(name: FieldName, buf: Buffer, start: number, end: number): void {
    const id = name.id;
    const bit = 1 << id;
    if ((this.seen & bit) !== 0) return; // the first value of a repeated field wins
    this.seen |= bit;
    switch (id) {
      case CURSOR:
        // The usual shape is plain ASCII, so it needs no UTF-8 decoding.
        this.cursorStandard = this.cursorFields.read(buf, start, end);
        this.cursor = this.cursorStandard ? buf.toString('latin1', start, end) : decode(buf, start, end);
        break;
      case REALTIME:
        this.realtimeUs = integer(buf, start, end, Number.MAX_SAFE_INTEGER);
        break;
      case SEQNUM:
        this.seqnum = integer(buf, start, end, Number.MAX_SAFE_INTEGER);
        break;
      case SEQNUM_ID:
        this.seqnumId = reuse(this.last[SEQNUM_ID]!, buf, start, end);
        this.last[SEQNUM_ID] = this.seqnumId;
        break;
      case BOOT_ID:
        this.bootId = reuse(this.last[BOOT_ID]!, buf, start, end);
        this.last[BOOT_ID] = this.bootId;
        break;
      case MESSAGE:
        this.setMessage(buf, start, end);
        break;
      case HOSTNAME:
        this.hostname = reuse(this.last[HOSTNAME]!, buf, start, end);
        this.last[HOSTNAME] = this.hostname;
        break;
      case COMM:
        this.comm = reuse(this.last[COMM]!, buf, start, end);
        this.last[COMM] = this.comm;
        break;
      case PID:
        this.pid = integer(buf, start, end, 4294967295);
        break;
      case PRIORITY:
        this.priority = integer(buf, start, end, 7);
        break;
      case SYSLOG_IDENTIFIER:
        this.syslogIdentifier = reuse(this.last[SYSLOG_IDENTIFIER]!, buf, start, end);
        this.last[SYSLOG_IDENTIFIER] = this.syslogIdentifier;
        break;
      case UNIT:
        this.unit = reuse(this.last[UNIT]!, buf, start, end);
        this.last[UNIT] = this.unit;
        break;
    }
  }

  private setMessage(buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end && buf[i]! <= 127) i++;
    if (i === end) {
      this.message = buf.toString('latin1', start, end);
      return;
    }
    const bytes = buf.subarray(start, end);
    this.message = bytes.toString('utf8');
    if (!isUtf8(bytes)) this.messageRaw = bytes.toString('base64');
  }

  entryEnd(): void {
    try {
      const entry = this.build();
      this.reset();
      this.handlers.onEntry(entry);
    } catch (err) {
      this.reset();
      if (!(err instanceof InfralogsError)) throw err;
      this.handlers.onUnmapped?.(err);
    }
  }

  invalid(problem: InvalidLine): void {
    this.handlers.onInvalid?.(problem);
  }

  private build(): Entry {
    const cursor = this.cursor;
    if (!cursor) throw new InfralogsError('BAD_CURSOR', 'journal entry has no __CURSOR');
    let { seqnumId, seqnum, bootId, realtimeUs } = this;
    if (seqnumId === null || seqnum === null || bootId === null || realtimeUs === null) {
      const c = this.cursorStandard ? this.cursorFields : parseCursor(cursor);
      seqnumId ??= c.seqnumId;
      seqnum ??= c.seqnum;
      bootId ??= c.bootId;
      realtimeUs ??= c.realtimeUs;
    }
    return {
      cursor,
      bootId,
      seqnumId,
      seqnum,
      realtimeUs,
      message: this.message,
      messageRaw: this.messageRaw,
      hostname: this.hostname,
      comm: this.comm,
      pid: this.pid,
      priority: this.priority,
      syslogIdentifier: this.syslogIdentifier,
      unit: this.unit,
    };
  }

  private reset(): void {
    this.seen = 0;
    this.cursor = '';
    this.cursorStandard = false;
    this.realtimeUs = null;
    this.seqnum = null;
    this.seqnumId = null;
    this.bootId = null;
    this.message = null;
    this.messageRaw = null;
    this.hostname = null;
    this.comm = null;
    this.pid = null;
    this.priority = null;
    this.syslogIdentifier = null;
    this.unit = null;
  }
}
