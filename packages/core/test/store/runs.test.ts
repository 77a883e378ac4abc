import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHost, listHosts, upsertHost } from '../../src/store/hosts';
import { beginRun, finishRun, getRun, recordHostResult } from '../../src/store/runs';
import { freshStore } from '@infralogs/devkit/fixtures';

let store: Awaited<ReturnType<typeof freshStore>>;
beforeAll(async () => {
  store = await freshStore();
});
afterAll(async () => store?.drop());

describe('hosts', () => {
  it('registers, updates and lists hosts', async () => {
    const a = await upsertHost(store.pool, { name: 'b-host', agentUrl: 'http://127.0.0.2:8080' });
    expect(a).toMatchObject({ name: 'b-host', agentUrl: 'http://127.0.0.2:8080', enabled: true });
    await upsertHost(store.pool, { name: 'a-host', agentUrl: 'http://127.0.0.3:8080', enabled: false });
    const b = await upsertHost(store.pool, { name: 'b-host', agentUrl: 'http://127.0.0.9:8080' });
    expect(b.id).toBe(a.id);
    expect(b.agentUrl).toBe('http://127.0.0.9:8080');
    expect((await listHosts(store.pool)).map((h) => h.name)).toEqual(['a-host', 'b-host']);
    expect((await listHosts(store.pool, { enabledOnly: true })).map((h) => h.name)).toEqual(['b-host']);
    expect(await getHost(store.pool, 'missing')).toBeNull();
    await expect(upsertHost(store.pool, { name: 'x', agentUrl: 'not a url' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('runs', () => {
  it('refuses a second run while one is active, records host results, and frees the run lock on finish', async () => {
    const { runId } = await beginRun(store.pool, { trigger: 'cron', hosts: ['a-host', 'b-host'] });
    await expect(beginRun(store.pool, { trigger: 'http', hosts: [] })).rejects.toMatchObject({
      code: 'CONFLICT',
      status: 409,
      details: { activeRunId: runId },
    });
    await recordHostResult(store.pool, runId, {
      host: 'a-host',
      fetched: 10,
      inserted: 8,
      duplicates: 2,
      batches: 1,
      checkpoint: 's=1;i=2',
      error: null,
    });
    await recordHostResult(store.pool, runId, {
      host: 'b-host',
      fetched: 0,
      inserted: 0,
      duplicates: 0,
      batches: 0,
      checkpoint: null,
      error: { code: 'UPSTREAM_FAILED', message: 'agent unreachable' },
    });
    await finishRun(store.pool, runId, { status: 'partial' });
    const run = await getRun(store.pool, runId);
    expect(run).toMatchObject({ id: runId, trigger: 'cron', status: 'partial' });
    expect(run?.finishedAt).toBeInstanceOf(Date);
    expect(run?.hosts).toEqual([
      {
        host: 'a-host',
        status: 'succeeded',
        fetched: 10,
        inserted: 8,
        duplicates: 2,
        batches: 1,
        checkpoint: 's=1;i=2',
        error: null,
      },
      {
        host: 'b-host',
        status: 'failed',
        fetched: 0,
        inserted: 0,
        duplicates: 0,
        batches: 0,
        checkpoint: null,
        error: { code: 'UPSTREAM_FAILED', message: 'agent unreachable' },
      },
    ]);
    const next = await beginRun(store.pool, { trigger: 'http', hosts: ['a-host'] });
    expect(next.runId).toBeGreaterThan(runId);
    await finishRun(store.pool, next.runId, { status: 'succeeded' });
  });

  it('lets a new run take over the run lock of a crashed one once it expired, marking it abandoned', async () => {
    const { runId: crashed } = await beginRun(store.pool, { trigger: 'cron', hosts: [], staleAfterMs: 1000 });
    // Age the lock on the server instead of sleeping.
    const c = await store.admin();
    await c.query(`UPDATE run_lock SET expires_at = DATE_SUB(UTC_TIMESTAMP(6), INTERVAL 1 SECOND)`);
    await c.end();
    const { runId } = await beginRun(store.pool, { trigger: 'cron', hosts: [] });
    expect(runId).not.toBe(crashed);
    expect((await getRun(store.pool, crashed))?.status).toBe('abandoned');
    await finishRun(store.pool, runId, { status: 'succeeded' });
    await expect(finishRun(store.pool, 999_999, { status: 'failed' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await getRun(store.pool, 999_999)).toBeNull();
  });
});
