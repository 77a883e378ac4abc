import { StringDecoder } from 'node:string_decoder';
import { LineCutter, type CutLine } from './cut-line';

/** A line as read: whole, or — when longer than the limit — cut by LineCutter. */
export type NdjsonLine = string | CutLine;

/**
 * Splits an NDJSON byte stream into lines, decoding UTF-8 across chunk boundaries. Blank lines are
 * skipped. A line longer than `maxLineBytes` is never held whole, so one runaway line cannot
 * exhaust memory: it is read through a LineCutter, which keeps the leading `maxLineBytes` of each
 * of its string values, and yielded as a CutLine. An error of the source (a broken connection)
 * propagates to the consumer; the partial line it cut is dropped, never yielded.
 */
export async function* ndjsonLines(
  source: AsyncIterable<Buffer | string>,
  maxLineBytes: number,
): AsyncGenerator<NdjsonLine> {
  const decoder = new StringDecoder('utf8');
  let parts: string[] = [];
  let bytes = 0;
  let cutter: LineCutter | null = null;

  /** Adds text without a newline to the current line. */
  const take = (piece: string) => {
    if (piece === '') return;
    if (cutter) return cutter.write(piece);
    bytes += Buffer.byteLength(piece);
    parts.push(piece);
    if (bytes <= maxLineBytes) return;
    cutter = new LineCutter(maxLineBytes);
    for (const part of parts) cutter.write(part);
    parts = [];
  };
  /** Ends the current line: what to yield, or null for a blank one. */
  const endLine = (): NdjsonLine | null => {
    const current = cutter;
    const text = parts.join('');
    cutter = null;
    parts = [];
    bytes = 0;
    if (current) return current.end();
    return text.trim() === '' ? null : text;
  };

  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    // Only the new text is searched: a long line's earlier chunks are not scanned again.
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      take(text.slice(start, nl));
      start = nl + 1;
      const line = endLine();
      if (line !== null) yield line;
    }
    take(text.slice(start));
  }
  take(decoder.end());
  const last = endLine();
  if (last !== null) yield last;
}
