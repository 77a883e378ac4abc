import type { JournalFields } from '../entry';
import { addField, type InvalidLine, type JournalReader, type ReaderHandlers } from './reader';
import { invalidLine, Pieces } from './lines';

/**
 * A streaming parser for `journalctl -o export` (systemd docs/JOURNAL_EXPORT_FORMATS.md):
 * - `NAME=value\n` for printable values;
 * - `NAME\n` + 64-bit little-endian length + raw bytes + `\n` for everything else;
 * - a blank line ends an entry.
 * The scanner works on Buffers without splitting the stream into strings: a field is handed to
 * the sink as a byte range of the chunk (copied only when it spans chunks) and field names are
 * interned. Lines that are not export format are reported and skipped; the entry being read
 * goes on, and so does the stream.
 */

/** A field name as the scanner knows it. */
export interface FieldName {
  readonly text: string;
  /** Its index in the scanner's `wanted` list, or -1. */
  readonly id: number;
}

/** Where the scanner delivers what it reads. */
export interface ExportSink {
  /** One field of the current entry; `buf[start, end)` is only valid during the call. */
  field(name: FieldName, buf: Buffer, start: number, end: number): void;
  /** The blank line that ends an entry (or the end of the stream after one). */
  entryEnd(): void;
  invalid(problem: InvalidLine): void;
}

export interface ExportScannerOptions {
  /** Deliver only these fields (all when omitted); others cost no allocation. */
  wanted?: readonly string[];
  /** Largest binary value accepted; a larger length means the "name" line was no field. */
  maxFieldBytes?: number;
}

const LINE = 0;
const BINARY_LENGTH = 1;
const BINARY_DATA = 2;
const BINARY_END = 3;

const NEWLINE = 10;
const EQUALS = 61;
/** journald's limit for a field name. */
const MAX_NAME = 64;
/** journald's DATA_SIZE_MAX. */
const DEFAULT_MAX_FIELD = 768 * 1024 * 1024;

/**
 * Field names are looked up in a trie over their alphabet (A-Z, 0-9, '_'), so a known name is
 * recognised, validated and interned in one pass over its bytes without allocating.
 */
const SYMBOL = new Uint8Array(256); // 0: not a name byte, else 1..37
const WIDTH = 38;
{
  let symbol = 1;
  for (let c = 48; c <= 57; c++) SYMBOL[c] = symbol++;
  for (let c = 65; c <= 90; c++) SYMBOL[c] = symbol++;
  SYMBOL[95] = symbol;
}
/** Enough for hundreds of distinct names; beyond it names are still read, just not cached. */
const MAX_TRIE_NODES = 8192;
/** Entries longer than this many lines are read without the previous entry's guess beyond it. */
const MAX_GUESSED_LINES = 256;

/** A name the scanner has read, with its bytes to compare a guess against. */
interface KnownName extends FieldName {
  readonly bytes: Uint8Array;
}

export class ExportScanner {
  private readonly sink: ExportSink;
  private readonly wanted: readonly string[] | undefined;
  private readonly maxFieldBytes: number;
  /** Child of node n for symbol y is `trie[n * WIDTH + y] - 1` (-1: none); node 0 is the root. */
  private trie = new Int32Array(64 * WIDTH);
  private trieNames: (KnownName | undefined)[] = [undefined];
  /**
   * The name of each line of the previous entry: journald writes an entry's fields in much the
   * same order every time, so line k's name is first compared with the previous entry's line k,
   * which is cheaper than walking the trie.
   */
  private readonly guesses: (KnownName | undefined)[] = [];
  /** The current line's number within its entry. */
  private lineNo = 0;

  private state = LINE;
  /** Stream position of the first byte of the next chunk. */
  private base = 0;
  /** Whether the current entry has had any field, delivered or not. */
  private inEntry = false;

  /** A line or binary value that spans chunks. */
  private readonly pieces = new Pieces();

  /** The binary field being read. */
  private binary: FieldName = { text: '', id: -1 };
  private binaryDeliver = false;
  private binaryLine: Buffer = Buffer.alloc(0);
  private binaryOffset = 0;
  private readonly lengthBytes = Buffer.alloc(8);
  private lengthHave = 0;
  private remaining = 0;

