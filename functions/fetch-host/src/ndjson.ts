import { StringDecoder } from 'node:string_decoder';
import { LineCutter, type CutLine } from './cut-line';

/**
 * A line as read: its bytes (valid only until the next line is asked for: copy them to keep
 * them), or — when longer than the limit — cut by LineCutter.
 */
export type NdjsonLine = Buffer | CutLine;

const NEWLINE = 10;

/** Whether a line holds only ASCII white space (a blank line, skipped). */
function blank(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const b = line[i]!;
    if (b !== 32 && (b < 9 || b > 13)) return false;
  }
  return true;
}

/**
 * Splits an NDJSON byte stream into lines, as bytes: a line is not decoded, because fetch-host
 * sends it on as it came (ingest decodes and parses it). Blank lines are skipped. A line longer
 * than `maxLineBytes` is never held whole, so one runaway line cannot exhaust memory: it is
 * decoded (UTF-8, across chunk boundaries) and read through a LineCutter, which keeps the leading
 * `maxLineBytes` of each of its string values, and yielded as a CutLine. An error of the source
 * (a broken connection) propagates to the consumer; the partial line it cut is dropped, never
 * yielded.
 */
export async function* ndjsonLines(
  source: AsyncIterable<Buffer | string>,
  maxLineBytes: number,
): AsyncGenerator<NdjsonLine> {
  /** The current line's pieces so far (views of the chunks they came in). */
  let parts: Buffer[] = [];
  let bytes = 0;
  let cutting: { cutter: LineCutter; decoder: StringDecoder } | null = null;

  /** Adds bytes without a newline to the current line. */
  const take = (piece: Buffer) => {
    if (piece.length === 0) return;
    if (cutting) return cutting.cutter.write(cutting.decoder.write(piece));
    bytes += piece.length;
    parts.push(piece);
    if (bytes <= maxLineBytes) return;
    cutting = { cutter: new LineCutter(maxLineBytes), decoder: new StringDecoder('utf8') };
    for (const part of parts) cutting.cutter.write(cutting.decoder.write(part));
    parts = [];
  };
  /** Ends the current line: what to yield, or null for a blank one. */
  const endLine = (): NdjsonLine | null => {
    const current = cutting;
    const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
    cutting = null;
    parts = [];
    bytes = 0;
    if (current) {
      const rest = current.decoder.end();
      if (rest !== '') current.cutter.write(rest);
      return current.cutter.end();
    }
    return blank(line) ? null : line;
  };

  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    // Only the new bytes are searched: a long line's earlier chunks are not scanned again.
    for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
      take(buf.subarray(start, nl));
      start = nl + 1;
      const line = endLine();
      if (line !== null) yield line;
    }
    take(buf.subarray(start));
  }
  const last = endLine();
  if (last !== null) yield last;
}
