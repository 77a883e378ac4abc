import { InfralogsError, entrySchema, messageBytes, type Entry } from '@infralogs/core';
import type { CutLine } from './cut-line';
import type { NdjsonLine } from './ndjson';
import { entryBytes, truncateEntry, truncationMarker } from './truncate';

const SERIALIZATION_SLACK = 1024;

/** An entry whose message had to be truncated, for the warning (never its content). */
export interface Truncation {
  cursor: string;
  /** The entry's size before truncation: its line, or its JSON when that is longer. */
  bytes: number;
  /** The whole MESSAGE's size, and how much of it was kept. */
  messageBytes: number;
  keptBytes: number;
}

/**
 * One line from the agent → the entry to send, at most `maxBytes` of JSON. A line the reader had
 * to cut, or an entry still over the limit, is stored with its message truncated (truncateEntry)
 * rather than refused: one entry must never block its host. An invalid line is UPSTREAM_FAILED.
 */
export function entryFromLine(
  line: NdjsonLine,
  position: number,
  maxBytes: number,
): { entry: Entry; truncated?: Truncation } {
  if (typeof line !== 'string') return entryFromCutLine(line, position, maxBytes);
  const entry = parseEntryLine(line, position);
  // Re-serialized, an entry is at most a little longer than its line (number forms such as 9e15
  // grow): only a line close to the limit needs measuring.
  if (line.length * 3 + SERIALIZATION_SLACK <= maxBytes) return { entry };
  const bytes = entryBytes(entry);
  if (bytes <= maxBytes) return { entry };
  const original = messageBytes(entry)?.length ?? 0;
  const fitted = truncateEntry(entry, maxBytes, { bytes: original, partial: false });
  return { entry: fitted, truncated: describe(fitted, bytes, original) };
}

function entryFromCutLine(line: CutLine, position: number, maxBytes: number) {
  const entry = parseEntryLine(line.text, position);
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
  return { entry: fitted, truncated: describe(fitted, line.bytes, original) };
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

/** One NDJSON line from the agent → a validated entry; anything else is UPSTREAM_FAILED. */
export function parseEntryLine(line: string, position: number): Entry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw badLine(position, 'not JSON');
  }
  const parsed = entrySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badLine(position, `${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function badLine(position: number, reason: string) {
  return new InfralogsError(
    'UPSTREAM_FAILED',
    `agent sent an invalid entry (line ${position} of this call: ${reason})`,
    { details: { position } },
  );
}
