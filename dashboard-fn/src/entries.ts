import {
  formatTs,
  InfralogsError,
  NO_PRIORITY,
  PRIORITY_NAMES,
  select,
  type Queryable,
} from '@infralogs/core';
import type { EntriesQuery, Filter } from './params';
import { countSource, hostIds, hoursOf, HOUR_MS, ISO_US, listHosts, sqlTime, type HostRow } from './queries';

/**
 * Entries: the table, the free-text search, one entry's detail and the export.
 *
 * Two ways to read `logs`, both bounded:
 * - **Index walks** when the filter is hosts and/or a priority range, or hosts and a unit or an
 *   identifier: one walk of `ix_logs_host_ts`, `ix_logs_host_priority_ts`, `ix_logs_host_unit_ts`
 *   or `ix_logs_host_ident_ts` per host (and level, for a priority range),
 *   newest first, each cut at `limit`, merged and cut again. Each part reads at most `limit` index
 *   entries (index-only: the primary key's columns), and only the `limit` kept are read by key.
 * - **Budgeted walks** for everything else (free text, comm, identifier or unit with a priority):
 *   MySQL 8 has no FULLTEXT on partitioned tables, so the search walks `ix_logs_host_ts` back in
 *   time over a slice planned from the hourly rollup to hold what the server reads in about half
 *   the statement time limit (by the rate measured so far, at most `SEARCH_ROW_BUDGET` rows). It
 *   answers the matches found so far, how many rows it searched and how far back, and `next`, the
 *   time to continue from. The page repeats it and shows the progress.
 */

/** Characters of a message in lists; the detail view gets up to DETAIL_MESSAGE_CHARS. */
export const MAX_MESSAGE_CHARS = 4000;
export const DETAIL_MESSAGE_CHARS = 65_536;
/** Rows one search request may read (planned from the rollup). */
export const SEARCH_ROW_BUDGET = 200_000;
export const SEARCH_MIN_ROWS = 5_000;
/**
 * One search request's wall time, from its start (the hosts, the plan and every attempt included):
 * each statement's time limit is what is left of it, so a request answers within it by construction.
 * Sized so the request's p95 over HTTP stays under 1 s on a loaded server: 850 ms gave 1016 ms at
 * 10 M rows in bench:dashboard (the rest is HTTP and event-loop delay).
 */
export const SEARCH_TIME_MS = 650;
/** Kept for building the answer; a statement is not started with less than SEARCH_MIN_STATEMENT_MS left. */
const SEARCH_ANSWER_MS = 30;
const SEARCH_MIN_STATEMENT_MS = 100;
/** How far back one plan looks: a slice never spans more (the plan reads hosts × 168 × 9 rollup rows at most). */
const SEARCH_PLAN_HOURS = 7 * 24;

/**
 * Rows per ms this process's searches have read (a first guess until measured, about what a loaded
 * 2-core server reads): a slice is planned to take 40% of the request's time, so the p95 stays
 * inside it, and a busy server gets smaller steps instead of timeouts.
 */
let searchRate = 40;
const rowBudget = () =>
  Math.max(SEARCH_MIN_ROWS, Math.min(SEARCH_ROW_BUDGET, Math.round(searchRate * SEARCH_TIME_MS * 0.4)));
/** Rows one export answers at most, and how long it may read (under the function's 30 s exec_timeout). */
export const EXPORT_MAX_ROWS = 100_000;
export const EXPORT_MAX_MS = 20_000;

/**
 * The stored fields the page shows, in order: `list` ones are the entries table's columns, all of
 * them the detail view's. One line here adds a column to the table, the detail, CSV and NDJSON.
 */
