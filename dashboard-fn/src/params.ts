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

export interface WindowQuery {
  hours: number;
}
export interface VolumeQuery extends WindowQuery {
  host: string | null;
}
export interface EntriesQuery {
  host: string | null;
  /** Most severe first: `{ from: 0, to: 3 }` = emerg … err. */
  priority: { from: number; to: number } | null;
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

function hostParam(values: Map<string, string>): string | null {
  const host = values.get('host');
  if (host === undefined) return null;
  // hosts.name is VARCHAR(255); control characters are never part of a registered name.
  // eslint-disable-next-line no-control-regex
  if (host.length > 255 || /[\x00-\x1f\x7f]/.test(host)) throw bad('host', 'host must be a host name');
  return host;
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

/** An entry time as the API returns it (ISO 8601 UTC, µs) → the column's form; a real date only. */
export function parseBefore(value: string): string {
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
  throw bad('before', 'before must be a UTC time such as 2026-11-30T12:00:00.000000Z');
}

export function parseWindowQuery(query: Record<string, unknown>): WindowQuery {
  const values = readQuery(query, ['hours']);
  return { hours: intParam(values, 'hours', DEFAULT_HOURS, 1, MAX_HOURS) };
}

export function parseVolumeQuery(query: Record<string, unknown>): VolumeQuery {
  const values = readQuery(query, ['hours', 'host']);
  return { hours: intParam(values, 'hours', DEFAULT_HOURS, 1, MAX_HOURS), host: hostParam(values) };
}

export function parseEntriesQuery(query: Record<string, unknown>): EntriesQuery {
  const values = readQuery(query, ['host', 'priority', 'limit', 'before']);
  const priority = values.get('priority');
  const before = values.get('before');
  return {
    host: hostParam(values),
    priority: priority === undefined ? null : parsePriority(priority),
    limit: intParam(values, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT),
    before: before === undefined ? null : parseBefore(before),
  };
}
