import { InfralogsError, PRIORITY_NAMES, ROLLUP_FIELDS, select, type Queryable } from '@infralogs/core';
import type { Filter } from './params';

/**
 * The dashboard's counts. Every number over a window comes from a rollup that ingest keeps in the
 * batch's transaction, never from a scan of `logs`: `log_counts_hourly` (host × hour × priority)
 * and, when the filter names an identifier, comm or unit, `log_field_counts_hourly` (field × hour ×
 * host × value × priority). A 7-day window is at most hosts × 168 × 9 rollup rows per statement.
 * Every statement is parameterised and has a LIMIT.
 */

/** Rollup and API key of each level: the eight syslog names, then `none` (PRIORITY absent, 255 in rollups). */
export const LEVELS = [...PRIORITY_NAMES, 'none'] as const;
export type Level = (typeof LEVELS)[number];

export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Enough for every registered host of a fleet this dashboard is meant for. */
export const MAX_HOSTS = 1000;
/** Rows a top list answers. */
export const TOP_N = 15;
/** err and worse: what the heatmap counts. */
export const HEATMAP_WORST = 3;

export const ISO_US = `'%Y-%m-%dT%H:%i:%s.%fZ'`;
export const ISO_S = `'%Y-%m-%dT%H:%i:%sZ'`;

export const levelName = (priority: number): Level =>
  priority >= 0 && priority <= 7 ? PRIORITY_NAMES[priority]! : 'none';

export const zeroCounts = () => Object.fromEntries(LEVELS.map((l) => [l, 0])) as Record<Level, number>;
const sum = (c: Record<Level, number>) => LEVELS.reduce((s, l) => s + c[l], 0);

