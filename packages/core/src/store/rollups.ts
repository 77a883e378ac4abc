import { ENTRY_FIELDS, type EntryFieldDef } from '../entry';
import { compareKeys, hourOf, NO_PRIORITY, type LogRow } from './rows';

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

/**
 * Counts per (field, value, hour, priority) of the given rows, in key order. Rows are grouped by
 * (hour, priority) first, so each row builds one short key and then counts one value per field.
 */
export function fieldCounts(rows: LogRow[]): FieldCount[] {
  const groups = new Map<string, { hour: string; priority: number; values: Map<string, number>[] }>();
  const fields = Object.values(ROLLUP_FIELDS);
  // The current row's hour: 'YYYY-MM-DD HH' (its ts up to the hour) and as stored (hourOf).
  let prefix = '';
  let hour = '';
  for (const r of rows) {
    // Rows of a batch mostly share their hour: its text is built once per change.
    if (prefix === '' || !r.ts.startsWith(prefix)) {
      prefix = r.ts.slice(0, 13);
      hour = hourOf(r.ts);
    }
    const priority = r.priority ?? NO_PRIORITY;
    const key = `${prefix}|${priority}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { hour, priority, values: fields.map(() => new Map()) }));
    for (let i = 0; i < fields.length; i++) {
      const value = r[fields[i]!.column] ?? '';
      const counts = g.values[i]!;
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
  }
  const out: FieldCount[] = [];
  for (const g of groups.values())
    g.values.forEach((counts, i) => {
      for (const [value, n] of counts)
        out.push({ field: fields[i]!.id, value, hour: g.hour, priority: g.priority, n });
    });
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
