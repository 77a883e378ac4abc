import { addField, type JournalFields } from '@infralogs/core';
import { LineReader } from './line-reader';

/**
 * A streaming parser for `journalctl -o verbose` (the seed's format), kept for reading what the
 * seed stored; the agent uses export. Shape:
 *   `<timestamp> [<cursor>]`          starts an entry (the cursor becomes __CURSOR)
 *   `    NAME=value`                  one field
 *   `<4 + len(NAME) + 1 spaces>more`  the next line of a multi-line value
 *   `-- …`                            boot separators and notes, skipped
 * What verbose loses, so the entry model takes identity and time from the cursor:
 * - no `__SEQNUM`, `__SEQNUM_ID`, `__REALTIME_TIMESTAMP` or `__MONOTONIC_TIMESTAMP` fields;
 * - without `--all`, a value that is not printable UTF-8 (a `\r`, an escape sequence, invalid
 *   UTF-8) becomes `[<size> blob data]`: reported via `onLost` and dropped;
 * - trailing newlines of a value are not printed; a value that really reads `[4B blob data]`
 *   cannot be told from a blob.
 */
const BLOB = /^\[[0-9.]+[KMGTPE]?B? blob data\]$/;
const FIELD_INDENT = 4;
const CURSOR_LIKE = /^[a-z]=[^\s[\]]*$/;

export class VerboseParser extends LineReader {
  private fields: JournalFields | null = null;
  private cursor: string | null = null;
  /** The field being read, kept open for continuation lines. */
  private name = '';
  private value: Buffer[] = [];
  private indent = 0;

  protected override finish(): void {
    this.finishEntry();
  }

  protected line(buf: Buffer, start: number, end: number, offset: number): void {
    const spaces = countSpaces(buf, start, end);
    if (this.name && spaces >= this.indent && (spaces > FIELD_INDENT || spaces === end - start)) {
      this.value.push(Buffer.from(buf.subarray(start + this.indent, end)));
      return;
    }
    this.finishField();
    if (spaces === FIELD_INDENT && this.fields !== null) {
      const eq = buf.indexOf(61, start);
      const name =
        eq > start + FIELD_INDENT && eq < end ? buf.toString('latin1', start + FIELD_INDENT, eq) : '';
      if (/^[A-Z_][A-Z0-9_]*$/.test(name)) {
        this.name = name;
        this.indent = FIELD_INDENT + name.length + 1;
        this.value = [Buffer.from(buf.subarray(eq + 1, end))];
        return;
      }
    }
    if (spaces === 0) {
      if (buf[start] === 45 && buf[start + 1] === 45 && buf[start + 2] === 32) return; // "-- "
      const text = buf.toString('utf8', start, end);
      const open = text.lastIndexOf(' [');
      if (open > 0 && text.endsWith(']') && CURSOR_LIKE.test(text.slice(open + 2, -1))) {
        this.finishEntry();
        this.cursor = text.slice(open + 2, -1);
        this.fields = new Map([['__CURSOR', [Buffer.from(this.cursor, 'utf8')]]]);
        return;
      }
    }
    if (start !== end) this.invalid(buf, start, end, offset, 'not journal verbose format');
  }

  private finishField(): void {
    if (!this.name || this.fields === null) return;
    const value = Buffer.concat(joinLines(this.value));
    if (value.length < 64 && BLOB.test(value.toString('latin1'))) {
      this.handlers.onLost?.({ cursor: this.cursor, field: this.name, reason: 'blob' });
    } else {
      addField(this.fields, this.name, value);
    }
    this.name = '';
    this.value = [];
  }

  private finishEntry(): void {
    this.finishField();
    if (this.fields !== null) this.handlers.onEntry(this.fields);
    this.fields = null;
    this.cursor = null;
  }
}

const NEWLINE = Buffer.from('\n');

function joinLines(lines: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  lines.forEach((l, i) => (i === 0 ? out.push(l) : out.push(NEWLINE, l)));
  return out;
}

function countSpaces(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] === 32) i++;
  return i - start;
}
