import { isUtf8 } from 'node:buffer';
import { ENTRY_FIELDS, type EntryKey } from '../entry';
import {
  BOOT_ID,
  type CapturedEntry,
  CURSOR,
  MESSAGE,
  PLAIN,
  REALTIME,
  SEQNUM,
  SEQNUM_ID,
} from './entry-fields';
import { EntrySink, type EntryProblemHandlers } from './entry-reader';

/**
 * `journalctl -o export` → NDJSON of the entry model, bytes to bytes: every line is exactly
 * `JSON.stringify(entryFromFields(fields)) + "\n"`, but values that need no escaping (nearly all)
 * are copied from the export stream without ever becoming strings. This is the agent's hot path:
 * it has to keep up with journalctl on the same machine.
 */
export interface NdjsonEncoderOptions extends EntryProblemHandlers {
  /** Called for each entry before it is written; returning false leaves it out. */
  accept?: (entry: CapturedEntry) => boolean;
}

const BLOCK = 256 * 1024;
/** Below this much room left, take() starts a new block rather than filling the old one. */
const MIN_FREE = 16 * 1024;
/** Room for the keys, punctuation and numbers of one line. */
const LINE_OVERHEAD = 512;

const key = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));
/** `{"key":` for the first field, `,"key":` for the others: the keys and their order come from ENTRY_FIELDS. */
const KEY = Object.fromEntries(
  ENTRY_FIELDS.map((f, i) => [f.key, key(`${i === 0 ? '{' : ','}${JSON.stringify(f.key)}:`)]),
) as Record<EntryKey, Uint8Array>;
const PLAIN_KEYS = PLAIN.map((f) => KEY[f.key as EntryKey]);
const K_END = key('}\n');
const NULL = key('null');
/** Fields whose bytes may be copied into the line (their length bounds its size). */
const TEXT_FIELDS = [
  CURSOR,
  BOOT_ID,
  SEQNUM_ID,
  MESSAGE,
  ...PLAIN.filter((f) => f.kind === 'text').map((f) => f.id),
];
const QUOTE = 34;
/** Per byte: 1 when JSON needs it escaped (controls, '"', '\\'), 2 when it is not ASCII. */
const BYTE_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) BYTE_CLASS[c] = 1;
BYTE_CLASS[QUOTE] = 1;
BYTE_CLASS[92] = 1;
for (let c = 0x80; c < 0x100; c++) BYTE_CLASS[c] = 2;

export class NdjsonEncoder extends EntrySink {
  private readonly accept: ((entry: CapturedEntry) => boolean) | undefined;
  private out = Buffer.allocUnsafe(BLOCK);
  private pos = 0;
  /** Start of what take() has not handed out yet. */
  private mark = 0;
  /** Room the current line needs beyond its escaped strings (see reserve calls). */
  private lineSize = 0;

  constructor(options: NdjsonEncoderOptions = {}) {
    super(options);
    this.accept = options.accept;
  }

  /** The lines written since the last call (never overwritten later), or null when none. */
  take(): Buffer | null {
    if (this.pos === this.mark) return null;
    const lines = this.out.subarray(this.mark, this.pos);
    this.mark = this.pos;
    if (this.out.length - this.pos < MIN_FREE) {
      this.out = Buffer.allocUnsafe(BLOCK);
      this.pos = this.mark = 0;
    }
    return lines;
  }

  protected emit(e: CapturedEntry): void {
    if (this.accept !== undefined && !this.accept(e)) return;
    let size = LINE_OVERHEAD;
    for (const id of TEXT_FIELDS) if (e.has(id)) size += e.end(id) - e.start(id);
    this.lineSize = size;
    this.reserve(size);
    // Identity and message, written by code of their own, in ENTRY_FIELDS order (a test checks).
    this.constant(KEY.cursor);
    if (e.cursorPlain) this.plain(e, CURSOR);
    else this.jsonField(e, CURSOR);
    this.constant(KEY.bootId);
    if (e.bootIdText !== null) this.string(e.bootIdText);
    else this.jsonField(e, BOOT_ID);
    this.constant(KEY.seqnumId);
    if (e.seqnumIdText !== null) this.string(e.seqnumIdText);
    else this.jsonField(e, SEQNUM_ID);
    this.constant(KEY.seqnum);
    this.numberField(e, SEQNUM, e.seqnum);
    this.constant(KEY.realtimeUs);
    this.numberField(e, REALTIME, e.realtimeUs);
    this.constant(KEY.message);
    const valid = this.jsonField(e, MESSAGE);
    this.constant(KEY.messageRaw);
    if (valid) this.constant(NULL);
    else this.raw(e);
    for (let i = 0; i < PLAIN.length; i++) {
      const f = PLAIN[i]!;
      this.constant(PLAIN_KEYS[i]!);
      if (f.kind === 'integer') this.numberField(e, f.id, e.integer(f.id, f.max!));
      else this.jsonField(e, f.id);
    }
    this.constant(K_END);
  }

