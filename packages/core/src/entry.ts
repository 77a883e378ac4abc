import { z } from 'zod';
import { InfralogsError } from './errors';

/**
 * The entry model: one journal entry as it travels agent → fetch-host → ingest (one NDJSON line
 * each) and as it is stored in `logs`. ENTRY_FIELDS below is the one description of its fields;
 * the Entry type, entrySchema, the journal readers' field list, the NDJSON encoder's keys, the
 * batch check, the row builder, LOAD DATA's column list and fetch-host's truncation all derive
 * from it. Adding a column = one row here + one migration (`addColumnsSql` writes its ALTER).
 */

/**
 * How a field's journal value becomes its entry value and its column value. The first six are the
 * entry's identity and message, each read by code of its own; `text` and `integer` are generic.
 * - cursor: `__CURSOR`, the entry's own position (ASCII), VARCHAR;
 * - id128: 32 lowercase hex digits (from the cursor when the field is missing), BINARY(16);
 * - seqnum / realtime: integers (from the cursor when missing); realtime is µs since the epoch,
 *   stored as DATETIME(6) UTC;
 * - message: MESSAGE as UTF-8 text (lossy when the bytes are not UTF-8), and
 * - raw: base64 of MESSAGE's exact bytes, only when they are not valid UTF-8 (null otherwise);
 * - text: the field's first value as UTF-8 text, null when absent; clipped to the column's width;
 * - integer: trimmed decimal digits up to `max`, else null.
 */
export type FieldKind = 'cursor' | 'id128' | 'seqnum' | 'realtime' | 'message' | 'raw' | 'text' | 'integer';

export interface FieldSpec {
  /** The key on the wire (NDJSON lines, ingest batches) and in Entry. */
  readonly key: string;
  /** The journald field it is read from; null when derived from another (messageRaw). */
  readonly journal: string | null;
  /** Its column in `logs`. */
  readonly column: string;
  /** The column's SQL type (MySQL 8 and MariaDB alike). */
  readonly sql: string;
  readonly kind: FieldKind;
  /** text: the column's width in characters; longer values are clipped on the way in, never refused. */
  readonly chars?: number;
  /** integer: the largest value kept; larger or malformed values become null. */
  readonly max?: number;
  /** text that fetch-host may shorten (to SHORTENED_TEXT_BYTES) when an entry is too large to send. */
  readonly shorten?: boolean;
  /**
   * Added after the first release: an agent older than the field leaves it out of its lines, and
   * fetch-host and ingest read it as null instead of refusing the entry (rolling upgrades).
   */
  readonly optional?: boolean;
  /**
   * Ranked by the dashboard's top lists: counted per value in log_field_counts_hourly/_daily by
   * ingest, under this id (`field` column) and this name (the API's `top?field=`).
   */
  readonly rollup?: { readonly id: number; readonly name: string };
  /** What the field is, for docs and readers of this table. */
  readonly doc: string;
}