export const SHOWN_FIELDS: readonly { key: string; label: string; sql: string; list?: boolean }[] = [
  { key: 'ts', label: 'time (UTC)', sql: `DATE_FORMAT(l.ts, ${ISO_US})`, list: true },
  { key: 'host', label: 'host', sql: 'l.host_id', list: true },
  { key: 'priority', label: 'priority', sql: 'l.priority', list: true },
  { key: 'syslogIdentifier', label: 'identifier', sql: 'l.syslog_identifier', list: true },
  { key: 'pid', label: 'pid', sql: 'l.pid', list: true },
  { key: 'unit', label: 'unit', sql: 'l.unit', list: true },
  { key: 'transport', label: 'transport (_TRANSPORT)', sql: 'l.transport', list: true },
  { key: 'machineId', label: 'machine (_MACHINE_ID)', sql: 'l.machine_id', list: true },
  { key: 'message', label: 'message', sql: `SUBSTRING(l.message, 1, ${MAX_MESSAGE_CHARS})`, list: true },
  { key: 'comm', label: 'comm (_COMM)', sql: 'l.comm' },
  { key: 'hostname', label: 'hostname (_HOSTNAME)', sql: 'l.hostname' },
  { key: 'bootId', label: 'boot (_BOOT_ID)', sql: 'LOWER(HEX(l.boot_id))' },
  { key: 'seqnumId', label: 'seqnum id (__SEQNUM_ID)', sql: 'LOWER(HEX(l.seqnum_id))' },
  { key: 'seqnum', label: 'seqnum (__SEQNUM)', sql: 'CAST(l.seqnum AS CHAR)' },
  { key: 'cursor', label: 'cursor (__CURSOR)', sql: 'l.`cursor`' },
  { key: 'rawBytes', label: 'raw message bytes (not UTF-8)', sql: 'OCTET_LENGTH(l.message_raw)' },
];

export const LIST_FIELDS = SHOWN_FIELDS.filter((f) => f.list);
export const COLUMNS = LIST_FIELDS.map((f) => ({ key: f.key, label: f.label }));

/** An entry as the API answers it: the list fields, `id` for the detail, and `truncated`. */
export type EntryView = Record<string, string | number | null | boolean> & {
  id: string;
  ts: string;
  host: string;
  priority: string | null;
  message: string | null;
  truncated: boolean;
};

interface Row {
  [key: string]: unknown;
  hostId: number;
  k_seqnumId: string;
  k_seqnum: string;
  k_bootId: string;
  k_us: string;
  k_long: number | string;
}

// The identity (for the entry's id) and whether the message was cut, beside the shown fields.
const KEY_SQL = `l.host_id AS hostId, l.seqnum AS k_seq, LOWER(HEX(l.seqnum_id)) AS k_seqnumId, CAST(l.seqnum AS CHAR) AS k_seqnum,
  LOWER(HEX(l.boot_id)) AS k_bootId, CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', l.ts) AS CHAR) AS k_us`;
const selectList = (fields: typeof SHOWN_FIELDS, chars: number) =>
  [
    KEY_SQL,
    `CHAR_LENGTH(l.message) > ${chars} AS k_long`,
    ...fields.map((f) => `${f.key === 'host' ? 'l.host_id' : f.sql} AS \`${f.key}\``),
  ].join(', ');
const LIST_SQL = selectList(LIST_FIELDS, MAX_MESSAGE_CHARS);

const priorityName = (p: unknown) =>
  p === null || p === undefined || Number(p) === NO_PRIORITY ? null : (PRIORITY_NAMES[Number(p)] ?? null);

function toView(r: Row, names: Map<number, string>, fields: typeof SHOWN_FIELDS): EntryView {
  const view: Record<string, string | number | null | boolean> = {
    id: [r.hostId, r.k_seqnumId, r.k_seqnum, r.k_bootId, r.k_us].join('.'),
  };
  for (const f of fields) {
    const v = r[f.key];
    if (f.key === 'host') view.host = names.get(r.hostId) ?? `#${r.hostId}`;
    else if (f.key === 'priority') view.priority = priorityName(v);
    else view[f.key] = v === undefined ? null : (v as string | number | null);
  }
  view.truncated = Number(r.k_long) === 1;
  return view as EntryView;
}