  /**
   * A field as a JSON string of its UTF-8 text (null when absent). Returns whether its bytes
   * are valid UTF-8 (absent counts as valid).
   */
  private jsonField(e: CapturedEntry, id: number): boolean {
    if (!e.has(id)) {
      this.constant(NULL);
      return true;
    }
    const buf = e.buf(id);
    const start = e.start(id);
    const end = e.end(id);
    // Copied and classified in one pass (reserve() made room for the bytes); nearly every value
    // needs no escaping, and JSON.stringify keeps non-ASCII characters as they are.
    const out = this.out;
    let p = this.pos;
    out[p++] = QUOTE;
    let classes = 0;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      classes |= BYTE_CLASS[b]!;
      out[p++] = b;
    }
    const valid = (classes & 2) === 0 || isUtf8(buf.subarray(start, end));
    if ((classes & 1) === 0 && valid) {
      out[p++] = QUOTE;
      this.pos = p;
    } else {
      this.string(buf.toString('utf8', start, end)); // overwrites the copy
    }
    return valid;
  }

  /** A field known to need no escaping, copied between quotes. */
  private plain(e: CapturedEntry, id: number): void {
    const out = this.out;
    out[this.pos++] = QUOTE;
    this.copy(e, id);
    out[this.pos++] = QUOTE;
  }

  private copy(e: CapturedEntry, id: number): void {
    const buf = e.buf(id);
    const start = e.start(id);
    const end = e.end(id);
    if (end - start > 128) buf.copy(this.out, this.pos, start, end);
    else for (let i = start, p = this.pos; i < end; i++, p++) this.out[p] = buf[i]!;
    this.pos += end - start;
  }

  /** A number, copied from the field when it holds exactly its digits. */
  private numberField(e: CapturedEntry, id: number, value: number | null): void {
    if (value !== null && e.isDecimalOf(id, value)) this.copy(e, id);
    else this.number(value);
  }

  /** messageRaw: base64 of MESSAGE's exact bytes. */
  private raw(e: CapturedEntry): void {
    const base64 = e.buf(MESSAGE).toString('base64', e.start(MESSAGE), e.end(MESSAGE));
    this.reserve(base64.length + 2 + this.lineSize);
    this.out[this.pos++] = QUOTE;
    this.pos += this.out.write(base64, this.pos, 'latin1');
    this.out[this.pos++] = QUOTE;
  }

  private string(text: string): void {
    const json = JSON.stringify(text);
    // Escapes may make it longer than its bytes, so the rest of the line needs room again.
    this.reserve(json.length * 3 + this.lineSize);
    this.pos += this.out.write(json, this.pos, 'utf8');
  }

  private number(n: number | null): void {
    if (n === null) {
      this.constant(NULL);
      return;
    }
    // Digits in 32-bit arithmetic: a microsecond timestamp is split into its top and its last 8.
    if (n < 1e8) {
      this.digits(n, 0);
    } else {
      const high = Math.floor(n / 1e8);
      this.digits(high, 0);
      this.digits(n - high * 1e8, 8);
    }
  }

  /** n < 1e9 in decimal, left-padded with zeros to `width`. */
  private digits(n: number, width: number): void {
    let count = 1;
    for (let x = n; x >= 10; x = (x / 10) | 0) count++;
    if (count < width) count = width;
    const out = this.out;
    for (let p = this.pos + count - 1, x = n; p >= this.pos; p--, x = (x / 10) | 0) out[p] = 48 + (x % 10);
    this.pos += count;
  }

  private constant(bytes: Uint8Array): void {
    const out = this.out;
    for (let i = 0, p = this.pos; i < bytes.length; i++, p++) out[p] = bytes[i]!;
    this.pos += bytes.length;
  }

  /** Makes room for n more bytes after pos, keeping what take() has not handed out. */
  private reserve(n: number): void {
    if (this.pos + n <= this.out.length) return;
    const pending = this.pos - this.mark;
    const next = Buffer.allocUnsafe(Math.max(BLOCK, pending + n));
    this.out.copy(next, 0, this.mark, this.pos);
    this.out = next;
    this.mark = 0;
    this.pos = pending;
  }
}
