import { InfralogsError, entrySchema, messageBytes, plainlyValid, type Entry } from '@infralogs/core';
import type { CutLine } from './cut-line';
import type { NdjsonLine } from './ndjson';
import { truncateEntry, truncationMarker } from './truncate';

/** An entry whose message had to be truncated, for the warning (never its content). */
export interface Truncation {
  cursor: string;
  /** The size of the line before truncation. */
  bytes: number;
  /** The whole MESSAGE's size, and how much of it was kept. */
  messageBytes: number;
  keptBytes: number;
}

/** An entry to send: its JSON bytes, and what was cut when it had to be truncated. */
export interface LineEntry {
  json: Buffer;
  truncated?: Truncation;
}

/**
 * One line from the agent → the JSON bytes to send, at most `maxBytes`. A whole line (the reader
 * cuts longer ones) is sent on as it is, without being decoded or parsed here: ingest parses and
 * checks every entry anyway (an older agent's line, without the optional fields, is completed
 * with nulls there), and parsing each line twice was a fifth of fetch-host's CPU; the Batcher
 * only checks it is one JSON object. A line the reader had to cut is stored with its message
 * truncated (truncateEntry) rather than refused: one entry must never block its host. A cut line
 * that is no entry is UPSTREAM_FAILED.
 */
export function entryFromLine(line: NdjsonLine, position: number, maxBytes: number): LineEntry {
  return Buffer.isBuffer(line) ? { json: line } : entryFromCutLine(line, position, maxBytes);
}

/**
 * The first of `lines` (at positions `first`, `first + 1`… of the call) that is no valid entry:
 * its index and the UPSTREAM_FAILED error naming it; null when every line is an entry. Run when
 * ingest refused a batch, to tell a bad line from the agent from any other refusal.
 */
export function firstInvalid(
  lines: readonly string[],
  first: number,
): { index: number; error: InfralogsError } | null {
  for (let i = 0; i < lines.length; i++) {
    try {
      parseEntryLine(lines[i]!, first + i);
    } catch (err) {
      if (err instanceof InfralogsError) return { index: i, error: err };
      throw err;
    }
  }
  return null;
}

function entryFromCutLine(line: CutLine, position: number, maxBytes: number): LineEntry {
  const { entry } = parseEntryLine(line.text, position);
  const { message: cutText, messageRaw: cutRaw } = line.cut;
  let original: number;
  if (entry.messageRaw !== null) {
    original = cutRaw
      ? base64Bytes(cutRaw.bytes, cutRaw.tail)
      : Buffer.from(entry.messageRaw, 'base64').length;
  } else {
    original = cutText ? cutText.bytes : Buffer.byteLength(entry.message ?? '');
  }
  const partial = cutText !== undefined || cutRaw !== undefined;
  const fitted = truncateEntry(entry, maxBytes, { bytes: original, partial });
  return {
    json: Buffer.from(JSON.stringify(fitted), 'utf8'),
    truncated: describe(fitted, line.bytes, original),
  };
}

function describe(entry: Entry, bytes: number, original: number): Truncation {
  const stored = messageBytes(entry) ?? Buffer.alloc(0);
  const marker = Buffer.from(truncationMarker(original), 'utf8');
  const marked = stored.length >= marker.length && stored.subarray(-marker.length).equals(marker);
  return {
    cursor: entry.cursor,
    bytes,
    messageBytes: original,
    keptBytes: marked ? stored.length - marker.length : stored.length,
  };
}

/** Bytes encoded by a base64 text of `length` characters ending in `tail`. */
const base64Bytes = (length: number, tail: string) =>
  Math.floor((length * 3) / 4) - (tail.endsWith('==') ? 2 : tail.endsWith('=') ? 1 : 0);

/**
 * One NDJSON line from the agent → a validated entry; anything else is UPSTREAM_FAILED. `plain`:
 * the value is the entry exactly as it is (entrySchema would return it unchanged), so the line's
 * own text can be sent on; otherwise the entry is entrySchema's output (an older agent's line,
 * completed with nulls).
 */
export function parseEntryLine(line: string, position: number): { entry: Entry; plain: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw badLine(position, 'not JSON');
  }
  // plainlyValid accepts only what entrySchema accepts unchanged, without zod's cost per entry.
  if (plainlyValid(value)) return { entry: value, plain: true };
  const parsed = entrySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badLine(position, `${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'invalid'}`);
  }
  return { entry: parsed.data, plain: false };
}

/** An agent line that is no entry, at `position` in the call. */
export function badLine(position: number, reason: string) {
  return new InfralogsError(
    'UPSTREAM_FAILED',
    `agent sent an invalid entry (line ${position} of this call: ${reason})`,
    { details: { position } },
  );
}
