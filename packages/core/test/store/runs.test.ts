import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHost, listHosts, upsertHost } from '../../src/store/hosts';
import {
  beginRun,
  finishRun,
  getRun,
  handBackRun,
  recordHostResult,
  renewRunLock,
  RUN_ABORTED,
} from '../../src/store/runs';
import { freshStore } from '@infralogs/devkit/fixtures';

let store: Awaited<ReturnType<typeof freshStore>>;
beforeAll(async () => {
  store = await freshStore();
});
afterAll(async () => store?.drop());

/** A host result that fetched and stored one entry. */
const oneEntry = (host: string) => ({
  host,
  fetched: 1,
  inserted: 1,
  duplicates: 0,
  batches: 1,
  checkpoint: 'c1',
  error: null,
});

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

  it('lets a new run take over the run lock of a crashed one once it expired, marking it aborted', async () => {
    const { runId: crashed } = await beginRun(store.pool, {
      trigger: 'cron',
      hosts: ['a-host', 'b-host'],
      lockMs: 1000,
    });
    await recordHostResult(store.pool, crashed, oneEntry('a-host'));
    // While its holder renews it, the lock holds.
    expect(await renewRunLock(store.pool, crashed)).toBe(true);
    await expect(beginRun(store.pool, { trigger: 'cron', hosts: [] })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    // Age the lock on the server instead of sleeping: its holder stopped renewing it.
    const c = await store.admin();
    await c.query(`UPDATE run_lock SET expires_at = DATE_SUB(UTC_TIMESTAMP(6), INTERVAL 1 SECOND)`);
    await c.end();
    const { runId, aborted } = await beginRun(store.pool, { trigger: 'cron', hosts: [] });
    expect(runId).not.toBe(crashed);
    expect(aborted).toEqual([crashed]);
    expect(await renewRunLock(store.pool, crashed)).toBe(false);
    const dead = await getRun(store.pool, crashed);
    expect(dead).toMatchObject({
      status: 'aborted',
      reason: expect.stringMatching(/stopped renewing the run lock/),
    });
    // The host it finished stands; the one it left is failed with the reason and who resumes it.
    expect(dead?.hosts.map((h) => [h.host, h.status, h.error?.code ?? null])).toEqual([
      ['a-host', 'succeeded', null],
      ['b-host', 'failed', RUN_ABORTED],
    ]);
    expect(dead?.hosts[1]?.error?.message).toMatch(new RegExp(`stopped renewing.*run ${runId} resumes it`));
    await finishRun(store.pool, runId, { status: 'succeeded' });
    await expect(finishRun(store.pool, 999_999, { status: 'failed' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await getRun(store.pool, 999_999)).toBeNull();
  });

  it('lets the next run start at once after a run handed its lease back, and marks that one aborted', async () => {
    const { runId: cut } = await beginRun(store.pool, { trigger: 'cron', hosts: ['a-host'] });
    await expect(beginRun(store.pool, { trigger: 'cron', hosts: [] })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await handBackRun(store.pool, cut);
    expect((await getRun(store.pool, cut))?.status).toBe('running');
    // A host result arriving after the hand-back is recorded but extends no run lock.
    await recordHostResult(store.pool, cut, oneEntry('a-host'));
    const next = await beginRun(store.pool, { trigger: 'cron', hosts: [] });
    expect(next.aborted).toEqual([cut]);
    expect(await getRun(store.pool, cut)).toMatchObject({
      status: 'aborted',
      reason: expect.stringMatching(/handed back/),
    });
    await finishRun(store.pool, next.runId, { status: 'succeeded' });
  });
});
