import { JOURNAL_FIELDS, type JournalFields } from '../entry';

/**
 * What the three journal readers (export, json, verbose) share: they take the output of
 * `journalctl -o <format>` in chunks of any size, call `onEntry` once per entry with its raw
 * fields, and report what they could not read instead of throwing, so that one bad line never
 * loses the entries around it.
 */
export interface JournalReader {
  /** Feeds the next bytes of the stream; a chunk may end anywhere, even inside a field. */
  push(chunk: Buffer): void;
  /** The stream has ended: emits a last entry left without its blank line, reports a cut-off field. */
  end(): void;
}

/** A line (or cut-off field) that is not in the reader's format; it is skipped. */
export interface InvalidLine {
  /** Byte position of the line's first byte in the whole stream. */
  offset: number;
  /** The line's bytes (at most the first 1 KiB). */
  line: Buffer;
  reason: string;
}

/** A value the format itself dropped (json: `null` for large values; verbose: `[… blob data]`). */
export interface LostField {
  cursor: string | null;
  field: string;
  reason: 'too-large' | 'blob';
}

export interface ReaderHandlers {
  onEntry: (fields: JournalFields) => void;
  onInvalid?: (problem: InvalidLine) => void;
  onLost?: (loss: LostField) => void;
}

/** The journal fields the entry model reads (ENTRY_FIELDS' journald names): readers given this set keep only these. */
export const ENTRY_FIELD_NAMES: ReadonlySet<string> = new Set(JOURNAL_FIELDS);

export const MAX_REPORTED_LINE = 1024;

/** Appends one value of a field (repeated fields keep every value, in order). */
export function addField(fields: JournalFields, name: string, value: Buffer): void {
  const values = fields.get(name);
  if (values === undefined) fields.set(name, [value]);
  else values.push(value);
}