export interface Entries {
  columns: typeof COLUMNS;
  entries: EntryView[];
  /** Pass as `before` for the next (older) page; null when the range is exhausted. */
  next: string | null;
  /** Set for a budgeted walk: how much this request searched. */
  search: { scanned: number; searchedFrom: string; searchedTo: string; ms: number } | null;
}

/** Whether the filter needs a budgeted walk rather than an exact index walk. */
export const needsSearch = (f: Filter) =>
  f.text !== null ||
  f.comm !== null ||
  (f.identifier !== null && (f.unit !== null || f.priority !== null)) ||
  (f.unit !== null && f.priority !== null);

const columnToIso = (column: string) => `${column.slice(0, 10)}T${column.slice(11)}Z`;

/**
 * The newest entries matching the filter before `before`, newest first. `started` (ms since the
 * epoch) is when the request arrived: a budgeted search counts its time from there.
 */
export async function readEntries(
  db: Queryable,
  query: EntriesQuery,
  hosts?: HostRow[],
  started = Date.now(),
): Promise<Entries> {
  const all = hosts ?? (await listHosts(db));
  const names = new Map(all.map((h) => [h.id, h.name]));
  const ids = hostIds(all, query.filter);
  if (needsSearch(query.filter)) return search(db, query, ids, names, started);
  const { filter, limit } = query;
  const upper =
    query.before !== null && query.before < sqlTime(filter.toMs) ? query.before : sqlTime(filter.toMs);
  const range = 'w.ts >= ? AND w.ts < ?';
  const rangeValues = [sqlTime(filter.fromMs), upper];
  const parts: { sql: string; values: unknown[] }[] = [];
  // Each walk reads only the primary key's columns, which every secondary index holds: an
  // index-only walk, the rows it passes over are never read. Only the `limit` entries kept are
  // read from the table, by primary key.
  const part = (index: string, where: string, values: unknown[]) =>
    parts.push({
      sql: `SELECT w.host_id, w.seqnum_id, w.seqnum, w.boot_id, w.ts FROM logs w FORCE INDEX (${index})
             WHERE ${where}${where ? ' AND ' : ''}${range} ORDER BY w.ts DESC LIMIT ?`,
      values: [...values, ...rangeValues, limit],
    });
  // Every walk is of one host: no index leads with anything else (each costs both servers CPU
  // on every stored entry), and the hosts are few enough to name.
  const walked = ids ?? all.map((h) => h.id);
  if (filter.unit !== null) {
    for (const id of walked) part('ix_logs_host_unit_ts', 'w.host_id = ? AND w.unit = ?', [id, filter.unit]);
  } else if (filter.identifier !== null) {
    for (const id of walked)
      part('ix_logs_host_ident_ts', 'w.host_id = ? AND w.syslog_identifier = ?', [id, filter.identifier]);
  } else if (filter.priority === null) {
    for (const id of walked) part('ix_logs_host_ts', 'w.host_id = ?', [id]);
  } else {
    for (const id of walked)
      for (let p = filter.priority.from; p <= filter.priority.to; p++)
        part('ix_logs_host_priority_ts', 'w.host_id = ? AND w.priority = ?', [id, p]);
  }
  if (parts.length === 0) return { columns: COLUMNS, entries: [], next: null, search: null };
  // The walks merged and cut (ties in time in a fixed order, so every page agrees), then the kept
  // keys joined to their rows, in that order.
  const order = 'ts DESC, host_id DESC, seqnum DESC';
  const sql = `SELECT STRAIGHT_JOIN ${LIST_SQL}
      FROM (${parts.map((p) => `(${p.sql})`).join(' UNION ALL ')} ORDER BY ${order} LIMIT ?) k
      JOIN logs l ON l.host_id = k.host_id AND l.seqnum_id = k.seqnum_id AND l.seqnum = k.seqnum
        AND l.boot_id = k.boot_id AND l.ts = k.ts
     ORDER BY k.${order.replaceAll(', ', ', k.')}`;
  const values = [...parts.flatMap((p) => p.values), limit];
  const rows = await select<Row>(db, sql, values);
  const entries = rows.map((r) => toView(r, names, LIST_FIELDS));
  const last = entries.at(-1);
  return { columns: COLUMNS, entries, next: entries.length === limit && last ? last.ts : null, search: null };
}

