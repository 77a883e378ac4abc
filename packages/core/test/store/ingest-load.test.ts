import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsDir } from '@infralogs/devkit';
import { T0, entries, freshStore } from '@infralogs/devkit/fixtures';
import { upsertHost } from '../../src/store/hosts';
import { ingestBatch } from '../../src/store/ingest';
import { ROLLUP_FIELDS } from '../../src/store/rollups';
import { benchHosts } from '../../bench/entries';
import { startIngestWorker } from '../../bench/worker-client';

/**
 * Load: HOSTS hosts ingesting at once into the real primary, through the ingest benchmark's own
 * worker process (bench/ingest-worker.ts: ingestBatch in plain node, one lane per host, its peak
 * RSS from /proc). Every batch of every host lands in the same hours, so the hosts' rollup rows
 * sit side by side in the same index pages, where locks taken in different orders or on gaps
 * would make concurrent batches deadlock. The count of deadlocks (and lock wait timeouts) that
 * ingest rolled back must be zero, not merely retried away.
 *
 * Sized for CI; INFRALOGS_LOAD_ENTRIES (default 40,000), INFRALOGS_LOAD_HOSTS (default 10) and
 * INFRALOGS_LOAD_BATCH (default 500) give a bigger run (docs/store.md: "Concurrent hosts").
 */
const HOSTS = Number(process.env.INFRALOGS_LOAD_HOSTS ?? 10);
const TOTAL = Number(process.env.INFRALOGS_LOAD_ENTRIES ?? 40_000);
const BATCH = Number(process.env.INFRALOGS_LOAD_BATCH ?? 500);
/** The ingest benchmark's memory target (docs/store.md: ingest_rss_mb ≤ 200). */
const RSS_LIMIT_MB = 200;

type Store = Awaited<ReturnType<typeof freshStore>>;
let store: Store;
let dir: string;
let worker: ChildProcess | undefined;

beforeAll(async () => {
  store = await freshStore();
  for (const name of benchHosts(HOSTS))
    await upsertHost(store.pool, { name, agentUrl: 'http://127.0.0.1:9' });
  dir = await mkdtemp(join(tmpdir(), 'infralogs-ingest-load-'));
});

afterAll(async () => {
  worker?.kill('SIGKILL');
  await store?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ingest under load', () => {
  it(`${HOSTS} hosts ingesting at once: every row stored, no deadlock, bounded memory`, async () => {
    const { host, port, admin } = { ...store.infra.mysql.primary, admin: store.infra.mysql.admin };
    const ingest = await startIngestWorker(dir, {
      db: { host, port, user: admin.user, password: admin.password, database: store.name },
      total: TOTAL,
      batchSize: BATCH,
      hosts: HOSTS,
      startUs: T0,
      datasetsDir: datasetsDir(),
      concurrency: HOSTS,
    });
    worker = ingest.child;
    const round = await ingest.round(TOTAL);
    const { peakRssMb } = await ingest.finish();
    worker = undefined;
    console.log(
      `ingest load: ${HOSTS} hosts, ${TOTAL} entries in ${round.batches} batches, ` +
        `rollbacks ${JSON.stringify(round.rollbacks)}, worker peak RSS ${peakRssMb.toFixed(1)} MB`,
    );

    expect(round.inserted).toBe(TOTAL);
    expect(round.rollbacks).toEqual({});
    expect(peakRssMb).toBeLessThan(RSS_LIMIT_MB);

    const c = await store.admin();
    try {
      const count = async (sql: string) => {
        const [rows] = await c.query(sql);
        return Number((rows as { n: number | string }[])[0]!.n);
      };
      expect(await count('SELECT COUNT(*) AS n FROM logs')).toBe(TOTAL);
      expect(await count('SELECT SUM(n) AS n FROM log_counts_hourly')).toBe(TOTAL);
      // Each entry is counted once per ranked field.
      expect(await count('SELECT SUM(n) AS n FROM log_field_counts_daily')).toBe(
        Object.keys(ROLLUP_FIELDS).length * TOTAL,
      );
      expect(await count('SELECT COUNT(*) AS n FROM checkpoints WHERE `cursor` IS NOT NULL')).toBe(HOSTS);
    } finally {
      await c.end();
    }
  }, 300_000);

  // The deadlock seen with three hosts: a host without a checkpoint row (registered by plain SQL,
  // not upsertHost) had lockHost gap-lock the checkpoints beside it under REPEATABLE READ, and two
  // such hosts then each waited to insert their checkpoint into the other's gap.
  it('first batches of hosts registered by hand (no checkpoint row yet) at once: no deadlock', async () => {
    const names = Array.from({ length: HOSTS }, (_, i) => `by-hand-${i}`);
    const c = await store.admin();
    try {
      for (const name of names) {
        await c.query(
          `INSERT INTO hosts (name, agent_url, enabled, insecure, created_at, updated_at)
           VALUES (?, 'http://127.0.0.1:9/', 1, 0, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))`,
          [name],
        );
      }
    } finally {
      await c.end();
    }
    const rollbacks: string[] = [];
    const onRollback = (code: string) => rollbacks.push(code);
    const results = await Promise.all(
      names.map(async (host, k) => {
        let inserted = 0;
        for (let b = 0; b < 3; b++) {
          const batch = entries(1 + b * 100, (b + 1) * 100).map((e, i) => ({
            ...e,
            realtimeUs: T0 + (b * 100 + i) * 1_000_000 + k,
          }));
          inserted += (await ingestBatch(store.pool, { host, entries: batch }, { onRollback })).inserted;
        }
        return inserted;
      }),
    );
    expect(rollbacks).toEqual([]);
    expect(results).toEqual(names.map(() => 300));
  });
});
