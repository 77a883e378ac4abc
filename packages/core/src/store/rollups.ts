import { ENTRY_FIELDS, type EntryFieldDef } from '../entry';
import { compareKeys, type HourGroup, type LogRow } from './rows';

/**
 * The dashboard's rollups beside `log_counts_hourly`, kept by ingest in the batch's transaction
 * (pure here, written by ingest.ts): counts per hour × host × field value × priority for the three
 * fields the dashboard ranks (ENTRY_FIELDS with a `rollup`), and the host's activity row
 * (newest stored entry time, and the heartbeat the dashboard reads on the replica to tell its lag).
 */

/** The ranked fields, as stored in `log_field_counts_hourly.field`; an absent value is ''. */
type Ranked = Extract<EntryFieldDef, { rollup: unknown }>;
export type RollupField = Ranked['rollup']['name'];
export const ROLLUP_FIELDS = Object.fromEntries(
  ENTRY_FIELDS.flatMap((f) =>
    'rollup' in f ? [[f.rollup.name, { id: f.rollup.id, column: f.column }]] : [],
  ),
) as Record<RollupField, { id: number; column: Ranked['column'] }>;

export interface FieldCount {
  field: number;
  value: string;
  hour: string;
  priority: number;
  n: number;
}

/** Rollup rows in the primary key's order (field, hour or day, [host], value, priority). */
const byKey = (a: FieldCount, b: FieldCount) =>
  compareKeys([a.field, a.hour, a.value, a.priority], [b.field, b.hour, b.value, b.priority]);

/** Counts per (field, value, hour, priority) of the grouped rows (hourGroups), in key order. */
export function fieldCounts(groups: HourGroup[]): FieldCount[] {
  const fields = Object.values(ROLLUP_FIELDS);
  const out: FieldCount[] = [];
  for (const g of groups) {
    for (const f of fields) {
      const counts = new Map<string, number>();
      for (const r of g.rows) {
        const value = r[f.column] ?? '';
        counts.set(value, (counts.get(value) ?? 0) + 1);
      }
      for (const [value, n] of counts)
        out.push({ field: f.id, value, hour: g.hour, priority: g.priority, n });
    }
  }
  return out.sort(byKey);
}

/** The same counts per day ('YYYY-MM-DD'), for log_field_counts_daily, in key order. */
export function dailyFieldCounts(hourly: FieldCount[]): FieldCount[] {
  const counts = new Map<string, FieldCount>();
  for (const h of hourly) {
    const day = h.hour.slice(0, 10);
    const key = `${h.field}|${day}|${h.priority}|${h.value}`;
    const c = counts.get(key);
    if (c) c.n += h.n;
    else counts.set(key, { ...h, hour: day });
  }
  return [...counts.values()].sort(byKey);
}

/** The newest entry time ('YYYY-MM-DD HH:MM:SS.ffffff') among the rows, null for none. */
export function newestTs(rows: LogRow[]): string | null {
  let newest: string | null = null;
  for (const r of rows) if (newest === null || r.ts > newest) newest = r.ts;
  return newest;
}