/** `%` and `_` match themselves in a LIKE pattern ('\\' is the escape). */
const likeContains = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

const TIMEOUT_ERRNOS = new Set([1969, 3024]); // MariaDB max_statement_time, MySQL MAX_EXECUTION_TIME
const flavours = new WeakMap<object, Promise<'mariadb' | 'mysql'>>();
function flavourOf(db: Queryable): Promise<'mariadb' | 'mysql'> {
  let f = flavours.get(db);
  if (!f) {
    f = select<{ v: string }>(db, 'SELECT VERSION() AS v').then((r) =>
      /mariadb/i.test(r[0]?.v ?? '') ? 'mariadb' : 'mysql',
    );
    flavours.set(db, f);
  }
  return f;
}

/**
 * One budgeted step back in time: plans the slice [lower, upper) from the rollup so it holds about
 * as many rows as the measured rate reads in 40% of SEARCH_TIME_MS (SEARCH_MIN_ROWS to
 * SEARCH_ROW_BUDGET, at least one hour's worth, at most SEARCH_PLAN_HOURS), reads it through
 * `ix_logs_host_ts` with the filter in the WHERE under a statement time limit of what is left of
 * the request's SEARCH_TIME_MS (halving the slice on a timeout while time is left), and answers the
 * matches (at most `limit`, newest first) and where to continue. Out of time, it answers no
 * matches and `next` = where it started; the halved rate makes the next step smaller.
 */
