import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDays,
  createLogger,
  ensurePartitions,
  ingestBatch,
  listPartitions,
  partitionDay,
  partitionName,
  upsertHost,
  utcDay,
} from '@infralogs/core';
import { waitFor } from '@infralogs/devkit';
import { entry, freshStore } from '@infralogs/devkit/fixtures';
import { CronScheduler } from '../../src/gateway';
import { readCronJob, RETENTION_CRONJOB, storeJob } from '../../src/stack/scheduled-jobs';

/**
 * Retention runs by itself: the local gateway ticks the store's CronJob as the cluster does, with
 * the manifest's command and RETENTION_DAYS, and the real store CLI (a child process) drops the day
 * partitions older than the setting with their rollup rows, against real MariaDB.
 */
const now = new Date();
const today = utcDay(now);
const dayAgo = (n: number) => addDays(today, -n);
/** Days ago the test stores entries on, at 05:00 UTC; RETENTION_DAYS is 30. */
const STORED_DAYS = [35, 31, 30, 29, 1, 0];

let store: Awaited<ReturnType<typeof freshStore>>;
let dir: string;

beforeAll(async () => {
  // Migrated 40 days ago (day partitions from 47 to 33 days back), then the days up to now.
  store = await freshStore({ now: dayAgo(40) });
  await ensurePartitions(store.pool, { now });
  await upsertHost(store.pool, { name: 'web-1', agentUrl: 'http://127.0.0.1:9/' });
  // Each day's entry halfway through the part of the day that has passed today: always in the past.
  const intoDayUs = Math.floor(((now.getTime() - today.getTime()) * 1000) / 2);
  const entries = STORED_DAYS.map((n, i) =>
    entry(i + 1, { realtimeUs: dayAgo(n).getTime() * 1000 + intoDayUs }),
  );
  await ingestBatch(store.pool, { host: 'web-1', entries }, { now });
  dir = await mkdtemp(join(tmpdir(), 'infralogs-retention-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await store?.drop();
});

async function storedDays(table: 'logs' | 'log_counts_hourly', column: 'ts' | 'hour') {
  const c = await store.admin();
  try {
    const [rows] = await c.query(`SELECT DATE_FORMAT(${column}, '%Y-%m-%d') AS d FROM ${table} ORDER BY 1`);
    return (rows as { d: string }[]).map((r) => r.d);
  } finally {
    await c.end();
  }
}
const isoDays = (days: number[]) => days.map((n) => dayAgo(n).toISOString().slice(0, 10));

describe('scheduled retention', () => {
  it('is the CronJob of deploy/: daily, UTC, the store CLI with RETENTION_DAYS 30', () => {
    const spec = readCronJob(RETENTION_CRONJOB);
    expect(spec).toMatchObject({ name: 'store-retention', args: ['daily'] });
    expect(spec.env.RETENTION_DAYS).toBe('30');
    expect(spec.schedule).toMatch(/^\d+ \d+ \* \* \*$/);
  });

  it('drops, on its scheduled tick, the day partitions older than RETENTION_DAYS with their rollups, and nothing newer', async () => {
    expect(await storedDays('logs', 'ts')).toEqual(isoDays(STORED_DAYS));
    expect(await storedDays('log_counts_hourly', 'hour')).toEqual(isoDays(STORED_DAYS));
    const before = await listPartitions(store.pool);
    expect(before).toContain(partitionName(dayAgo(47)));

    const spec = readCronJob(RETENTION_CRONJOB);
    const { admin } = store.infra.mysql;
    const job = storeJob(
      // The manifest's job with a tick every second (the gateway's test hook for six fields);
      // command and environment as they are.
      { ...spec, schedule: '* * * * * *' },
      {
        db: {
          host: store.infra.mysql.primary.host,
          port: store.infra.mysql.primary.port,
          database: store.name,
        },
        lease: async () => ({ username: admin.user, password: admin.password }),
        dir,
      },
    );
    const scheduler = new CronScheduler(
      [],
      () => 'http://127.0.0.1:9',
      createLogger({}, { write: () => {} }),
      [job],
    );
    scheduler.start({ seconds: true });
    try {
      await waitFor(
        'the scheduled run',
        async () => (scheduler.jobRuns.get(spec.name)?.length ?? 0) > 0,
        60_000,
      );
    } finally {
      // A later tick may have begun another run: stop waits for it.
      await scheduler.stop();
    }
    expect(scheduler.jobRuns.get(spec.name)?.[0]?.ok).toBe(true);

    // Kept: the last 30 days (a day 30 days ago still has entries younger than the cutoff's day).
    const kept = STORED_DAYS.filter((n) => n <= 30);
    expect(await storedDays('logs', 'ts')).toEqual(isoDays(kept));
    expect(await storedDays('log_counts_hourly', 'hour')).toEqual(isoDays(kept));
    const after = await listPartitions(store.pool);
    for (const name of before) {
      const day = partitionDay(name);
      const n = day && Math.round((today.getTime() - day.getTime()) / 86_400_000);
      if (n === null || n <= 30) expect(after, name).toContain(name);
      else expect(after, name).not.toContain(name);
    }
    // The daily run also made the coming week's partitions.
    expect(after).toContain(partitionName(addDays(today, 7)));
    // The lease file of the run is gone.
    expect(await readdir(dir)).toEqual([]);
  }, 120_000);
});
