import { z } from 'zod';
import { InfralogsError } from './errors';

/**
 * The entry model: one journal entry as it travels agent → fetch-host → ingest (one NDJSON line
 * each) and as it is stored. Field names are camelCase on the wire; columns are snake_case.
 *
 * journald field        → entry field        → column
 * __CURSOR              → cursor             → cursor
 * _BOOT_ID              → bootId             → boot_id
 * __SEQNUM_ID (or s=)   → seqnumId           → seqnum_id
 * __SEQNUM    (or i=)   → seqnum             → seqnum
 * __REALTIME_TIMESTAMP  → realtimeUs         → ts DATETIME(6) UTC
 * MESSAGE               → message (+ messageRaw base64 when not valid UTF-8) → message, message_raw
 * _HOSTNAME             → hostname           → hostname
 * _COMM                 → comm               → comm
 * _PID                  → pid                → pid
 * PRIORITY              → priority (0-7, null when absent or invalid) → priority
 * SYSLOG_IDENTIFIER     → syslogIdentifier   → syslog_identifier
 * _SYSTEMD_UNIT         → unit               → unit
 */
export interface Entry {
  cursor: string;
  bootId: string;
  seqnumId: string;
  seqnum: number;
  /** __REALTIME_TIMESTAMP: microseconds since the epoch, UTC. */
  realtimeUs: number;
  message: string | null;
  /** Base64 of MESSAGE's exact bytes, present only when they are not valid UTF-8. */
  messageRaw: string | null;
  hostname: string | null;
  comm: string | null;
  pid: number | null;
  priority: number | null;
  syslogIdentifier: string | null;
  unit: string | null;
}

export const PRIORITY_NAMES = [
  'emerg',
  'alert',
  'crit',
  'err',
  'warning',
  'notice',
  'info',
  'debug',
] as const;
export type PriorityName = (typeof PRIORITY_NAMES)[number];

/** `0`-`7` or a name (`err`, case-insensitive) → the level, or null. */
export function priorityLevel(value: string): number | null {
  if (/^[0-7]$/.test(value)) return Number(value);
  const i = (PRIORITY_NAMES as readonly string[]).indexOf(value.toLowerCase());
  return i >= 0 ? i : null;
}

/**
 * A priority filter as `journalctl -p` takes it: one level (`3`, `err`: that level and everything
 * more severe) or a range `from..to` (`0..4`, `err..info`, either order). Null when invalid.
 */
export function parsePriorityRange(value: string): { from: number; to: number } | null {
  const [a, b, ...rest] = value.split('..');
  const from = a === undefined ? null : priorityLevel(a);
  const to = b === undefined ? null : priorityLevel(b);
  if (rest.length > 0 || from === null || (b !== undefined && to === null)) return null;
  if (to === null) return { from: 0, to: from };
  return { from: Math.min(from, to), to: Math.max(from, to) };
}

const hex128 = z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits');
const nullableText = z.string().nullable();

/** Validates one entry received over the wire (ingest trusts nothing it did not check). */
export const entrySchema = z
  .object({
    cursor: z.string().min(1).max(512),
    bootId: hex128,
    seqnumId: hex128,
    seqnum: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    realtimeUs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    message: nullableText,
    messageRaw: z
      .string()
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
      .nullable(),
    hostname: nullableText,
    comm: nullableText,
    pid: z.number().int().min(0).max(4294967295).nullable(),
    priority: z.number().int().min(0).max(7).nullable(),
    syslogIdentifier: nullableText,
    unit: nullableText,
  })
  .strict();

export interface CursorParts {
  seqnumId: string;
  seqnum: number;
  bootId: string;
  monotonicUs: number;
  realtimeUs: number;
}