async function search(
  db: Queryable,
  query: EntriesQuery,
  ids: number[] | null,
  names: Map<number, string>,
  started: number,
): Promise<Entries> {
  const deadline = started + SEARCH_TIME_MS - SEARCH_ANSWER_MS;
  const { filter, limit } = query;
  const hostList = ids ?? [...names.keys()];
  const fromSql = sqlTime(filter.fromMs);
  const upper =
    query.before !== null && query.before < sqlTime(filter.toMs) ? query.before : sqlTime(filter.toMs);
  const upperMs = Date.parse(columnToIso(upper));
  const empty = (scanned: number, lowerSql: string): Entries => ({
    columns: COLUMNS,
    entries: [],
    next: null,
    search: {
      scanned,
      searchedFrom: columnToIso(upper),
      searchedTo: columnToIso(lowerSql),
      ms: Date.now() - started,
    },
  });
  if (hostList.length === 0 || upper <= fromSql) return empty(0, upper <= fromSql ? upper : fromSql);

  // Plan: hours back from `upper` until the rollup says the budget is reached.
  const planFromMs = Math.max(
    filter.fromMs,
    Math.floor(upperMs / HOUR_MS) * HOUR_MS - SEARCH_PLAN_HOURS * HOUR_MS,
  );
  const src = countSource(
    { ...filter, fromMs: planFromMs, identifier: null, comm: null, unit: null, text: null },
    ids,
    hoursOf({ ...filter, fromMs: planFromMs, toMs: upperMs }),
  );
  const perHour = await select<{ hourIso: string; n: string | number }>(
    db,
    `SELECT DATE_FORMAT(hour, '%Y-%m-%dT%H:%i:%sZ') AS hourIso, SUM(n) AS n FROM ${src.table}
      WHERE ${src.where} GROUP BY hour ORDER BY hour DESC LIMIT ?`,
    [...src.values, SEARCH_PLAN_HOURS + 1],
  );
  let lowerMs = planFromMs;
  let planned = 0;
  const budget = rowBudget();
  for (const h of perHour) {
    planned += Number(h.n);
    if (planned >= budget) {
      lowerMs = Math.max(filter.fromMs, Date.parse(h.hourIso));
      break;
    }
  }
  // Hours without entries before the first one found are skipped at once.
  if (perHour.length === 0)
    return planFromMs > filter.fromMs
      ? { ...empty(0, sqlTime(planFromMs)), next: columnToIso(sqlTime(planFromMs)) }
      : empty(0, fromSql);

  const where: string[] = ['l.host_id IN (?)', 'l.ts >= ?', 'l.ts < ?'];
  const extra: unknown[] = [];
  if (filter.priority !== null) {
    where.push('l.priority BETWEEN ? AND ?');
    extra.push(filter.priority.from, filter.priority.to);
  }
  for (const [column, value] of [
    ['l.syslog_identifier', filter.identifier],
    ['l.comm', filter.comm],
    ['l.unit', filter.unit],
  ] as const) {
    if (value !== null) {
      where.push(`${column} = ?`);
      extra.push(value);
    }
  }
  if (filter.text !== null) {
    where.push("l.message LIKE ? ESCAPE '\\\\'");
    extra.push(likeContains(filter.text));
  }
  const mariadb = (await flavourOf(db)) === 'mariadb';
  for (;;) {
    const leftMs = Math.floor(deadline - Date.now());
    if (leftMs < SEARCH_MIN_STATEMENT_MS) return { ...empty(0, upper), next: columnToIso(upper) };
    // Integers the code computed, not input: the time limit cannot be a bound parameter.
    const prefix = mariadb ? `SET STATEMENT max_statement_time = ${(leftMs / 1000).toFixed(3)} FOR ` : '';
    const hint = mariadb ? '' : `/*+ MAX_EXECUTION_TIME(${leftMs}) */ `;
    const lowerSql = sqlTime(lowerMs);
    const stepStarted = Date.now();
    try {
      const rows = await select<Row>(
        db,
        `${prefix}SELECT ${hint}${LIST_SQL} FROM logs l FORCE INDEX (ix_logs_host_ts)
          WHERE ${where.join(' AND ')} ORDER BY l.ts DESC, l.host_id DESC, l.seqnum DESC LIMIT ?`,
        [hostList, lowerSql, upper, ...extra, limit],
      );
      const entries = rows.map((r) => toView(r, names, LIST_FIELDS));
      const full = entries.length === limit;
      // A full page ends where its last match is; otherwise the whole slice was searched.
      const reached = full ? entries.at(-1)!.ts : columnToIso(lowerSql);
      const reachedMs = Date.parse(reached);
      const scanned = estimateRows(perHour, reachedMs, upperMs);
      // The server read the whole slice (the matches are sorted after): that is the rate.
      const read = estimateRows(perHour, lowerMs, upperMs);
      const took = Math.max(1, Date.now() - stepStarted);
      if (read >= SEARCH_MIN_ROWS) searchRate = 0.7 * searchRate + 0.3 * (read / took);
      return {
        columns: COLUMNS,
        entries,
        next: full || lowerMs > filter.fromMs ? reached : null,
        search: { scanned, searchedFrom: columnToIso(upper), searchedTo: reached, ms: Date.now() - started },
      };
    } catch (err) {
      const errno = (err as { cause?: { errno?: unknown } }).cause?.errno;
      if (typeof errno !== 'number' || !TIMEOUT_ERRNOS.has(errno)) throw err;
      // Too slow for the time budget (a dense slice, a cold cache, a busy server): half as far back.
      searchRate /= 2;
      lowerMs = Math.max(lowerMs, upperMs - Math.max(60_000, Math.floor((upperMs - lowerMs) / 2)));
    }
  }
}

/** Rows the rollup holds between two times, hours cut proportionally: what a walk read. */
function estimateRows(perHour: { hourIso: string; n: string | number }[], fromMs: number, toMs: number) {
  let rows = 0;
  for (const h of perHour) {
    const start = Date.parse(h.hourIso);
    const overlap = Math.min(toMs, start + HOUR_MS) - Math.max(fromMs, start);
    if (overlap > 0) rows += (Number(h.n) * overlap) / HOUR_MS;
  }
  return Math.round(rows);
}

