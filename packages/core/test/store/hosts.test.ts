import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostStatuses, removeHost, setHostEnabled, upsertHost } from '../../src/store/hosts';
import { ingestBatch } from '../../src/store/ingest';
import { entries, freshStore } from '@infralogs/devkit/fixtures';

let store: Awaited<ReturnType<typeof freshStore>>;
beforeAll(async () => {
  store = await freshStore();
});
afterAll(async () => store?.drop());

const count = async (sql: string, values: unknown[]) => {
  const [rows] = await store.pool.query(sql, values);
  return Number((rows as { n: number }[])[0]!.n);
};

describe('hosts: TLS settings, status, removal', () => {
  it('stores a host’s insecure flag and CA bundle, and sets them back to defaults on a plain upsert', async () => {
    const h = await upsertHost(store.pool, {
      name: 'tls-1',
      agentUrl: 'http://127.0.0.9:1',
      insecure: true,
      agentCa: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----',
    });
    expect(h).toMatchObject({ insecure: true, agentCa: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(await upsertHost(store.pool, { name: 'tls-1', agentUrl: 'https://127.0.0.9:1' })).toMatchObject({
      insecure: false,
      agentCa: null,
    });
    expect(await setHostEnabled(store.pool, 'tls-1', false)).toBe(true);
    expect(await setHostEnabled(store.pool, 'tls-1', false)).toBe(false);
  });

  it('lists the newest stored entry, the last run and gaps; refuses removal with rows unless purged in chunks', async () => {
    const host = await upsertHost(store.pool, { name: 'purge-1', agentUrl: 'https://127.0.0.9:2' });
    // Two batches with a seqnum jump between them: 25 entries and one gap.
    await ingestBatch(store.pool, { host: 'purge-1', entries: entries(1, 20) });
    await ingestBatch(store.pool, { host: 'purge-1', entries: entries(31, 35) });
    const [status] = (await hostStatuses(store.pool)).filter((s) => s.name === 'purge-1');
    expect(status!.newestEntry).toBeInstanceOf(Date);
    expect(status!.gaps).toBe(1);
    expect(status!.lastRun).toBeNull();

    await expect(removeHost(store.pool, 'purge-1')).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await count('SELECT COUNT(*) AS n FROM logs WHERE host_id = ?', [host.id])).toBe(25);

    const progress: number[] = [];
    const removed = await removeHost(store.pool, 'purge-1', {
      purge: true,
      chunkRows: 10,
      onProgress: (n) => progress.push(n),
    });
    expect(removed).toEqual({ deleted: 25 });
    expect(progress).toEqual([10, 20, 25]);
    expect(await count('SELECT COUNT(*) AS n FROM logs WHERE host_id = ?', [host.id])).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM log_counts_hourly WHERE host_id = ?', [host.id])).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM hosts WHERE id = ?', [host.id])).toBe(0);
    expect(await removeHost(store.pool, 'purge-1')).toBeNull();
  });
});
