import { invalidLine, Pieces, type JournalReader, type ReaderHandlers } from '@infralogs/core';

/**
 * Splitting a stream into lines at '\n' only ('\r' stays in the line: journal values may hold
 * it), for the line-based formats (`-o json`, `-o verbose`).
 */

/** A line as a byte range that is only valid during the call, and its stream position. */
export type LineHandler = (buf: Buffer, start: number, end: number, offset: number) => void;

export class LineSplitter {
  private readonly onLine: LineHandler;
  private readonly pieces = new Pieces();
  private base = 0;

  constructor(onLine: LineHandler) {
    this.onLine = onLine;
  }

  push(chunk: Buffer): void {
    let p = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, p)) {
      if (this.pieces.length === 0) this.onLine(chunk, p, nl, this.base + p);
      else {
        this.pieces.add(chunk.subarray(p, nl), this.base + p);
        const line = this.pieces.take();
        this.onLine(line, 0, line.length, this.pieces.offset);
      }
      p = nl + 1;
    }
    if (p < chunk.length) this.pieces.add(chunk.subarray(p), this.base + p);
    this.base += chunk.length;
  }

  /** A last line without its newline is still a line. */
  end(): void {
    if (this.pieces.length === 0) return;
    const line = this.pieces.take();
    this.onLine(line, 0, line.length, this.pieces.offset);
  }
}

/** A reader of a line-based format (json, verbose): it gets the stream line by line. */
export abstract class LineReader implements JournalReader {
  protected readonly handlers: ReaderHandlers;
  private readonly lines = new LineSplitter((buf, start, end, offset) => this.line(buf, start, end, offset));

  constructor(handlers: ReaderHandlers) {
    this.handlers = handlers;
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  end(): void {
    this.lines.end();
    this.finish();
  }

  /** One line without its newline; only valid during the call. */
  protected abstract line(buf: Buffer, start: number, end: number, offset: number): void;

  /** The stream has ended (after its last line). */
  protected finish(): void {}

  protected invalid(buf: Buffer, start: number, end: number, offset: number, reason: string): void {
    this.handlers.onInvalid?.(invalidLine(buf, start, end, offset, reason));
  }
}