export interface Window {
  /** The entries' range: `from` inclusive, `to` exclusive (ISO 8601 UTC). */
  from: string;
  to: string;
  /** The hours the counts cover (the range widened to whole hours). */
  countsFrom: string;
  countsTo: string;
  preset: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
/** ms since the epoch → the DATETIME text the columns compare with (UTC, µs). */
export const sqlTime = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ') + '000';

/** The whole hours a filter's range touches. */
export function hoursOf(filter: Filter): { fromMs: number; toMs: number; count: number } {
  const fromMs = Math.floor(filter.fromMs / HOUR_MS) * HOUR_MS;
  const toMs = Math.ceil(filter.toMs / HOUR_MS) * HOUR_MS;
  return { fromMs, toMs, count: (toMs - fromMs) / HOUR_MS };
}

export function windowOf(filter: Filter): Window {
  const h = hoursOf(filter);
  return {
    from: iso(filter.fromMs),
    to: iso(filter.toMs),
    countsFrom: iso(h.fromMs),
    countsTo: iso(h.toMs),
    preset: filter.preset,
  };
}

export interface HostRow {
  id: number;
  name: string;
  enabled: boolean;
}

/** Registered hosts, by name. */
export async function listHosts(db: Queryable): Promise<HostRow[]> {
  const rows = await select<{ id: number; name: string; enabled: number }>(
    db,
    'SELECT id, name, enabled FROM hosts ORDER BY name LIMIT ?',
    [MAX_HOSTS],
  );
  return rows.map((r) => ({ id: r.id, name: r.name, enabled: Boolean(r.enabled) }));
}

/** The ids of the filter's hosts (null: every host); an unknown name is a 404 naming it. */
export function hostIds(hosts: HostRow[], filter: Filter): number[] | null {
  if (filter.hosts.length === 0) return null;
  return filter.hosts.map((name) => {
    const host = hosts.find((h) => h.name === name);
    if (!host)
      throw new InfralogsError('NOT_FOUND', 'no host with that name', {
        details: { param: 'host', host: name.slice(0, 100) },
      });
    return host.id;
  });
}

/**
 * Which rollup answers the filter's counts, and the WHERE that applies it. The field rollup holds
 * one field at a time: with an identifier, comm and unit all given, counts follow the first
 * (identifier, then unit, then comm) and the others are reported as `ignored`; free text never
 * narrows counts (only the entries).
 */
export function countSource(filter: Filter, ids: number[] | null, hours = hoursOf(filter)) {
  const where: string[] = ['hour >= ?', 'hour < ?'];
  const values: unknown[] = [sqlTime(hours.fromMs).slice(0, 19), sqlTime(hours.toMs).slice(0, 19)];
  const ignored: string[] = [];
  const fields = (
    [
      ['identifier', filter.identifier],
      ['unit', filter.unit],
      ['comm', filter.comm],
    ] as const
  ).filter(([, v]) => v !== null);
  let table = 'log_counts_hourly';
  const first = fields[0];
  if (first) {
    // One value's hours by (field, value, hour); the optimizer otherwise walked every value of the
    // hours by the primary key (267 ms for 7 days at 10 M rows in bench:dashboard).
    table = 'log_field_counts_hourly FORCE INDEX (ix_field_counts_value)';
    where.unshift('field = ?', 'value = ?');
    values.unshift(ROLLUP_FIELDS[first[0]].id, first[1]);
    for (const [name] of fields.slice(1)) ignored.push(name);
  }
  if (filter.text !== null) ignored.push('q');
  if (ids !== null) {
    where.push('host_id IN (?)');
    values.push(ids);
  }
  if (filter.priority !== null) {
    where.push('priority BETWEEN ? AND ?');
    values.push(filter.priority.from, filter.priority.to);
  }
  return { table, where: where.join(' AND '), values, ignored };
}

export interface HostSummary {
  name: string;
  enabled: boolean;
  /** Time of the newest entry stored for the host (not its checkpoint's), null before any. */
  lastEntryAt: string | null;
  counts: Record<Level, number>;
  total: number;
}

export interface Summary {
  window: Window;
  levels: readonly Level[];
  totals: Record<Level, number>;
  total: number;
  hosts: HostSummary[];
  /** Filters the counts could not apply (see countSource). */
  ignored: string[];
}

/** Every host with its newest entry and its counts per level in the window (filtered). */
export async function readSummary(db: Queryable, filter: Filter): Promise<Summary> {
  const hosts = await listHosts(db);
  const ids = hostIds(hosts, filter);
  const src = countSource(filter, ids);
  const [counts, newest] = await Promise.all([
    select<{ hostId: number; priority: number; n: string | number }>(
      db,
      `SELECT host_id AS hostId, priority, SUM(n) AS n FROM ${src.table}
        WHERE ${src.where} GROUP BY host_id, priority LIMIT ?`,
      [...src.values, MAX_HOSTS * LEVELS.length],
    ),
    select<{ hostId: number; newest: string | null }>(
      db,
      `SELECT host_id AS hostId, DATE_FORMAT(newest_ts, ${ISO_US}) AS newest FROM host_activity LIMIT ?`,
      [MAX_HOSTS],
    ),
  ]);
  const byHost = new Map(hosts.map((h) => [h.id, zeroCounts()]));
  const totals = zeroCounts();
  for (const c of counts) {
    const level = levelName(Number(c.priority));
    const n = Number(c.n);
    totals[level] += n;
    const host = byHost.get(c.hostId);
    if (host) host[level] += n;
  }
  const newestOf = new Map(newest.map((r) => [r.hostId, r.newest]));
  const shown = ids === null ? hosts : hosts.filter((h) => ids.includes(h.id));
  return {
    window: windowOf(filter),
    levels: LEVELS,
    totals,
    total: sum(totals),
    hosts: shown.map((h) => {
      const c = byHost.get(h.id)!;
      return {
        name: h.name,
        enabled: h.enabled,
        lastEntryAt: newestOf.get(h.id) ?? null,
        counts: c,
        total: sum(c),
      };
    }),
    ignored: src.ignored,
  };
}

export interface Volume {
  window: Window;
  levels: readonly Level[];
  /** Start of each hour of the window, ms since the epoch (a Bokeh datetime axis takes ms). */
  x: number[];
  /** Entries per hour, one array per level, aligned with `x`. */
  counts: Record<Level, number[]>;
  /** Entries per hour per host (the hosts with any), aligned with `x`. */
  hosts: { name: string; counts: number[] }[];
  ignored: string[];
}

/** Hourly counts per level and per host over the window. */
export async function readVolume(db: Queryable, filter: Filter): Promise<Volume> {
  const hosts = await listHosts(db);
  const ids = hostIds(hosts, filter);
  const h = hoursOf(filter);
  const src = countSource(filter, ids, h);
  const [byLevel, byHost] = await Promise.all([
    select<{ hourIso: string; priority: number; n: string | number }>(
      db,
      `SELECT DATE_FORMAT(hour, ${ISO_S}) AS hourIso, priority, SUM(n) AS n FROM ${src.table}
        WHERE ${src.where} GROUP BY hour, priority LIMIT ?`,
      [...src.values, h.count * LEVELS.length],
    ),
    select<{ hostId: number; hourIso: string; n: string | number }>(
      db,
      `SELECT host_id AS hostId, DATE_FORMAT(hour, ${ISO_S}) AS hourIso, SUM(n) AS n FROM ${src.table}
        WHERE ${src.where} GROUP BY host_id, hour LIMIT ?`,
      [...src.values, h.count * MAX_HOSTS],
    ),
  ]);
  const x = Array.from({ length: h.count }, (_, i) => h.fromMs + i * HOUR_MS);
  const slot = (hourIso: string) => Math.round((Date.parse(hourIso) - h.fromMs) / HOUR_MS);
  const counts = Object.fromEntries(LEVELS.map((l) => [l, x.map(() => 0)])) as Record<Level, number[]>;
  for (const r of byLevel) {
    const i = slot(r.hourIso);
    if (i >= 0 && i < x.length) counts[levelName(Number(r.priority))][i]! += Number(r.n);
  }
  const perHost = new Map<number, number[]>();
  for (const r of byHost) {
    const i = slot(r.hourIso);
    if (i < 0 || i >= x.length) continue;
    let series = perHost.get(r.hostId);
    if (!series) perHost.set(r.hostId, (series = x.map(() => 0)));
    series[i]! += Number(r.n);
  }
  return {
    window: windowOf(filter),
    levels: LEVELS,
    x,
    counts,
    hosts: hosts.filter((x) => perHost.has(x.id)).map((x) => ({ name: x.name, counts: perHost.get(x.id)! })),
    ignored: src.ignored,
  };
}

export interface Heatmap {
  window: Window;
  /** Hosts on the y axis (every host of the filter, also those without errors). */
  hosts: string[];
  x: number[];
  /** One cell per host and hour with at least one entry of err or worse. */
  cells: { host: string; hour: number; n: number }[];
  ignored: string[];
}

/** Host × hour counts of err and worse (intersected with the filter's priority range). */
export async function readHeatmap(db: Queryable, filter: Filter): Promise<Heatmap> {
  const hosts = await listHosts(db);
  const ids = hostIds(hosts, filter);
  const from = filter.priority?.from ?? 0;
  const to = Math.min(filter.priority?.to ?? HEATMAP_WORST, HEATMAP_WORST);
  const h = hoursOf(filter);
  const src = countSource({ ...filter, priority: { from, to } }, ids, h);
  const rows =
    from > to
      ? []
      : await select<{ hostId: number; hourIso: string; n: string | number }>(
          db,
          `SELECT host_id AS hostId, DATE_FORMAT(hour, ${ISO_S}) AS hourIso, SUM(n) AS n FROM ${src.table}
            WHERE ${src.where} GROUP BY host_id, hour LIMIT ?`,
          [...src.values, h.count * MAX_HOSTS],
        );
  const names = new Map(hosts.map((x) => [x.id, x.name]));
  const shown = ids === null ? hosts : hosts.filter((x) => ids.includes(x.id));
  return {
    window: windowOf(filter),
    hosts: shown.map((x) => x.name),
    x: Array.from({ length: h.count }, (_, i) => h.fromMs + i * HOUR_MS),
    cells: rows
      .filter((r) => names.has(r.hostId))
      .map((r) => ({ host: names.get(r.hostId)!, hour: Date.parse(r.hourIso), n: Number(r.n) })),
    ignored: src.ignored,
  };
}

export type TopField = keyof typeof ROLLUP_FIELDS;
export const TOP_FIELDS = Object.keys(ROLLUP_FIELDS) as TopField[];

export interface Top {
  window: Window;
  field: TopField;
  levels: readonly Level[];
  /** The most frequent values, most first; `value` '' = entries without the field. */
  rows: { value: string; counts: Record<Level, number>; total: number }[];
  /** Distinct values in the window (the list shows TOP_N). */
  distinct: number;
  ignored: string[];
}

/**
 * The most frequent values of one field with counts per level. The filter's own value of that
 * field does not narrow its own list (the list shows what else there is); host and priority do.
 */
export async function readTop(db: Queryable, filter: Filter, field: TopField): Promise<Top> {
  const hosts = await listHosts(db);
  const ids = hostIds(hosts, filter);
  const h = hoursOf(filter);
  const ignored = (['identifier', 'unit', 'comm'] as const).filter((f) => f !== field && filter[f] !== null);
  // Whole UTC days from the daily rollup, the hours before and after them from the hourly one.
  const firstDay = Math.ceil(h.fromMs / DAY_MS) * DAY_MS;
  let lastDay = Math.floor(h.toMs / DAY_MS) * DAY_MS;
  const narrow: string[] = [];
  const narrowValues: unknown[] = [];
  if (ids !== null) {
    narrow.push('host_id IN (?)');
    narrowValues.push(ids);
  }
  if (filter.priority !== null) {
    narrow.push('priority BETWEEN ? AND ?');
    narrowValues.push(filter.priority.from, filter.priority.to);
  }
  const and = narrow.map((w) => ` AND ${w}`).join('');
  const hour = (ms: number) => sqlTime(ms).slice(0, 19);
  // The window's last, partial day (a preset's window ends with the current hour) is its daily
  // row when nothing of the filter's hosts lies after the window that day: one day's rows instead
  // of an hour's rows per hour since midnight.
  if (lastDay < h.toMs && lastDay >= h.fromMs) {
    const after = await select<{ one: number }>(
      db,
      `SELECT 1 AS one FROM log_counts_hourly WHERE hour >= ? AND hour < ?${ids === null ? '' : ' AND host_id IN (?)'} LIMIT 1`,
      [hour(h.toMs), hour(lastDay + DAY_MS), ...(ids === null ? [] : [ids])],
    );
    if (after.length === 0) lastDay += DAY_MS;
  }
  const days = lastDay > firstDay;
  // Each part is grouped on its own, by the value's CRC32 rather than the value: a temporary table
  // keyed by a VARCHAR(255) utf8mb4 was most of the time (and the old UNION ALL materialised every
  // raw rollup row first: 7 d top lists p50 260-420 ms at 10 M rows). Two values of one checksum
  // would share a group, which MIN <> MAX tells: that part is then grouped by the value itself.
  // The two parts run side by side.
  const part = async (table: string, time: string, ranges: [string, string][]) => {
    const sql = (key: string) => `SELECT MIN(value) AS value, MAX(value) AS other, priority, SUM(n) AS n
        FROM ${table} WHERE field = ? AND (${ranges.map(() => `(${time} >= ? AND ${time} < ?)`).join(' OR ')})${and}
       GROUP BY ${key}, priority LIMIT ?`;
    const values = [ROLLUP_FIELDS[field].id, ...ranges.flat(), ...narrowValues, 100_000];
    type Group = { value: string; other: string; priority: number; n: string | number };
    const groups = await select<Group>(db, sql('CRC32(value)'), values);
    return groups.some((g) => g.value !== g.other) ? select<Group>(db, sql('value'), values) : groups;
  };
  const spans: [number, number][] = days
    ? [
        [h.fromMs, firstDay],
        [lastDay, h.toMs],
      ]
    : [[h.fromMs, h.toMs]];
  const hourRanges = spans.filter(([a, b]) => a < b).map(([a, b]): [string, string] => [hour(a), hour(b)]);
  const parts = await Promise.all([
    hourRanges.length > 0 ? part('log_field_counts_hourly', 'hour', hourRanges) : [],
    days
      ? part('log_field_counts_daily', 'day', [[hour(firstDay).slice(0, 10), hour(lastDay).slice(0, 10)]])
      : [],
  ]);
  // A value in both parts is two rows: added up here.
  const rows = parts.flat();
  const byValue = new Map<string, Record<Level, number>>();
  for (const r of rows) {
    let c = byValue.get(r.value);
    if (!c) byValue.set(r.value, (c = zeroCounts()));
    c[levelName(Number(r.priority))] += Number(r.n);
  }
  const all = [...byValue].map(([value, counts]) => ({ value, counts, total: sum(counts) }));
  all.sort((a, b) => b.total - a.total || (a.value < b.value ? -1 : 1));
  return {
    window: windowOf(filter),
    field,
    levels: LEVELS,
    rows: all.slice(0, TOP_N),
    distinct: all.length,
    ignored: filter.text === null ? ignored : [...ignored, 'q'],
  };
}
