import {
  ENTRY_FIELDS,
  InfralogsError,
  isValidUtf8,
  messageBytes,
  SHORTENED_TEXT_BYTES,
  type Entry,
} from '@infralogs/core';
import { utf8Prefix } from './cut-line';

/** Appended to a truncated MESSAGE; `bytes` is the size of the whole original MESSAGE. */
export const truncationMarker = (bytes: number) => ` [truncated by infralogs: MESSAGE was ${bytes} bytes]`;

/** The text fields other than MESSAGE that ENTRY_FIELDS lets fetch-host shorten (`shorten`). */
const SHORTENED = ENTRY_FIELDS.filter((f) => 'shorten' in f && f.shorten).map((f) => f.key);

/** The entry's size as one JSON value (what it adds to an ingest body). */
export const entryBytes = (entry: Entry) => Buffer.byteLength(JSON.stringify(entry));

/**
 * Makes an entry fit in `maxBytes` of JSON and keeps it a valid entry, so an oversized one is
 * stored instead of blocking its host. MESSAGE becomes its leading bytes followed by
 * `truncationMarker`. `messageRaw` stays consistent with `message`, as the agent sends them: when
 * the kept bytes (marker included) are valid UTF-8 it is null and `message` is exactly them;
 * otherwise it is their base64 and `message` their lossy text. The other text fields are cut to
 * SHORTENED_TEXT_BYTES without a marker (journald's own ones are far shorter). A UTF-8 message is
 * cut between characters.
 *
 * @param message the original MESSAGE: its whole size in bytes, and whether `entry` holds only a
 *   leading part of it (a line cut while read): then it is marked even when it would fit.
 */
export function truncateEntry(
  entry: Entry,
  maxBytes: number,
  message: { bytes: number; partial: boolean },
): Entry {
  const capped: Entry = { ...entry };
  const fields = capped as Record<string, unknown>;
  for (const key of SHORTENED) {
    const v = fields[key];
    if (typeof v === 'string') fields[key] = utf8Prefix(v, SHORTENED_TEXT_BYTES);
  }
  if (!message.partial && entryBytes(capped) <= maxBytes) return capped;
  const source = messageBytes(entry);
  if (source === null) {
    throw new InfralogsError('PAYLOAD_TOO_LARGE', 'entry too large even without a message', {
      details: { cursor: entry.cursor, maxBytes },
    });
  }
  const text = entry.messageRaw === null;
  const marker = Buffer.from(truncationMarker(message.bytes), 'utf8');
  let n = source.length;
  for (;;) {
    if (text) n = charStart(source, n);
    const bytes = Buffer.concat([source.subarray(0, n), marker]);
    const candidate: Entry = {
      ...capped,
      message: bytes.toString('utf8'),
      messageRaw: isValidUtf8(bytes) ? null : bytes.toString('base64'),
    };
    const size = entryBytes(candidate);
    if (size <= maxBytes) return candidate;
    if (n === 0) {
      throw new InfralogsError('PAYLOAD_TOO_LARGE', 'entry too large even with an empty message', {
        details: { cursor: entry.cursor, maxBytes },
      });
    }
    // JSON escapes make bytes-per-byte vary, so shrink by the measured excess and measure again.
    n = Math.min(n - 1, Math.floor((n * maxBytes) / size));
  }
}

/** `n`, moved back to the start of the UTF-8 character it falls in. */
function charStart(bytes: Buffer, n: number): number {
  while (n > 0 && n < bytes.length && (bytes[n]! & 0xc0) === 0x80) n -= 1;
  return n;
}
