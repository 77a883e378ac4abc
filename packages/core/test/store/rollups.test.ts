import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestBatch } from '../../src/store/ingest';
import { upsertHost } from '../../src/store/hosts';
import { dailyFieldCounts, fieldCounts, newestTs } from '../../src/store/rollups';
import { hourGroups, hourlyCounts, toRow } from '../../src/store/rows';
import { entries, entry, freshStore } from '@infralogs/devkit/fixtures';

/** The dashboard's rollups and the host's activity row, kept by ingest in the batch's transaction. */

type Store = Awaited<ReturnType<typeof freshStore>>;
let store: Store;

async function query<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  const c = await store.admin();
  try {
    return (await c.query(sql, values))[0] as T[];
  } finally {
    await c.end();
  }
}

describe('fieldCounts and newestTs', () => {
  it('count per field, value, hour and priority, an absent value as the empty string', () => {
    const rows = [
      entry(1),
      entry(2, { priority: 3 }),
      entry(3, { unit: null, comm: 'cron', syslogIdentifier: 'CRON', priority: null }),
    ].map((e) => toRow(1, e));
    const counts = fieldCounts(hourGroups(rows));
    const key = (field: number, value: string, priority: number) =>
      counts.find((c) => c.field === field && c.value === value && c.priority === priority)?.n;
    expect(key(1, 'sshd', 6)).toBe(1);
    expect(key(1, 'sshd', 3)).toBe(1);
    expect(key(1, 'CRON', 255)).toBe(1);
    expect(key(3, '', 255)).toBe(1);
    expect(key(2, 'sshd', 3)).toBe(1);
    expect(counts.every((c) => c.hour === '2026-11-30 12:00:00')).toBe(true);
    // In the primary key's order, so that concurrent batches lock rollup rows in one order.
    const keys = counts.map((c) => [c.field, c.hour, c.value, c.priority] as const);
    expect(keys).toEqual(
      [...keys].sort((a, b) => a[0] - b[0] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : a[3] - b[3])),
    );
    expect(dailyFieldCounts(counts).map((c) => c.field)).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);
    expect(newestTs(rows)).toBe('2026-11-30 12:00:00.003000');
    expect(newestTs([])).toBeNull();
  });

  it('equals a plain count when hours interleave and values repeat', () => {
    const HOUR = 3_600_000_000;
    const names = ['sshd', 'CRON', 'nginx'];
    // Hours 0, 1, 0, 2, 1, … so that a batch goes back to an hour it has left.
    const rows = Array.from({ length: 60 }, (_, i) =>
      entry(i + 1, {
        realtimeUs: Date.UTC(2026, 10, 30, 12) * 1000 + ((i * 7) % 3) * HOUR + i,
        syslogIdentifier: names[i % 3]!,
        comm: names[(i + 1) % 3]!,
        unit: i % 4 === 0 ? null : `${names[i % 2]}.service`,
        priority: i % 5 === 0 ? null : i % 8,
      }),
    ).map((e) => toRow(1, e));
    const plain = new Map<string, number>();
    for (const r of rows)
      for (const [field, value] of [
        [1, r.syslog_identifier],
        [2, r.comm],
        [3, r.unit],
      ] as const) {
        const key = `${field}|${r.ts.slice(0, 13)}:00:00|${value ?? ''}|${r.priority ?? 255}`;
        plain.set(key, (plain.get(key) ?? 0) + 1);
      }
    const counted = fieldCounts(hourGroups(rows)).map((c) => [
      `${c.field}|${c.hour}|${c.value}|${c.priority}`,
      c.n,
    ]);
    expect(new Map(counted as [string, number][])).toEqual(plain);
    expect(counted).toHaveLength(plain.size);
    // The hourly counts come from the same groups: one per hour and priority, adding up to the rows.
    const hourly = new Map<string, number>();
    for (const r of rows) {
      const key = `${r.ts.slice(0, 13)}:00:00|${r.priority ?? 255}`;
      hourly.set(key, (hourly.get(key) ?? 0) + 1);
    }
    const countedHourly = hourlyCounts(hourGroups(rows)).map((c) => [`${c.hour}|${c.priority}`, c.n]);
    expect(new Map(countedHourly as [string, number][])).toEqual(hourly);
    expect(countedHourly).toHaveLength(hourly.size);
  });
});

describe('ingestBatch keeps the dashboard rollups', () => {
  beforeAll(async () => {
    store = await freshStore();
    await upsertHost(store.pool, { name: 'web-1', agentUrl: 'http://127.0.0.1:9/web-1' });
  });
  afterAll(async () => store?.drop());

  it('counts identifiers, comms and units per priority exactly, replays included', async () => {
    const batch = [
      ...entries(1, 10),
      ...entries(11, 15, { syslogIdentifier: 'kernel', comm: null, unit: null, priority: 3 }),
    ];
    await ingestBatch(store.pool, { host: 'web-1', entries: batch });
    await ingestBatch(store.pool, { host: 'web-1', entries: batch.slice(5) });
    const rows = await query<{ field: number; value: string; priority: number; n: number }>(
      'SELECT field, value, priority, CAST(n AS SIGNED) AS n FROM log_field_counts_hourly ORDER BY field, value, priority',
    );
    expect(rows).toEqual([
      { field: 1, value: 'kernel', priority: 3, n: 5 },
      { field: 1, value: 'sshd', priority: 6, n: 10 },
      { field: 2, value: '', priority: 3, n: 5 },
      { field: 2, value: 'sshd', priority: 6, n: 10 },
      { field: 3, value: '', priority: 3, n: 5 },
      { field: 3, value: 'ssh.service', priority: 6, n: 10 },
    ]);
    const daily = await query<{ day: string; n: number }>(
      "SELECT DATE_FORMAT(day, '%Y-%m-%d') AS day, CAST(SUM(n) AS SIGNED) AS n FROM log_field_counts_daily GROUP BY day",
    );
    expect(daily).toEqual([{ day: '2026-11-30', n: 45 }]);
  });

  it("records the host's newest stored entry, not the checkpoint entry's time, and beats on every batch", async () => {
    // A journal whose last entry in journal order carries an old timestamp (1970 after a clock reset).
    const last = entry(16, { realtimeUs: 1_000_000 });
    await ingestBatch(store.pool, { host: 'web-1', entries: [last] });
    const [checkpoint] = await query<{ ts: string }>('SELECT ts FROM checkpoints');
    expect(checkpoint!.ts).toBe('1970-01-01 00:00:01.000000');
    const [a] = await query<{ newest: string; beat: string }>(
      'SELECT newest_ts AS newest, beat_at AS beat FROM host_activity',
    );
    expect(a!.newest).toBe('2026-11-30 12:00:00.015000');
    // An empty batch beats too; the newest entry stays.
    await ingestBatch(store.pool, { host: 'web-1', entries: [] });
    const [b] = await query<{ newest: string; beat: string }>(
      'SELECT newest_ts AS newest, beat_at AS beat FROM host_activity',
    );
    expect(b!.newest).toBe(a!.newest);
    expect(b!.beat >= a!.beat).toBe(true);
  });
});
