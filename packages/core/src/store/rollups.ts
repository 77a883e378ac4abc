import { hourOf, NO_PRIORITY, type LogRow } from './rows';

/**
 * The dashboard's rollups beside `log_counts_hourly`, kept by ingest in the batch's transaction
 * (pure here, written by ingest.ts): counts per hour × host × field value × priority for the three
 * fields the dashboard ranks (SYSLOG_IDENTIFIER, _COMM, _SYSTEMD_UNIT), and the host's activity row
 * (newest stored entry time, and the heartbeat the dashboard reads on the replica to tell its lag).
 */

/** The ranked fields, as stored in `log_field_counts_hourly.field`; an absent value is ''. */
export const ROLLUP_FIELDS = {
  identifier: { id: 1, column: 'syslog_identifier', index: 9 },
  comm: { id: 2, column: 'comm', index: 7 },
  unit: { id: 3, column: 'unit', index: 10 },
} as const satisfies Record<string, { id: number; column: string; index: keyof LogRow & number }>;
export type RollupField = keyof typeof ROLLUP_FIELDS;

export interface FieldCount {
  field: number;
  value: string;
  hour: string;
  priority: number;
  n: number;
}

/** Counts per (field, value, hour, priority) of the given rows. */
export function fieldCounts(rows: LogRow[]): FieldCount[] {
  const counts = new Map<string, FieldCount>();
  const fields = Object.values(ROLLUP_FIELDS);
  for (const r of rows) {
    const hour = hourOf(r[1]);
    const priority = r[5] ?? NO_PRIORITY;
    for (const f of fields) {
      const value = (r[f.index] as string | null) ?? '';
      const key = `${f.id}|${hour}|${priority}|${value}`;
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { field: f.id, value, hour, priority, n: 1 });
    }
  }
  return [...counts.values()];
}

/** The same counts per day ('YYYY-MM-DD'), for log_field_counts_daily. */
export function dailyFieldCounts(hourly: FieldCount[]): FieldCount[] {
  const counts = new Map<string, FieldCount>();
  for (const h of hourly) {
    const day = h.hour.slice(0, 10);
    const key = `${h.field}|${day}|${h.priority}|${h.value}`;
    const c = counts.get(key);
    if (c) c.n += h.n;
    else counts.set(key, { ...h, hour: day });
  }
  return [...counts.values()];
}

/** The newest entry time ('YYYY-MM-DD HH:MM:SS.ffffff') among the rows, null for none. */
export function newestTs(rows: LogRow[]): string | null {
  let newest: string | null = null;
  for (const r of rows) if (newest === null || r[1] > newest) newest = r[1];
  return newest;
}