  constructor(sink: ExportSink, options: ExportScannerOptions = {}) {
    this.sink = sink;
    this.wanted = options.wanted;
    this.maxFieldBytes = options.maxFieldBytes ?? DEFAULT_MAX_FIELD;
  }

  push(chunk: Buffer): void {
    this.feed(chunk, this.base);
    this.base += chunk.length;
  }

  end(): void {
    // A last line without its newline is read as if it had one.
    if (this.state === LINE && this.pieces.length > 0) {
      const line = this.pieces.take();
      this.line(line, 0, line.length, this.pieces.offset);
    }
    if (this.state === BINARY_LENGTH || this.state === BINARY_DATA) {
      this.invalid(
        this.binaryLine,
        0,
        this.binaryLine.length,
        this.binaryOffset,
        'stream ended inside a field',
      );
      this.pieces.take();
    }
    this.state = LINE;
    this.finishEntry();
  }

  /** Reads `chunk`, whose first byte is at stream position `at`. */
  private feed(chunk: Buffer, at: number): void {
    const n = chunk.length;
    let p = 0;
    while (p < n) {
      if (this.state === LINE) {
        const nl = chunk.indexOf(NEWLINE, p);
        if (nl === -1) {
          this.pieces.add(chunk.subarray(p), at + p);
          return;
        }
        if (this.pieces.length === 0) {
          this.line(chunk, p, nl, at + p);
        } else {
          this.pieces.add(chunk.subarray(p, nl), at + p);
          const line = this.pieces.take();
          this.line(line, 0, line.length, this.pieces.offset);
        }
        p = nl + 1;
      } else if (this.state === BINARY_LENGTH) {
        const take = Math.min(8 - this.lengthHave, n - p);
        chunk.copy(this.lengthBytes, this.lengthHave, p, p + take);
        this.lengthHave += take;
        p += take;
        if (this.lengthHave === 8) this.binaryLength(at + p - 8);
      } else if (this.state === BINARY_DATA) {
        const take = Math.min(this.remaining, n - p);
        const last = take === this.remaining;
        if (this.binaryDeliver) {
          if (last && this.pieces.length === 0) {
            this.sink.field(this.binary, chunk, p, p + take);
          } else {
            this.pieces.add(chunk.subarray(p, p + take), at + p);
            if (last) {
              const value = this.pieces.take();
              this.sink.field(this.binary, value, 0, value.length);
            }
          }
        }
        this.remaining -= take;
        p += take;
        if (last) this.state = BINARY_END;
      } else {
        if (chunk[p] === NEWLINE) p++;
        else {
          const line = this.binaryLine;
          this.invalid(line, 0, line.length, this.binaryOffset, 'binary value not followed by a newline');
        }
        this.state = LINE;
      }
    }
  }

  /** One line `buf[start, end)` without its newline, starting at stream position `offset`. */
  private line(buf: Buffer, start: number, end: number, offset: number): void {
    if (start === end) {
      this.finishEntry();
      return;
    }
    const lineNo = this.lineNo++;
    const guess = lineNo < MAX_GUESSED_LINES ? this.guesses[lineNo] : undefined;
    if (guess !== undefined) {
      const bytes = guess.bytes;
      const after = start + bytes.length;
      if (after <= end && (after === end || buf[after] === EQUALS)) {
        let k = 0;
        while (k < bytes.length && buf[start + k] === bytes[k]) k++;
        if (k === bytes.length) {
          this.named(guess, buf, after, end, offset, start);
          return;
        }
      }
    }
    const trie = this.trie;
    let node = 0;
    let i = start;
    for (; i < end; i++) {
      const symbol = SYMBOL[buf[i]!]!;
      if (symbol === 0) break;
      if (node >= 0) node = trie[node * WIDTH + symbol]! - 1;
    }
    const first = buf[start]!;
    if (
      (i < end && buf[i] !== EQUALS) ||
      i === start ||
      i - start > MAX_NAME ||
      (first >= 48 && first <= 57)
    ) {
      this.invalid(buf, start, end, offset, 'not journal export format');
      return;
    }
    const name = (node >= 0 ? this.trieNames[node] : undefined) ?? this.learn(buf, start, i);
    if (lineNo < MAX_GUESSED_LINES) this.guesses[lineNo] = name;
    this.named(name, buf, i, end, offset, start);
  }