/** An entry id (`host.seqnumId.seqnum.bootId.µs`, as the list answers it) → its primary key. */
function parseId(id: string) {
  const m = /^(\d{1,10})\.([0-9a-f]{32})\.(\d{1,20})\.([0-9a-f]{32})\.(\d{1,17})$/.exec(id);
  if (!m)
    throw new InfralogsError('BAD_QUERY', 'id must be an entry id from /api/entries', {
      details: { param: 'id' },
    });
  return { hostId: Number(m[1]), seqnumId: m[2]!, seqnum: m[3]!, bootId: m[4]!, ts: formatTs(Number(m[5])) };
}

export interface EntryDetail {
  id: string;
  /** Every stored field, in SHOWN_FIELDS order: label and value (null = not stored). */
  fields: { key: string; label: string; value: string | number | null }[];
  /** The message as stored, up to DETAIL_MESSAGE_CHARS characters. */
  message: string | null;
  messageChars: number | null;
  truncated: boolean;
}

/** One entry by its primary key. */
export async function readEntry(db: Queryable, id: string): Promise<EntryDetail> {
  const key = parseId(id);
  const hosts = await listHosts(db);
  const fields = SHOWN_FIELDS.filter((f) => f.key !== 'message');
  const [row] = await select<Row & { full: string | null; chars: number | null }>(
    db,
    `SELECT ${selectList(fields, DETAIL_MESSAGE_CHARS)}, SUBSTRING(l.message, 1, ${DETAIL_MESSAGE_CHARS}) AS full,
            CHAR_LENGTH(l.message) AS chars
       FROM logs l WHERE l.host_id = ? AND l.seqnum_id = UNHEX(?) AND l.seqnum = ? AND l.boot_id = UNHEX(?) AND l.ts = ?
      LIMIT 1`,
    [key.hostId, key.seqnumId, key.seqnum, key.bootId, key.ts],
  );
  if (!row) throw new InfralogsError('NOT_FOUND', 'no entry with that id', { details: { param: 'id' } });
  const view = toView(row, new Map(hosts.map((h) => [h.id, h.name])), fields);
  return {
    id: view.id,
    fields: fields.map((f) => ({ key: f.key, label: f.label, value: view[f.key] as string | number | null })),
    message: row.full,
    messageChars: row.chars === null ? null : Number(row.chars),
    truncated: view.truncated,
  };
}

/** CSV cell: quoted, and a leading = + - @ or tab (a formula to a spreadsheet) made inert with `'`. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The filter's entries as CSV or NDJSON lines, newest first, page by page through readEntries (so
 * through the same bounded walks), at most EXPORT_MAX_ROWS rows or EXPORT_MAX_MS of reading (a
 * search over a long range may take many steps). Yields as it reads.
 */
export async function* exportEntries(
  db: Queryable,
  filter: Filter,
  format: 'csv' | 'ndjson',
): AsyncGenerator<string> {
  const hosts = await listHosts(db);
  const keys = [...COLUMNS.map((c) => c.key), 'truncated'];
  if (format === 'csv') yield `${keys.map(csvCell).join(',')}\r\n`;
  let before: string | null = null;
  let rows = 0;
  const started = Date.now();
  while (Date.now() - started < EXPORT_MAX_MS) {
    const page: Entries = await readEntries(db, { filter, limit: 500, before }, hosts);
    for (const e of page.entries) {
      if (rows >= EXPORT_MAX_ROWS) return;
      rows++;
      if (format === 'csv') yield `${keys.map((k) => csvCell(e[k])).join(',')}\r\n`;
      else yield `${JSON.stringify(Object.fromEntries(keys.map((k) => [k, e[k] ?? null])))}\n`;
    }
    if (page.next === null) return;
    before = `${page.next.slice(0, 10)} ${page.next.slice(11, 26)}`;
  }
}
