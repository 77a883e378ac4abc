import type { Connection } from 'mysql2/promise';
import { InfralogsError } from '../errors';
import { execute, select, withNamedLock, type Queryable } from './sql';

/**
 * Daily partitions of `logs`: `pYYYYMMDD` holds the entries of that UTC day
 * (`VALUES LESS THAN (TO_DAYS('<next day>'))`), `pmax` (MAXVALUE) catches entries stamped after
 * the newest day so an insert never fails. The oldest day partition also holds anything stamped
 * before it (machines without a clock), because a range partition covers everything below its
 * bound. Retention drops whole day partitions; `pmax` is never dropped.
 */
const DAY_MS = 86_400_000;
const NAME = /^p(\d{4})(\d{2})(\d{2})$/;
export const CATCH_ALL = 'pmax';

export const utcDay = (d: Date): Date => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);
export const addDays = (d: Date, n: number): Date => new Date(d.getTime() + n * DAY_MS);
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

export function partitionName(day: Date): string {
  return `p${isoDay(day).replaceAll('-', '')}`;
}

/** The UTC day a partition holds, or null for pmax and names that are not ours. */
export function partitionDay(name: string): Date | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`);
  return Number.isNaN(d.getTime()) || partitionName(d) !== name ? null : d;
}

export function partitionDefinition(day: Date): string {
  return `PARTITION ${partitionName(day)} VALUES LESS THAN (TO_DAYS('${isoDay(addDays(day, 1))}'))`;
}

/** The PARTITION BY clause for a new logs table: days from now-daysBack to now+daysAhead, then pmax. */
export function initialPartitionClause(now: Date, daysBack: number, daysAhead: number): string {
  const today = utcDay(now);
  const defs: string[] = [];
  for (let i = -daysBack; i <= daysAhead; i++) defs.push(partitionDefinition(addDays(today, i)));
  defs.push(`PARTITION ${CATCH_ALL} VALUES LESS THAN MAXVALUE`);
  return `PARTITION BY RANGE (TO_DAYS(ts)) (\n  ${defs.join(',\n  ')}\n)`;
}

/** Days to add so that every day up to now+daysAhead has its own partition. */
export function planNewPartitions(existing: string[], now: Date, daysAhead: number): Date[] {
  const days = existing.map(partitionDay).filter((d): d is Date => d !== null);
  const today = utcDay(now);
  const newest = days.reduce<Date | null>((a, d) => (a === null || d > a ? d : a), null);
  const from = newest === null ? today : addDays(newest, 1);
  const out: Date[] = [];
  for (let d = from; d <= addDays(today, daysAhead); d = addDays(d, 1)) out.push(d);
  return out;
}

/** Day partitions whose whole day is more than `days` days before today (UTC). */
export function planRetention(existing: string[], now: Date, days: number): string[] {
  const cutoff = addDays(utcDay(now), -days);
  return existing.filter((name) => {
    const d = partitionDay(name);
    return d !== null && addDays(d, 1) <= cutoff;
  });
}

export async function listPartitions(db: Queryable): Promise<string[]> {
  const rows = await select<{ name: string }>(
    db,
    `SELECT PARTITION_NAME AS name FROM information_schema.PARTITIONS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'logs' AND PARTITION_NAME IS NOT NULL
      ORDER BY PARTITION_ORDINAL_POSITION`,
  );
  return rows.map((r) => r.name);
}

/** Partition changes run under a named lock so concurrent ingests and cron jobs do not collide. */
const withPartitionLock = <T>(db: Queryable, work: (conn: Connection) => Promise<T>) =>
  withNamedLock(db, 'partitions', 60, work);

// Which days each pool is known to cover, so the ingest path asks information_schema only on a new day.
const covered = new WeakMap<object, number>();

/**
 * Makes sure every UTC day up to now+daysAhead has a partition (REORGANIZE of pmax, which moves only
 * the rows stamped in those future days). Returns the partitions it added.
 */
export async function ensurePartitions(
  db: Queryable,
  options: { daysAhead?: number; now?: Date } = {},
): Promise<string[]> {
  const now = options.now ?? new Date();
  const daysAhead = options.daysAhead ?? 7;
  const added = await withPartitionLock(db, async (conn) => {
    const existing = await listPartitions(conn);
    if (existing.length === 0)
      throw new InfralogsError('CONFIG_INVALID', 'table logs is missing: run migrate');
    const days = planNewPartitions(existing, now, daysAhead);
    if (days.length === 0) return [];
    const defs = [...days.map(partitionDefinition), `PARTITION ${CATCH_ALL} VALUES LESS THAN MAXVALUE`];
    await execute(conn, `ALTER TABLE logs REORGANIZE PARTITION ${CATCH_ALL} INTO (${defs.join(', ')})`);
    return days.map(partitionName);
  });
  covered.set(db, addDays(utcDay(now), daysAhead).getTime());
  return added;
}

/**
 * The ingest path's cheap check before a batch: asks the server only when the batch reaches a day
 * this pool has not seen covered. Days beyond now+daysAhead are not created: they wait in pmax.
 * Failing to add partitions (a writer without ALTER, a lock held by the daily job) never fails the
 * batch, whose rows then land in pmax: it returns the error for the caller to log and is not
 * retried before the batch reaches a later day.
 */
export async function ensurePartitionsCover(
  db: Queryable,
  latestTs: Date,
  now = new Date(),
  daysAhead = 7,
): Promise<InfralogsError | null> {
  const horizon = addDays(utcDay(now), daysAhead).getTime();
  const target = Math.min(utcDay(latestTs).getTime(), horizon);
  const until = covered.get(db);
  if (until !== undefined && target <= until) return null;
  try {
    await ensurePartitions(db, { now, daysAhead });
    return null;
  } catch (err) {
    covered.set(db, target);
    return err instanceof InfralogsError
      ? err
      : new InfralogsError('DATABASE_FAILED', 'adding partitions failed');
  }
}

/**
 * Retention: drops the day partitions older than `days` days (instant, unlike DELETE) and the
 * rollup and gap rows of those days. Returns the dropped partition names.
 */
export async function dropPartitionsOlderThan(
  db: Queryable,
  options: { days: number; now?: Date },
): Promise<string[]> {
  if (!Number.isInteger(options.days) || options.days < 1) {
    throw new InfralogsError('BAD_REQUEST', 'retention days must be an integer >= 1');
  }
  const now = options.now ?? new Date();
  const cutoff = addDays(utcDay(now), -options.days);
  const cutoffSql = `${isoDay(cutoff)} 00:00:00`;
  return withPartitionLock(db, async (conn) => {
    const drop = planRetention(await listPartitions(conn), now, options.days);
    if (drop.length > 0) await execute(conn, `ALTER TABLE logs DROP PARTITION ${drop.join(', ')}`);
    await execute(conn, 'DELETE FROM log_counts_hourly WHERE hour < ?', [cutoffSql]);
    await execute(conn, 'DELETE FROM log_field_counts_hourly WHERE hour < ?', [cutoffSql]);
    await execute(conn, 'DELETE FROM log_field_counts_daily WHERE day < ?', [cutoffSql.slice(0, 10)]);
    await execute(conn, 'DELETE FROM gaps WHERE before_ts < ?', [cutoffSql]);
    return drop;
  });
}
