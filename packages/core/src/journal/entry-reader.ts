import { isUtf8 } from 'node:buffer';
import { JOURNAL_FIELDS, type Entry } from '../entry';
import { InfralogsError } from '../errors';
import { BOOT_ID, CapturedEntry, CURSOR, asciiText, decode, MESSAGE, PLAIN, SEQNUM_ID } from './entry-fields';
import { ExportScanner, type ExportSink, type FieldName } from './export-parser';
import type { InvalidLine, JournalReader } from './reader';

export interface EntryProblemHandlers {
  onInvalid?: (problem: InvalidLine) => void;
  /** An entry that cannot become an Entry (no cursor, no identity); it is skipped. */
  onUnmapped?: (error: InfralogsError) => void;
}

/**
 * Reads `journalctl -o export` keeping only the fields of the entry model (JOURNAL_FIELDS), captured as
 * byte ranges; subclasses turn each captured entry into their output.
 */
export abstract class EntrySink implements JournalReader, ExportSink {
  protected readonly entry = new CapturedEntry();
  private readonly scanner: ExportScanner;
  private readonly problems: EntryProblemHandlers;

  constructor(problems: EntryProblemHandlers) {
    this.problems = problems;
    this.scanner = new ExportScanner(this, { wanted: JOURNAL_FIELDS });
  }

  push(chunk: Buffer): void {
    this.scanner.push(chunk);
  }

  end(): void {
    this.scanner.end();
  }

  field(name: FieldName, buf: Buffer, start: number, end: number): void {
    this.entry.set(name.id, buf, start, end);
  }

  entryEnd(): void {
    let mapped = true;
    try {
      this.entry.resolve();
    } catch (err) {
      if (!(err instanceof InfralogsError)) throw err;
      mapped = false;
      this.problems.onUnmapped?.(err);
    }
    try {
      if (mapped) this.emit(this.entry);
    } finally {
      this.entry.reset();
    }
  }

  invalid(problem: InvalidLine): void {
    this.problems.onInvalid?.(problem);
  }

  protected abstract emit(entry: CapturedEntry): void;
}

/**
 * `journalctl -o export` → Entry objects. Gives exactly what ExportParser + `entryFromFields`
 * give, while decoding only the fields the entry needs and reusing the strings of values that
 * repeat from entry to entry (host, unit, boot id…).
 */
export class EntryReader extends EntrySink {
  private readonly onEntry: (entry: Entry) => void;
  /** The previous entry's text of each field, for reuse(). */
  private readonly last: string[] = JOURNAL_FIELDS.map(() => '');

  constructor(handlers: EntryProblemHandlers & { onEntry: (entry: Entry) => void }) {
    super(handlers);
    this.onEntry = handlers.onEntry;
  }

  protected emit(e: CapturedEntry): void {
    let message: string | null = null;
    let messageRaw: string | null = null;
    if (e.has(MESSAGE)) {
      const bytes = e.buf(MESSAGE).subarray(e.start(MESSAGE), e.end(MESSAGE));
      message = decode(bytes, 0, bytes.length);
      if (!isUtf8(bytes)) messageRaw = bytes.toString('base64');
    }
    // Keys in ENTRY_FIELDS order: identity and message first, then the plain fields.
    const entry: Record<string, unknown> = {
      cursor: e.text(CURSOR)!,
      bootId: e.bootIdText ?? this.reuse(e, BOOT_ID)!,
      seqnumId: e.seqnumIdText ?? this.reuse(e, SEQNUM_ID)!,
      seqnum: e.seqnum,
      realtimeUs: e.realtimeUs,
      message,
      messageRaw,
    };
    for (const f of PLAIN)
      entry[f.key] = f.kind === 'integer' ? e.integer(f.id, f.max!) : this.reuse(e, f.id);
    this.onEntry(entry as Entry);
  }

  /** The field's text; the previous entry's string when the bytes are the same. */
  private reuse(e: CapturedEntry, id: number): string | null {
    if (!e.has(id)) return null;
    const buf = e.buf(id);
    const start = e.start(id);
    const end = e.end(id);
    const last = this.last[id]!;
    if (last.length === end - start) {
      let i = start;
      while (i < end && last.charCodeAt(i - start) === buf[i]) i++;
      if (i === end) return last;
    }
    const ascii = asciiText(buf, start, end);
    if (ascii === null) return buf.toString('utf8', start, end);
    this.last[id] = ascii; // only ASCII: then equal bytes mean an equal string
    return ascii;
  }
}