/** Wire order = this order (agent, encoder and readers write keys in it; tests hold them to it). */
export const ENTRY_FIELDS = [
  {
    key: 'cursor',
    journal: '__CURSOR',
    column: 'cursor',
    sql: 'VARCHAR(512) NOT NULL',
    kind: 'cursor',
    chars: 512,
    doc: "the entry's journal cursor, opaque (a host's checkpoint is one); a reserved word in SQL: always quote it",
  },
  {
    key: 'bootId',
    journal: '_BOOT_ID',
    column: 'boot_id',
    sql: 'BINARY(16) NOT NULL',
    kind: 'id128',
    doc: 'boot id (identity): 32 hex digits stored as 16 bytes, read with LOWER(HEX(boot_id)), filter with UNHEX(?); from the cursor’s b= when missing',
  },
  {
    key: 'seqnumId',
    journal: '__SEQNUM_ID',
    column: 'seqnum_id',
    sql: 'BINARY(16) NOT NULL',
    kind: 'id128',
    doc: 'sequence-number space of the journal file set (identity), stored as boot_id; from the cursor’s s= when missing',
  },
  {
    key: 'seqnum',
    journal: '__SEQNUM',
    column: 'seqnum',
    sql: 'BIGINT UNSIGNED NOT NULL',
    kind: 'seqnum',
    doc: 'sequence number within seqnum_id (identity); from the cursor’s i= when missing',
  },
  {
    key: 'realtimeUs',
    journal: '__REALTIME_TIMESTAMP',
    column: 'ts',
    sql: 'DATETIME(6) NOT NULL',
    kind: 'realtime',
    doc: 'wall-clock time in µs since the epoch, stored UTC (the partitioning column); from the cursor’s t= when missing',
  },
  {
    key: 'message',
    journal: 'MESSAGE',
    column: 'message',
    sql: 'MEDIUMTEXT NULL',
    kind: 'message',
    doc: 'MESSAGE as UTF-8 text, up to 16 MiB, never clipped (lossy when its bytes are not UTF-8)',
  },
  {
    key: 'messageRaw',
    journal: null,
    column: 'message_raw',
    sql: 'MEDIUMBLOB NULL',
    kind: 'raw',
    doc: 'MESSAGE’s exact bytes (base64 on the wire), only when they are not valid UTF-8: exact bytes = COALESCE(message_raw, message)',
  },
  {
    key: 'hostname',
    journal: '_HOSTNAME',
    column: 'hostname',
    sql: 'VARCHAR(255) NULL',
    kind: 'text',
    chars: 255,
    shorten: true,
    doc: 'host name the entry was logged under (may change; see machineId)',
  },
  {
    key: 'comm',
    journal: '_COMM',
    column: 'comm',
    sql: 'VARCHAR(64) NULL',
    kind: 'text',
    chars: 64,
    shorten: true,
    rollup: { id: 2, name: 'comm' },
    doc: 'process name (the kernel cuts it to 15 characters)',
  },
  {
    key: 'pid',
    journal: '_PID',
    column: 'pid',
    sql: 'INT UNSIGNED NULL',
    kind: 'integer',
    max: 4294967295,
    doc: 'process id',
  },
  {
    key: 'priority',
    journal: 'PRIORITY',
    column: 'priority',
    sql: 'TINYINT UNSIGNED NULL',
    kind: 'integer',
    max: 7,
    doc: 'syslog priority 0 emerg … 7 debug; null when absent or out of range',
  },
  {
    key: 'syslogIdentifier',
    journal: 'SYSLOG_IDENTIFIER',
    column: 'syslog_identifier',
    sql: 'VARCHAR(255) NULL',
    kind: 'text',
    chars: 255,
    shorten: true,
    rollup: { id: 1, name: 'identifier' },
    doc: 'syslog identifier (program tag)',
  },
  {
    key: 'unit',
    journal: '_SYSTEMD_UNIT',
    column: 'unit',
    sql: 'VARCHAR(255) NULL',
    kind: 'text',
    chars: 255,
    shorten: true,
    rollup: { id: 3, name: 'unit' },
    doc: 'systemd unit',
  },
  {
    key: 'machineId',
    journal: '_MACHINE_ID',
    column: 'machine_id',
    sql: 'VARCHAR(32) NULL',
    kind: 'text',
    chars: 32,
    shorten: true,
    optional: true,
    doc: "the VM's machine id (/etc/machine-id): its stable identity, kept across hostname changes",
  },
  {
    key: 'transport',
    journal: '_TRANSPORT',
    column: 'transport',
    sql: 'VARCHAR(32) NULL',
    kind: 'text',
    chars: 32,
    shorten: true,
    optional: true,
    doc: 'how the entry reached journald: journal, syslog, kernel, stdout, audit, driver',
  },
] as const satisfies readonly FieldSpec[];

/** One row of ENTRY_FIELDS, with its literal types. */
export type EntryFieldDef = (typeof ENTRY_FIELDS)[number];
type Field = EntryFieldDef;
export type EntryKey = Field['key'];
type ValueOf<F extends Field> = F['kind'] extends 'cursor' | 'id128'
  ? string
  : F['kind'] extends 'seqnum' | 'realtime'
    ? number
    : F['kind'] extends 'integer'
      ? number | null
      : string | null;

/** One entry: every key of ENTRY_FIELDS with its value (see FieldKind). */
export type Entry = { -readonly [F in Field as F['key']]: ValueOf<F> };

/** The field with this key. */
export function entryField(key: EntryKey): FieldSpec {
  return ENTRY_FIELDS.find((f) => f.key === key)!;
}

/** The generic fields (text and integer), in wire order: code that is not about identity loops over these. */
export const PLAIN_FIELDS: readonly FieldSpec[] = ENTRY_FIELDS.filter(
  (f) => f.kind === 'text' || f.kind === 'integer',
);