  /** A line whose valid name ends at `i` (at its '=', or at `end` for a binary field's name). */
  private named(name: FieldName, buf: Buffer, i: number, end: number, offset: number, start: number): void {
    const deliver = this.wanted === undefined || name.id >= 0;
    this.inEntry = true;
    if (i < end) {
      if (deliver) this.sink.field(name, buf, i + 1, end);
      return;
    }
    this.binary = name;
    this.binaryDeliver = deliver;
    // Kept for a report, should this turn out not to be a binary field.
    this.binaryLine = Buffer.from(buf.subarray(start, end));
    this.binaryOffset = offset;
    this.lengthHave = 0;
    this.state = BINARY_LENGTH;
  }

  private binaryLength(lengthOffset: number): void {
    const length = this.lengthBytes.readBigUInt64LE(0);
    if (length <= BigInt(this.maxFieldBytes)) {
      this.remaining = Number(length);
      if (this.remaining > 0) this.state = BINARY_DATA;
      else {
        if (this.binaryDeliver) this.sink.field(this.binary, this.lengthBytes, 0, 0);
        this.state = BINARY_END;
      }
      return;
    }
    // Not a plausible length: the "name" was a stray line, and these 8 bytes begin the next one.
    this.invalid(this.binaryLine, 0, this.binaryLine.length, this.binaryOffset, 'not journal export format');
    this.state = LINE;
    this.feed(Buffer.from(this.lengthBytes), lengthOffset);
  }

  /** A valid name seen for the first time: interned and added to the trie. */
  private learn(buf: Buffer, start: number, end: number): KnownName {
    const text = buf.toString('latin1', start, end);
    const name = {
      text,
      id: this.wanted === undefined ? -1 : this.wanted.indexOf(text),
      bytes: Uint8Array.from(buf.subarray(start, end)),
    };
    let node = 0;
    for (let i = start; i < end; i++) {
      const slot = node * WIDTH + SYMBOL[buf[i]!]!;
      let child = this.trie[slot]! - 1;
      if (child < 0) {
        if (this.trieNames.length >= MAX_TRIE_NODES) return name;
        child = this.trieNames.length;
        this.trieNames.push(undefined);
        if ((child + 1) * WIDTH > this.trie.length) {
          const grown = new Int32Array(this.trie.length * 2);
          grown.set(this.trie);
          this.trie = grown;
        }
        this.trie[slot] = child + 1;
      }
      node = child;
    }
    this.trieNames[node] = name;
    return name;
  }

  private finishEntry(): void {
    this.lineNo = 0;
    if (!this.inEntry) return;
    this.inEntry = false;
    this.sink.entryEnd();
  }

  private invalid(buf: Buffer, start: number, end: number, offset: number, reason: string): void {
    this.sink.invalid(invalidLine(buf, start, end, offset, reason));
  }
}

export interface ExportParserOptions extends ReaderHandlers {
  /** Keep only these fields (all when omitted). */
  fields?: ReadonlySet<string>;
  maxFieldBytes?: number;
}

/** Export format → raw fields of each entry (values are views into the stream's chunks). */
export class ExportParser implements JournalReader {
  private readonly scanner: ExportScanner;
  private fields: JournalFields = new Map();

  constructor(options: ExportParserOptions) {
    const sink: ExportSink = {
      field: (name, buf, start, end) => addField(this.fields, name.text, buf.subarray(start, end)),
      entryEnd: () => {
        const fields = this.fields;
        this.fields = new Map();
        options.onEntry(fields);
      },
      invalid: (problem) => options.onInvalid?.(problem),
    };
    const wanted = options.fields === undefined ? undefined : [...options.fields];
    this.scanner = new ExportScanner(sink, {
      ...(wanted ? { wanted } : {}),
      ...(options.maxFieldBytes ? { maxFieldBytes: options.maxFieldBytes } : {}),
    });
  }

  push(chunk: Buffer): void {
    this.scanner.push(chunk);
  }

  end(): void {
    this.scanner.end();
  }
}
