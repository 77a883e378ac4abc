import { MAX_REPORTED_LINE, type InvalidLine } from './reader';

/**
 * Byte-level helpers shared by the journal readers: bytes that span chunks, and the report of a
 * line a reader cannot read. (Splitting a stream into lines, for the line-based json and verbose
 * formats that only tests read, lives in devkit's journal-readers.)
 */

/** The pieces of one line or value that spans chunks, joined only when complete. */
export class Pieces {
  private parts: Buffer[] = [];
  length = 0;
  /** Stream position of the first piece. */
  offset = 0;

  add(piece: Buffer, offset: number): void {
    if (this.length === 0) this.offset = offset;
    this.parts.push(piece);
    this.length += piece.length;
  }

  take(): Buffer {
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    return out;
  }
}

/** The report for a line `buf[start, end)` a reader cannot read (its first 1 KiB, copied). */
export function invalidLine(
  buf: Buffer,
  start: number,
  end: number,
  offset: number,
  reason: string,
): InvalidLine {
  return { offset, line: Buffer.from(buf.subarray(start, Math.min(end, start + MAX_REPORTED_LINE))), reason };
}