/** The journald fields the entry is read from, in table order (what readers keep). */
export const JOURNAL_FIELDS: readonly string[] = ENTRY_FIELDS.flatMap((f) =>
  f.journal === null ? [] : [f.journal],
);

/** fetch-host cuts `shorten` fields to this many bytes when an entry is too large to send. */
export const SHORTENED_TEXT_BYTES = 4096;

/** `ALTER TABLE logs` clauses adding these fields' columns, typed as the table says (for a migration). */
export function addColumnsSql(keys: readonly EntryKey[]): string {
  return keys.map((k) => `ADD COLUMN \`${entryField(k).column}\` ${entryField(k).sql}`).join(', ');
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

/** The wire rules of each kind (what ingest and fetch-host accept). */
export const HEX128 = /^[0-9a-f]{32}$/;
export const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const counter = () => z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const WIRE_RULE: Record<FieldKind, (f: FieldSpec) => z.ZodType> = {
  cursor: (f) => z.string().min(1).max(f.chars!),
  id128: () => z.string().regex(HEX128, 'must be 32 lowercase hex digits'),
  seqnum: counter,
  realtime: counter,
  message: () => z.string().nullable(),
  raw: () => z.string().regex(BASE64, 'must be base64').nullable(),
  text: () => z.string().nullable(),
  integer: (f) => z.number().int().min(0).max(f.max!).nullable(),
};

/**
 * Validates one entry received over the wire (ingest trusts nothing it did not check). Unknown keys
 * are refused; an `optional` field left out (an older agent) is read as null.
 */
export const entrySchema = z.strictObject(
  Object.fromEntries(
    ENTRY_FIELDS.map((f: FieldSpec) => {
      const rule = WIRE_RULE[f.kind](f);
      return [f.key, f.optional ? rule.default(null) : rule];
    }),
  ),
) as unknown as z.ZodType<Entry, unknown>;

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

const journalName = (key: EntryKey) => entryField(key).journal!;
const CURSOR = journalName('cursor');
const BOOT_ID = journalName('bootId');
const SEQNUM_ID = journalName('seqnumId');
const SEQNUM = journalName('seqnum');
const REALTIME = journalName('realtimeUs');
const MESSAGE = journalName('message');

/**
 * Maps raw journal fields to an Entry: the reference mapping, which the fast readers must match.
 * The first value of a repeated field wins (as with sd_journal_get_data). Identity comes from
 * __SEQNUM/__SEQNUM_ID, or from the cursor when an older systemd omits them. Throws BAD_CURSOR
 * when neither gives an identity.
 */
export function entryFromFields(fields: JournalFields): Entry {
  const cursor = text(fields, CURSOR);
  if (!cursor) throw new InfralogsError('BAD_CURSOR', 'journal entry has no __CURSOR');
  let seqnumId = text(fields, SEQNUM_ID);
  let seqnum = int(fields, SEQNUM, Number.MAX_SAFE_INTEGER);
  let bootId = text(fields, BOOT_ID);
  let realtimeUs = int(fields, REALTIME, Number.MAX_SAFE_INTEGER);
  if (seqnumId === null || seqnum === null || bootId === null || realtimeUs === null) {
    const c = parseCursor(cursor);
    seqnumId ??= c.seqnumId;
    seqnum ??= c.seqnum;
    bootId ??= c.bootId;
    realtimeUs ??= c.realtimeUs;
  }
  const raw = fields.get(MESSAGE)?.[0];
  const valid = raw === undefined || isValidUtf8(raw);
  const entry: Record<string, unknown> = {
    cursor,
    bootId,
    seqnumId,
    seqnum,
    realtimeUs,
    message: raw === undefined ? null : raw.toString('utf8'),
    messageRaw: valid ? null : raw!.toString('base64'),
  };
  for (const f of PLAIN_FIELDS) {
    entry[f.key] = f.kind === 'integer' ? int(fields, f.journal!, f.max!) : text(fields, f.journal!);
  }
  return entry as Entry;
}

/** The exact MESSAGE bytes of an entry (raw when present, else the UTF-8 text). */
export function messageBytes(entry: Pick<Entry, 'message' | 'messageRaw'>): Buffer | null {
  if (entry.messageRaw !== null) return Buffer.from(entry.messageRaw, 'base64');
  return entry.message === null ? null : Buffer.from(entry.message, 'utf8');
}
