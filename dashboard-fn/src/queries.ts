import { InfralogsError, NO_PRIORITY, PRIORITY_NAMES, select, type Queryable } from '@infralogs/core';
import type { EntriesQuery, VolumeQuery, WindowQuery } from './params';

/**
 * The dashboard's reads. Each is a few parameterised statements on the replica, bounded by a LIMIT
 * and served by an index: counts come from the hourly rollup `log_counts_hourly` (hosts × hours ×
 * levels rows, never `logs`), entry lists walk `ix_logs_host_ts` or `ix_logs_[host_]priority_ts`
 * backwards from the newest entry, one level at a time, so each part reads at most `limit` rows.
 */

/** Rollup and API key of each level: the eight syslog names, then `none` (PRIORITY absent, 255 in rollups). */
export const LEVELS = [...PRIORITY_NAMES, 'none'] as const;
export type Level = (typeof LEVELS)[number];

const HOUR_MS = 3_600_000;
/** Enough for every registered host of a fleet this dashboard is meant for. */
export const MAX_HOSTS = 1000;
/** Characters of a message sent to the page; the rest is cut (`truncated: true`). */
export const MAX_MESSAGE_CHARS = 4000;

const ISO_US = `'%Y-%m-%dT%H:%i:%s.%fZ'`;
const ISO_S = `'%Y-%m-%dT%H:%i:%sZ'`;

export const levelName = (priority: number): Level =>
  priority >= 0 && priority <= 7 ? PRIORITY_NAMES[priority]! : 'none';

const zeroCounts = () => Object.fromEntries(LEVELS.map((l) => [l, 0])) as Record<Level, number>;

export interface Window {
  hours: number;
  /** Inclusive, on the hour (ISO 8601 UTC). */
  from: string;
  /** Exclusive: the end of the current hour. */
  to: string;
}

/** The last `hours` hourly buckets, the current one included. */
export function windowOf(hours: number, now: Date): Window & { fromMs: number; toMs: number } {
  const toMs = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS;
  const fromMs = toMs - hours * HOUR_MS;
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  return { hours, from: iso(fromMs), to: iso(toMs), fromMs, toMs };
}

/** ms since the epoch → the DATETIME text the columns compare with (UTC). */
const sqlTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

export interface HostSummary {
  name: string;
  enabled: boolean;
  /** Time of the last entry stored for the host (its checkpoint), null before the first batch. */
  lastEntryAt: string | null;
  /** When the checkpoint last moved, null before the first batch. */
  checkpointAt: string | null;
  counts: Record<Level, number>;
  total: number;
}

export interface Summary {
  window: Window;
  levels: readonly Level[];
  totals: Record<Level, number>;
  total: number;
  hosts: HostSummary[];
}

export async function readSummary(db: Queryable, query: WindowQuery, now: Date): Promise<Summary> {
  const w = windowOf(query.hours, now);
  const hosts = await select<{
    id: number;
    name: string;
    enabled: number;
    lastEntryAt: string | null;
    checkpointAt: string | null;
  }>(
    db,
    `SELECT h.id, h.name, h.enabled,
            IF(c.\`cursor\` IS NULL, NULL, DATE_FORMAT(c.ts, ${ISO_US})) AS lastEntryAt,
            IF(c.\`cursor\` IS NULL, NULL, DATE_FORMAT(c.updated_at, ${ISO_US})) AS checkpointAt
       FROM hosts h LEFT JOIN checkpoints c ON c.host_id = h.id
      ORDER BY h.name LIMIT ?`,
    [MAX_HOSTS],
  );
  const counts = await select<{ hostId: number; priority: number; n: string | number }>(
    db,
    `SELECT host_id AS hostId, priority, SUM(n) AS n FROM log_counts_hourly
      WHERE hour >= ? AND hour < ? GROUP BY host_id, priority LIMIT ?`,
    [sqlTime(w.fromMs), sqlTime(w.toMs), MAX_HOSTS * LEVELS.length * 4],
  );
  const byHost = new Map(hosts.map((h) => [h.id, zeroCounts()]));
  const totals = zeroCounts();
  for (const c of counts) {
    const level = levelName(Number(c.priority));
    const n = Number(c.n);
    totals[level] += n;
    const host = byHost.get(c.hostId);
    if (host) host[level] += n;
  }
  const sum = (c: Record<Level, number>) => LEVELS.reduce((s, l) => s + c[l], 0);
  return {
    window: { hours: w.hours, from: w.from, to: w.to },
    levels: LEVELS,
    totals,
    total: sum(totals),
    hosts: hosts.map((h) => {
      const c = byHost.get(h.id)!;
      return {
        name: h.name,
        enabled: Boolean(h.enabled),
        lastEntryAt: h.lastEntryAt,
        checkpointAt: h.checkpointAt,
        counts: c,
        total: sum(c),
      };
    }),
  };
}

async function hostId(db: Queryable, name: string): Promise<number> {
  const [row] = await select<{ id: number }>(db, 'SELECT id FROM hosts WHERE name = ? LIMIT 1', [name]);
  if (!row) throw new InfralogsError('NOT_FOUND', 'no host with that name', { details: { param: 'host' } });
  return row.id;
}

export interface Volume {
  window: Window;
  host: string | null;
  levels: readonly Level[];
  /** Start of each hour of the window, ms since the epoch (a Bokeh datetime axis takes ms). */
  x: number[];
  /** Entries per hour, one array per level, aligned with `x`. */
  counts: Record<Level, number[]>;
}