/** Parses a journald cursor (`s=…;i=<hex>;b=…;m=<hex>;t=<hex>;x=<hex>`); throws BAD_CURSOR. */
export function parseCursor(cursor: string): CursorParts {
  const parts = new Map<string, string>();
  for (const item of cursor.split(';')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw badCursor(cursor);
    parts.set(item.slice(0, eq), item.slice(eq + 1));
  }
  const s = parts.get('s');
  const i = parts.get('i');
  const b = parts.get('b');
  const m = parts.get('m');
  const t = parts.get('t');
  const isHex = (v: string | undefined, len?: number) =>
    v !== undefined && /^[0-9a-f]+$/.test(v) && (len === undefined || v.length === len);
  if (!isHex(s, 32) || !isHex(i) || !isHex(b, 32) || !isHex(m) || !isHex(t) || !parts.has('x')) {
    throw badCursor(cursor);
  }
  const seqnum = Number.parseInt(i!, 16);
  const realtimeUs = Number.parseInt(t!, 16);
  if (!Number.isSafeInteger(seqnum) || !Number.isSafeInteger(realtimeUs)) throw badCursor(cursor);
  return { seqnumId: s!, seqnum, bootId: b!, monotonicUs: Number.parseInt(m!, 16), realtimeUs };
}

function badCursor(cursor: string): InfralogsError {
  return new InfralogsError('BAD_CURSOR', 'malformed journal cursor', {
    details: { cursor: cursor.slice(0, 200) },
  });
}

/** True when `buf` is well-formed UTF-8 (TextDecoder with fatal:true rejects anything else). */
const strictDecoder = new TextDecoder('utf-8', { fatal: true });
export function isValidUtf8(buf: Uint8Array): boolean {
  try {
    strictDecoder.decode(buf);
    return true;
  } catch {
    return false;
  }
}

/** A journal entry as read: every field name with all its values, as raw bytes, in order. */
export type JournalFields = Map<string, Buffer[]>;

const text = (fields: JournalFields, name: string): string | null => {
  const v = fields.get(name)?.[0];
  return v === undefined ? null : v.toString('utf8');
};
const int = (fields: JournalFields, name: string, max: number): number | null => {
  const s = text(fields, name)?.trim();
  if (!s || !/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n <= max ? n : null;
};

/**
 * Maps raw journal fields to an Entry. The first value of a repeated field wins (as with
 * sd_journal_get_data). Identity comes from __SEQNUM/__SEQNUM_ID, or from the cursor when an older
 * systemd omits them. Throws BAD_CURSOR when neither gives an identity.
 */
export function entryFromFields(fields: JournalFields): Entry {
  const cursor = text(fields, '__CURSOR');
  if (!cursor) throw new InfralogsError('BAD_CURSOR', 'journal entry has no __CURSOR');
  let seqnumId = text(fields, '__SEQNUM_ID');
  let seqnum = int(fields, '__SEQNUM', Number.MAX_SAFE_INTEGER);
  let bootId = text(fields, '_BOOT_ID');
  let realtimeUs = int(fields, '__REALTIME_TIMESTAMP', Number.MAX_SAFE_INTEGER);
  if (seqnumId === null || seqnum === null || bootId === null || realtimeUs === null) {
    const c = parseCursor(cursor);
    seqnumId ??= c.seqnumId;
    seqnum ??= c.seqnum;
    bootId ??= c.bootId;
    realtimeUs ??= c.realtimeUs;
  }
  const raw = fields.get('MESSAGE')?.[0];
  const valid = raw === undefined || isValidUtf8(raw);
  return {
    cursor,
    bootId,
    seqnumId,
    seqnum,
    realtimeUs,
    message: raw === undefined ? null : raw.toString('utf8'),
    messageRaw: valid ? null : raw!.toString('base64'),
    hostname: text(fields, '_HOSTNAME'),
    comm: text(fields, '_COMM'),
    pid: int(fields, '_PID', 4294967295),
    priority: int(fields, 'PRIORITY', 7),
    syslogIdentifier: text(fields, 'SYSLOG_IDENTIFIER'),
    unit: text(fields, '_SYSTEMD_UNIT'),
  };
}

/** The exact MESSAGE bytes of an entry (raw when present, else the UTF-8 text). */
export function messageBytes(entry: Pick<Entry, 'message' | 'messageRaw'>): Buffer | null {
  if (entry.messageRaw !== null) return Buffer.from(entry.messageRaw, 'base64');
  return entry.message === null ? null : Buffer.from(entry.message, 'utf8');
}
