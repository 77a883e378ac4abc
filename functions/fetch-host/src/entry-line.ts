import { InfralogsError, entrySchema, messageBytes, plainlyValid, type Entry } from '@infralogs/core';
import type { CutLine } from './cut-line';
import type { NdjsonLine } from './ndjson';
import { truncateEntry, truncationMarker } from './truncate';

/** An entry whose message had to be truncated, for the warning (never its content). */
export interface Truncation {
  cursor: string;
  /** The entry's size before truncation: its line, or its JSON when that is longer. */
  bytes: number;
  /** The whole MESSAGE's size, and how much of it was kept. */
  messageBytes: number;
  keptBytes: number;
}

/** An entry to send: the value (for fetch-host's own use) and its JSON text, which is what is sent. */
export interface LineEntry {
  entry: Entry;
  json: string;
  truncated?: Truncation;
}

/**
 * One line from the agent → the entry to send, at most `maxBytes` of JSON. A line entrySchema
 * accepts as it is (plainlyValid) is sent on as its own text, not parsed and serialized again:
 * ingest parses the same value from it. A line the reader had to cut, or an entry still over the
 * limit once serialized (an older agent's line, completed with nulls), is stored with its message
 * truncated (truncateEntry) rather than refused: one entry must never block its host. An invalid
 * line is UPSTREAM_FAILED.
 */
export function entryFromLine(line: NdjsonLine, position: number, maxBytes: number): LineEntry {
  if (typeof line !== 'string') return entryFromCutLine(line, position, maxBytes);
  const { entry, plain } = parseEntryLine(line, position);
  // A whole line is at most maxBytes long (the reader cuts longer ones).
  if (plain) return { entry, json: line };
  const json = JSON.stringify(entry);
  const bytes = Buffer.byteLength(json);
  if (bytes <= maxBytes) return { entry, json };
  const original = messageBytes(entry)?.length ?? 0;
  const fitted = truncateEntry(entry, maxBytes, { bytes: original, partial: false });
  return { entry: fitted, json: JSON.stringify(fitted), truncated: describe(fitted, bytes, original) };
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
  return { entry: fitted, json: JSON.stringify(fitted), truncated: describe(fitted, line.bytes, original) };
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

function badLine(position: number, reason: string) {
  return new InfralogsError(
    'UPSTREAM_FAILED',
    `agent sent an invalid entry (line ${position} of this call: ${reason})`,
    { details: { position } },
  );
}