export async function readVolume(db: Queryable, query: VolumeQuery, now: Date): Promise<Volume> {
  const w = windowOf(query.hours, now);
  const id = query.host === null ? null : await hostId(db, query.host);
  const rows = await select<{ hourIso: string; priority: number; n: string | number }>(
    db,
    `SELECT DATE_FORMAT(hour, ${ISO_S}) AS hourIso, priority, SUM(n) AS n
       FROM log_counts_hourly
      WHERE ${id === null ? '' : 'host_id = ? AND '}hour >= ? AND hour < ?
      GROUP BY hour, priority LIMIT ?`,
    [...(id === null ? [] : [id]), sqlTime(w.fromMs), sqlTime(w.toMs), query.hours * LEVELS.length],
  );
  const x = Array.from({ length: query.hours }, (_, i) => w.fromMs + i * HOUR_MS);
  const counts = Object.fromEntries(LEVELS.map((l) => [l, x.map(() => 0)])) as Record<Level, number[]>;
  for (const r of rows) {
    const i = Math.round((Date.parse(r.hourIso) - w.fromMs) / HOUR_MS);
    if (i >= 0 && i < x.length) counts[levelName(Number(r.priority))][i]! += Number(r.n);
  }
  return { window: { hours: w.hours, from: w.from, to: w.to }, host: query.host, levels: LEVELS, x, counts };
}

export interface EntryView {
  /** ISO 8601 UTC with microseconds, as stored. */
  ts: string;
  host: string;
  /** Level name; null when the entry had no PRIORITY. */
  priority: (typeof PRIORITY_NAMES)[number] | null;
  syslogIdentifier: string | null;
  unit: string | null;
  /** The message as text (the lossy UTF-8 form when its bytes were not valid UTF-8). */
  message: string | null;
  truncated: boolean;
}

export interface Entries {
  entries: EntryView[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: string | null;
}

interface EntryRow {
  hostId: number;
  ts: string;
  priority: number | null;
  syslogIdentifier: string | null;
  unit: string | null;
  message: string | null;
  truncated: number | string;
}

/**
 * The newest entries, newest first. The indexes hold entries ordered by time only under a fixed
 * host and/or level, so the query is a UNION of one index walk per level (at most nine), each cut
 * at `limit`, merged and cut again. The index is forced: on a small table the optimizer prefers a
 * scan, which is what must never happen on a large one.
 */
export async function readEntries(db: Queryable, query: EntriesQuery): Promise<Entries> {
  const id = query.host === null ? null : await hostId(db, query.host);
  const columns = `l.host_id AS hostId, DATE_FORMAT(l.ts, ${ISO_US}) AS ts, l.priority,
    l.syslog_identifier AS syslogIdentifier, l.unit, SUBSTRING(l.message, 1, ${MAX_MESSAGE_CHARS}) AS message,
    CHAR_LENGTH(l.message) > ${MAX_MESSAGE_CHARS} AS truncated`;
  const before = query.before === null ? '' : ' AND l.ts < ?';
  const beforeValue = query.before === null ? [] : [query.before];
  const parts: { sql: string; values: unknown[] }[] = [];
  if (id !== null && query.priority === null) {
    parts.push({
      sql: `SELECT ${columns} FROM logs l FORCE INDEX (ix_logs_host_ts)
             WHERE l.host_id = ?${before} ORDER BY l.ts DESC LIMIT ?`,
      values: [id, ...beforeValue, query.limit],
    });
  } else {
    const levels: (number | null)[] = [];
    const { from, to } = query.priority ?? { from: 0, to: 7 };
    for (let p = from; p <= to; p++) levels.push(p);
    if (query.priority === null) levels.push(null);
    for (const p of levels) {
      const index = id === null ? 'ix_logs_priority_ts' : 'ix_logs_host_priority_ts';
      const hostPart = id === null ? '' : 'l.host_id = ? AND ';
      const levelPart = p === null ? 'l.priority IS NULL' : 'l.priority = ?';
      parts.push({
        sql: `SELECT ${columns} FROM logs l FORCE INDEX (${index})
               WHERE ${hostPart}${levelPart}${before} ORDER BY l.ts DESC LIMIT ?`,
        values: [...(id === null ? [] : [id]), ...(p === null ? [] : [p]), ...beforeValue, query.limit],
      });
    }
  }
  const sql =
    parts.length === 1
      ? parts[0]!.sql
      : `${parts.map((p) => `(${p.sql})`).join(' UNION ALL ')} ORDER BY ts DESC LIMIT ?`;
  const values = [...parts.flatMap((p) => p.values), ...(parts.length === 1 ? [] : [query.limit])];
  const rows = await select<EntryRow>(db, sql, values);

  const ids = [...new Set(rows.map((r) => r.hostId))];
  const names = new Map<number, string>();
  if (ids.length > 0) {
    const hosts = await select<{ id: number; name: string }>(
      db,
      'SELECT id, name FROM hosts WHERE id IN (?) LIMIT ?',
      [ids, ids.length],
    );
    for (const h of hosts) names.set(h.id, h.name);
  }
  const entries = rows.map((r): EntryView => ({
    ts: r.ts,
    host: names.get(r.hostId) ?? `#${r.hostId}`,
    priority: r.priority === null || r.priority === NO_PRIORITY ? null : PRIORITY_NAMES[r.priority]!,
    syslogIdentifier: r.syslogIdentifier,
    unit: r.unit,
    message: r.message,
    truncated: Number(r.truncated) === 1,
  }));
  const last = entries.at(-1);
  return { entries, next: entries.length === query.limit && last ? last.ts : null };
}
