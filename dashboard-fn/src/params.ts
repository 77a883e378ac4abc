import { InfralogsError, parsePriorityRange } from '@infralogs/core';

/**
 * Validation of the API's query values. Every bad value is a 400 BAD_QUERY naming the parameter,
 * so the page (and a curl user) can say exactly what was wrong.
 */

/** The longest window the API reads: 90 days of hourly rollups. */
export const MAX_HOURS = 90 * 24;
export const DEFAULT_HOURS = 24;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;
/** Hosts one filter may name. */
export const MAX_FILTER_HOSTS = 100;
/** Longest free-text search. */
export const MAX_TEXT = 200;

/** The time range presets of the page (`range=24h`), besides a custom `from`/`to`. */
export const RANGE_PRESETS: Record<string, number> = {
  '1h': 1,
  '6h': 6,
  '24h': 24,
  '3d': 72,
  '7d': 168,
  '30d': 720,
};

const HOUR_MS = 3_600_000;

/**
 * What every panel is filtered by. Times are ms since the epoch: a preset (or `hours`) is the last
 * N hourly buckets, the current one included; a custom range is `from` (inclusive) to `to`
 * (exclusive). Counts are read from hourly rollups, so they cover the hours the range touches.
 */
export interface Filter {
  fromMs: number;
  toMs: number;
  /** `range` preset name, or null for a custom or `hours` window. */
  preset: string | null;
  /** Host names; empty = every host. */
  hosts: string[];
  /** Most severe first: `{ from: 0, to: 3 }` = emerg … err. */
  priority: { from: number; to: number } | null;
  identifier: string | null;
  comm: string | null;
  unit: string | null;
  /** Free text (case-insensitive substring of the message). */
  text: string | null;
}

export interface WindowQuery {
  hours: number;
}
export interface VolumeQuery extends WindowQuery {
  host: string | null;
}
export interface EntriesQuery {
  filter: Filter;
  limit: number;
  /** Strictly before this time, as the column holds it ('YYYY-MM-DD HH:MM:SS.ffffff' UTC). */
  before: string | null;
}

function bad(param: string, message: string): InfralogsError {
  return new InfralogsError('BAD_QUERY', message, { details: { param } });
}

/** The query as single string values; unknown or repeated parameters are refused. */
function readQuery(query: Record<string, unknown>, allowed: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const [name, value] of Object.entries(query)) {
    const shown = name.slice(0, 40);
    if (!allowed.includes(name)) throw bad(shown, `unknown query parameter "${shown}"`);
    if (typeof value !== 'string') throw bad(name, `query parameter "${name}" must be given once`);
    if (value !== '') values.set(name, value);
  }
  return values;
}

function intParam(values: Map<string, string>, name: string, def: number, min: number, max: number): number {
  const text = values.get(name);
  if (text === undefined) return def;
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw bad(name, `${name} must be an integer from ${min} to ${max}`);
  return n;
}

/**
 * `3` or `err` (that level and everything more severe, as `journalctl -p`) or a range `from..to`
 * (`0..4`, `err..info`), the agent's syntax.
 */
export function parsePriority(value: string): { from: number; to: number } {
  const range = parsePriorityRange(value);
  if (!range) throw bad('priority', 'priority must be 0-7, a name (emerg … debug) or a range from..to');
  return range;
}

const BEFORE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z?$/;

/** A UTC time (ISO 8601, up to µs, as the API returns entry times) → the column's form; a real date only. */
export function parseTime(value: string, param: string): string {
  const m = BEFORE.exec(value);
  if (m) {
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    const real =
      d.getUTCFullYear() === year &&
      d.getUTCMonth() === month - 1 &&
      d.getUTCDate() === day &&
      d.getUTCHours() === hour &&
      d.getUTCMinutes() === minute &&
      d.getUTCSeconds() === second;
    if (real) return `${value.slice(0, 10)} ${value.slice(11, 19)}.${(m[7] ?? '').padEnd(6, '0')}`;
  }
  throw bad(param, `${param} must be a UTC time such as 2026-11-30T12:00:00.000000Z`);
}

