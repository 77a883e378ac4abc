import type { Entry } from '../entry';

/**
 * Mapping from an entry to a `logs` row, and the multi-row INSERT chunks. Pure: tested without a
 * server. Column order here is the order of LOGS_COLUMNS.
 */
export const LOGS_COLUMNS = [
  'host_id',
  'ts',
  'boot_id',
  'seqnum_id',
  'seqnum',
  'priority',
  'hostname',
  'comm',
  'pid',
  'syslog_identifier',
  'unit',
  'cursor',
  'message',
  'message_raw',
] as const;

/** VARCHAR widths (in characters) of the text columns; longer values are clipped, never rejected. */
export const COLUMN_CHARS = {
  hostname: 255,
  comm: 64,
  syslog_identifier: 255,
  unit: 255,
  cursor: 512,
} as const;

/** Priority as stored in rollups: NULL (no PRIORITY field) becomes 255 so it can be part of a key. */
export const NO_PRIORITY = 255;

/** A logs row in LOGS_COLUMNS order; the ids stay hex here (LOAD DATA sends hex, sqlValues binary). */
export type LogRow = [
  hostId: number,
  ts: string,
  bootIdHex: string,
  seqnumIdHex: string,
  seqnum: number,
  priority: number | null,
  hostname: string | null,
  comm: string | null,
  pid: number | null,
  syslogIdentifier: string | null,
  unit: string | null,
  cursor: string,
  message: string | null,
  messageRaw: Buffer | null,
];

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

export function toRow(hostId: number, e: Entry): LogRow {
  return [
    hostId,
    formatTs(e.realtimeUs),
    e.bootId,
    e.seqnumId,
    e.seqnum,
    e.priority,
    clip(e.hostname, COLUMN_CHARS.hostname),
    clip(e.comm, COLUMN_CHARS.comm),
    e.pid,
    clip(e.syslogIdentifier, COLUMN_CHARS.syslog_identifier),
    clip(e.unit, COLUMN_CHARS.unit),
    clip(e.cursor, COLUMN_CHARS.cursor) ?? '',
    e.message,
    e.messageRaw === null ? null : Buffer.from(e.messageRaw, 'base64'),
  ];
}

/** The row's values for an INSERT: ids as binary. */
export function sqlValues(r: LogRow): unknown[] {
  const v: unknown[] = r.slice();
  v[2] = Buffer.from(r[2], 'hex');
  v[3] = Buffer.from(r[3], 'hex');
  return v;
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
  for (const v of r) {
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

/**
 * One row in LOAD DATA's default text format (tab-separated, backslash escapes, \N for NULL,
 * newline-terminated); binary columns travel as hex and are UNHEX()ed by the statement. One
 * template per row: the fastest way found to build it (this runs for every entry).
 */
export function tsvRow(r: LogRow): string {
  const raw = r[13] === null ? '\\N' : r[13].toString('hex');
  return (
    `${r[0]}\t${r[1]}\t${r[2]}\t${r[3]}\t${r[4]}\t${tsvNumber(r[5])}\t${tsvText(r[6])}\t${tsvText(r[7])}\t` +
    `${tsvNumber(r[8])}\t${tsvText(r[9])}\t${tsvText(r[10])}\t${tsvText(r[11])}\t${tsvText(r[12])}\t${raw}\n`
  );
}

/** The LOAD DATA column list and SET clause matching tsvRow. */
export const LOAD_COLUMNS = (() => {
  const binary = new Set<string>(['boot_id', 'seqnum_id', 'message_raw']);
  const targets = LOGS_COLUMNS.map((c) => (binary.has(c) ? `@${c}` : `\`${c}\``));
  const sets = [...binary].map((c) => `${c} = UNHEX(@${c})`);
  return `(${targets.join(', ')}) SET ${sets.join(', ')}`;
})();

/** Hourly counts per priority of the given rows, for log_counts_hourly. */
export function hourlyCounts(rows: LogRow[]): { hour: string; priority: number; n: number }[] {
  const counts = new Map<string, { hour: string; priority: number; n: number }>();
  for (const r of rows) {
    const hour = hourOf(r[1]);
    const priority = r[5] ?? NO_PRIORITY;
    const key = `${hour}|${priority}`;
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { hour, priority, n: 1 });
  }
  return [...counts.values()];
}
