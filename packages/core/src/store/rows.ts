import { ENTRY_FIELDS, type Entry, type EntryFieldDef, type FieldKind, type FieldSpec } from '../entry';
import { property, unrolled } from '../unrolled';

/**
 * Mapping from an entry to a `logs` row, and the multi-row INSERT chunks and LOAD DATA text. Pure:
 * tested without a server. The columns and their order come from ENTRY_FIELDS (after host_id).
 */
export const LOGS_COLUMNS: readonly string[] = ['host_id', ...ENTRY_FIELDS.map((f) => f.column)];

/** Priority as stored in rollups: NULL (no PRIORITY field) becomes 255 so it can be part of a key. */
export const NO_PRIORITY = 255;

type ColumnValue<K extends FieldKind> = K extends 'cursor' | 'id128' | 'realtime'
  ? string
  : K extends 'seqnum'
    ? number
    : K extends 'integer'
      ? number | null
      : K extends 'raw'
        ? Buffer | null
        : string | null;

/**
 * A logs row, by column: `ts` formatted (formatTs), the 128-bit ids still hex (LOAD DATA sends hex,
 * sqlValues binary), message_raw as its bytes, text clipped to the column's width.
 */
export type LogRow = { host_id: number } & {
  -readonly [F in EntryFieldDef as F['column']]: ColumnValue<F['kind']>;
};

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

// Entries of a batch are close in time: the date-time part of the last second is reused.
let lastSecond = -1;
let lastPrefix = '';

/** `__REALTIME_TIMESTAMP` (µs since the epoch) → 'YYYY-MM-DD HH:MM:SS.ffffff' UTC, without losing µs. */
export function formatTs(realtimeUs: number): string {
  const second = Math.floor(realtimeUs / 1_000_000);
  if (second !== lastSecond) {
    const d = new Date(second * 1000);
    lastPrefix =
      `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.`;
    lastSecond = second;
  }
  return lastPrefix + pad(realtimeUs - second * 1_000_000, 6);
}

/** The hour bucket of a formatted ts ('YYYY-MM-DD HH:00:00'). */
export const hourOf = (ts: string): string => `${ts.slice(0, 13)}:00:00`;

/** Clips to `max` characters (code points, as MySQL counts them) without splitting a surrogate pair. */
export function clip(value: string | null, max: number): string | null {
  if (value === null || value.length <= max) return value;
  let units = 0;
  let chars = 0;
  while (units < value.length && chars < max) {
    const code = value.charCodeAt(units);
    units += code >= 0xd800 && code <= 0xdbff && units + 1 < value.length ? 2 : 1;
    chars++;
  }
  return value.slice(0, units);
}

/** Entry value → column value, per kind. */
const TO_COLUMN: Record<FieldKind, (v: never, f: FieldSpec) => unknown> = {
  cursor: (v: string, f) => clip(v, f.chars!),
  id128: (v: string) => v,
  seqnum: (v: number) => v,
  realtime: (v: number) => formatTs(v),
  message: (v: string | null) => v,
  raw: (v: string | null) => (v === null ? null : Buffer.from(v, 'base64')),
  text: (v: string | null, f) => clip(v, f.chars!),
  integer: (v: number | null) => v,
};
const COLUMNS = ENTRY_FIELDS.map((f: FieldSpec) => ({ ...f, toColumn: TO_COLUMN[f.kind] }));
/** Columns sent as binary: by INSERT as bytes, by LOAD DATA as hex that the statement UNHEX()es. */
const BINARY: ReadonlySet<string> = new Set(
  ENTRY_FIELDS.filter((f) => f.kind === 'id128' || f.kind === 'raw').map((f) => f.column),
);

/** The `logs` row of an entry (unrolled over ENTRY_FIELDS: this runs for every entry). */
export const toRow: (hostId: number, e: Entry) => LogRow = unrolled(
  `(hostId, e) => ({ host_id: hostId, ${COLUMNS.map(
    (c, i) => `${JSON.stringify(c.column)}: to${i}(e${property(c.key)}, spec${i})`,
  ).join(', ')} })`,
  Object.fromEntries(
    COLUMNS.flatMap((c, i) => [
      [`to${i}`, c.toColumn],
      [`spec${i}`, c],
    ]),
  ),
);

/** The row's values for an INSERT, in LOGS_COLUMNS order: ids as binary. */
export function sqlValues(r: LogRow): unknown[] {
  const row = r as unknown as Record<string, unknown>;
  return LOGS_COLUMNS.map((c) =>
    BINARY.has(c) && typeof row[c] === 'string' ? Buffer.from(row[c], 'hex') : row[c],
  );
}

/** The identity of a row as one string: (boot_id, seqnum_id, seqnum, ts) within a host. */
export function identityKey(bootIdHex: string, seqnumIdHex: string, seqnum: number | string, ts: string) {
  return `${bootIdHex}/${seqnumIdHex}/${seqnum}/${ts}`;
}

/**
 * An upper bound of a row's size in the INSERT text: escaping at most doubles text, binary
 * travels as hex (two characters a byte), plus room for the fixed-width columns and quotes.
 */
export function rowSqlBytes(r: LogRow): number {
  let n = 200;
  for (const v of Object.values(r)) {
    if (typeof v === 'string') n += 2 * Buffer.byteLength(v, 'utf8');
    else if (Buffer.isBuffer(v)) n += 2 * v.length;
  }
  return n;
}