/** The filter parameters every endpoint shares. */
export const FILTER_PARAMS = [
  'range',
  'hours',
  'from',
  'to',
  'host',
  'priority',
  'identifier',
  'comm',
  'unit',
  'q',
];

function textParam(values: Map<string, string>, name: string, max: number): string | null {
  const text = values.get(name);
  if (text === undefined) return null;
  // eslint-disable-next-line no-control-regex
  if (text.length > max || /[\x00-\x08\x0a-\x1f\x7f]/.test(text))
    throw bad(name, `${name} must be text of at most ${max} characters`);
  return text;
}

function timeParam(values: Map<string, string>, name: string): number | null {
  const text = values.get(name);
  if (text === undefined) return null;
  const column = parseTime(text, name);
  return Date.parse(`${column.slice(0, 10)}T${column.slice(11, 23)}Z`);
}

/** Reads the shared filter from already-read values; `now` places the presets. */
export function readFilter(values: Map<string, string>, now: Date): Filter {
  const currentHourEnd = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS;
  const preset = values.get('range') ?? null;
  let hours = intParam(values, 'hours', DEFAULT_HOURS, 1, MAX_HOURS);
  if (preset !== null) {
    const h = RANGE_PRESETS[preset];
    if (h === undefined) throw bad('range', `range must be one of ${Object.keys(RANGE_PRESETS).join(', ')}`);
    hours = h;
  }
  const from = timeParam(values, 'from');
  const to = timeParam(values, 'to');
  let fromMs = currentHourEnd - hours * HOUR_MS;
  let toMs = currentHourEnd;
  if (from !== null || to !== null) {
    if (preset !== null) throw bad('range', 'range and from/to exclude each other');
    toMs = to ?? currentHourEnd;
    fromMs = from ?? toMs - hours * HOUR_MS;
    if (!(fromMs < toMs)) throw bad('from', 'from must be before to');
    if (toMs - fromMs > MAX_HOURS * HOUR_MS)
      throw bad('from', `from..to may span at most ${MAX_HOURS} hours`);
  }
  const hostText = values.get('host');
  const hosts = hostText === undefined ? [] : [...new Set(hostText.split(','))];
  if (hosts.length > MAX_FILTER_HOSTS) throw bad('host', `host may name at most ${MAX_FILTER_HOSTS} hosts`);
  // hosts.name is VARCHAR(255); control characters are never part of a registered name.
  // eslint-disable-next-line no-control-regex
  if (hosts.some((h) => h === '' || h.length > 255 || /[\x00-\x1f\x7f]/.test(h)))
    throw bad('host', 'host must be host names separated by commas');
  const priority = values.get('priority');
  return {
    fromMs,
    toMs,
    preset: from === null && to === null ? (preset ?? (values.has('hours') ? null : '24h')) : null,
    hosts,
    priority: priority === undefined ? null : parsePriority(priority),
    identifier: textParam(values, 'identifier', 255),
    comm: textParam(values, 'comm', 64),
    unit: textParam(values, 'unit', 255),
    text: textParam(values, 'q', MAX_TEXT),
  };
}

/** A query with the shared filter and nothing else. */
export function parseFilterQuery(query: Record<string, unknown>, now: Date, extra: string[] = []) {
  const values = readQuery(query, [...FILTER_PARAMS, ...extra]);
  return { filter: readFilter(values, now), values };
}

export function parseEntriesQuery(query: Record<string, unknown>, now: Date): EntriesQuery {
  const { filter, values } = parseFilterQuery(query, now, ['limit', 'before']);
  const before = values.get('before');
  return {
    filter,
    limit: intParam(values, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT),
    before: before === undefined ? null : parseTime(before, 'before'),
  };
}

/** One of a fixed set of words. */
export function choiceParam<T extends string>(
  values: Map<string, string>,
  name: string,
  choices: readonly T[],
  def: T,
): T {
  const v = values.get(name) ?? def;
  if (!(choices as readonly string[]).includes(v))
    throw bad(name, `${name} must be one of ${choices.join(', ')}`);
  return v as T;
}

export { readQuery, intParam };