/**
 * Cuts rows into chunks for multi-row INSERTs, each under `maxBytes` of SQL text (so under
 * max_allowed_packet) and at most `maxRows` rows. A single row larger than maxBytes gets a chunk of
 * its own: the server decides whether it fits.
 */
export function chunkRows<R>(rows: R[], size: (r: R) => number, maxBytes: number, maxRows: number): R[][] {
  const chunks: R[][] = [];
  let current: R[] = [];
  let bytes = 0;
  for (const r of rows) {
    const s = size(r);
    if (current.length > 0 && (bytes + s > maxBytes || current.length >= maxRows)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += s;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

const TSV_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
};
const TSV_SPECIAL = /[\\\t\n\r\0]/g;
const HAS_TSV_SPECIAL = /[\\\t\n\r\0]/;

const tsvText = (v: string | null) =>
  v === null ? '\\N' : HAS_TSV_SPECIAL.test(v) ? v.replace(TSV_SPECIAL, (c) => TSV_ESCAPES[c]!) : v;
const tsvNumber = (v: number | null) => (v === null ? '\\N' : String(v));

/** Column value → LOAD DATA text, per kind. */
const TO_TSV: Record<FieldKind, (v: never) => string> = {
  cursor: tsvText,
  id128: (v: string) => v,
  seqnum: tsvNumber,
  realtime: (v: string) => v,
  message: tsvText,
  raw: (v: Buffer | null) => (v === null ? '\\N' : v.toString('hex')),
  text: tsvText,
  integer: tsvNumber,
};
const TSV_COLUMNS = COLUMNS.map((c) => ({ column: c.column, toTsv: TO_TSV[c.kind] }));

/**
 * A row's LOAD DATA text after its host_id, in LOGS_COLUMNS order (tab-separated, backslash
 * escapes, \N for NULL, newline-terminated); binary columns travel as hex and are UNHEX()ed by
 * the statement. Ingest sends this and its statement SETs the batch's one host (loadStatement).
 * This runs for every entry.
 */
export const tsvFields: (r: LogRow) => string = unrolled(
  `(r) => ${TSV_COLUMNS.map((c, i) => `tsv${i}(r${property(c.column)})`).join(` + '\\t' + `)} + '\\n'`,
  Object.fromEntries(TSV_COLUMNS.map((c, i) => [`tsv${i}`, c.toTsv])),
);

/** One whole row in LOAD DATA's text format, host_id first (for files of many hosts). */
export const tsvRow = (r: LogRow): string => `${r.host_id}\t${tsvFields(r)}`;

/**
 * `LOAD DATA LOCAL INFILE` of rows in this text format into logs: rows as tsvRow gives them, or,
 * given the host, as tsvFields gives them (host_id SET to it). `file` is a fixed name for the
 * client's data, which mysql2's infileStreamFactory supplies whatever the name.
 */
export function loadStatement(file: string, hostId?: number): string {
  return `LOAD DATA LOCAL INFILE '${file}' INTO TABLE logs CHARACTER SET utf8mb4
    FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ${loadColumns(hostId)}`;
}

/** The column list and SET clause matching tsvRow, or tsvFields given the host. */
function loadColumns(hostId?: number): string {
  const targets = LOGS_COLUMNS.filter((c) => hostId === undefined || c !== 'host_id').map((c) =>
    BINARY.has(c) ? `@${c}` : `\`${c}\``,
  );
  const sets = [...BINARY].map((c) => `${c} = UNHEX(@${c})`);
  if (hostId !== undefined) {
    if (!Number.isSafeInteger(hostId)) throw new TypeError(`host id ${hostId} is not an integer`);
    sets.unshift(`host_id = ${hostId}`);
  }
  return `(${targets.join(', ')}) SET ${sets.join(', ')}`;
}

/** Rows of one hour ('YYYY-MM-DD HH:00:00') and one priority (NO_PRIORITY for none). */
export interface HourGroup {
  hour: string;
  priority: number;
  rows: LogRow[];
}

/**
 * The rows grouped by hour and priority: what every hourly rollup counts within (hourlyCounts,
 * fieldCounts), so a batch's rows are grouped once for all of them. Rows of a batch mostly share
 * their hour, so its text is built once per change of hour, not once a row.
 */
export function hourGroups(rows: LogRow[]): HourGroup[] {
  const groups = new Map<string, HourGroup>();
  // The current row's hour: 'YYYY-MM-DD HH' (its ts up to the hour) and as stored (hourOf).
  let prefix = '';
  let hour = '';
  for (const r of rows) {
    if (prefix === '' || !r.ts.startsWith(prefix)) {
      prefix = r.ts.slice(0, 13);
      hour = hourOf(r.ts);
    }
    const priority = r.priority ?? NO_PRIORITY;
    const key = `${prefix}|${priority}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { hour, priority, rows: [] }));
    g.rows.push(r);
  }
  return [...groups.values()];
}

/** Hourly counts per priority, for log_counts_hourly. */
export function hourlyCounts(groups: HourGroup[]): { hour: string; priority: number; n: number }[] {
  const counts = groups.map((g) => ({ hour: g.hour, priority: g.priority, n: g.rows.length }));
  // In the primary key's order, so every batch's upsert locks its rows in one order.
  return counts.sort((a, b) => compareKeys([a.hour, a.priority], [b.hour, b.priority]));
}

/**
 * Orders rollup keys column by column, as their primary key does (strings by code unit: any one
 * total order makes concurrent upserts lock rows in the same order, which is what it is for).
 */
export function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
