import { waitFor } from '@infralogs/devkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createLogger,
  getRun,
  upsertHost,
  type Database,
  type FunctionContext,
  type FunctionEvent,
} from '@infralogs/core';
import { freshStore } from '@infralogs/devkit/fixtures';
import { runCollection, type CollectDeps } from '../src/collect';
import { createCollectHandler } from '../src/endpoint';
import type { HostResult } from '@infralogs/core';

let store: Awaited<ReturnType<typeof freshStore>>;

beforeAll(async () => {
  store = await freshStore();
  for (const name of ['a-1', 'b-1', 'c-1', 'd-1', 'e-1']) {
    await upsertHost(store.pool, { name, agentUrl: `http://127.0.0.1:9/${name}`, enabled: true });
  }
  await upsertHost(store.pool, { name: 'off-1', agentUrl: 'http://127.0.0.1:9/off', enabled: false });
});
afterAll(async () => {
  await store?.drop();
});

const summary = (host: string, over: Partial<HostResult> = {}): HostResult => ({
  host,
  fetched: 10,
  inserted: 8,
  duplicates: 2,
  batches: 1,
  checkpoint: `cursor-${host}`,
  error: null,
  ...over,
});

function deps(
  callFetchHost: CollectDeps['callFetchHost'],
  concurrency = 2,
  over: Partial<CollectDeps> = {},
): CollectDeps {
  const database: Database = { role: 'writer', getPool: () => store.pool, close: async () => {} };
  return {
    getDatabase: async () => database,
    callFetchHost,
    concurrency,
    lockMs: 60_000,
    storeRetry: { retries: 2, baseMs: 10, maxMs: 50 },
    log: createLogger({}, { write: () => {} }),
    ...over,
  };
}

/** A fetch-host stand-in whose calls wait until released, counting how many run at once. */
function gatedFetchHost(result: (host: string) => HostResult) {
  let inFlight = 0;
  const state = { maxInFlight: 0, started: [] as string[], release: () => {} };
  let gate = new Promise<void>((resolve) => (state.release = resolve));
  const call = async (host: string) => {
    inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    state.started.push(host);
    await gate;
    inFlight -= 1;
    return result(host);
  };
  return { call, state, reopen: () => (gate = new Promise<void>((resolve) => (state.release = resolve))) };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
};

describe('runCollection', () => {
  it('pulls every enabled host with bounded concurrency, records each and survives one failing', async () => {
    const fake = gatedFetchHost((host) =>
      host === 'b-1'
        ? summary(host, {
            fetched: 0,
            inserted: 0,
            duplicates: 0,
            checkpoint: null,
            error: { code: 'UPSTREAM_FAILED', message: 'agent answered 401' },
          })
        : summary(host),
    );
    const running = runCollection(deps(fake.call, 2), { trigger: 'request', hosts: null });
    await until(() => fake.state.started.length === 2);
    fake.state.release();
    const result = await running;

    expect(fake.state.maxInFlight).toBe(2);
    expect(result.status).toBe('partial');
    expect(result.hosts.map((h) => h.host).sort()).toEqual(['a-1', 'b-1', 'c-1', 'd-1', 'e-1']);
    expect(result.hosts.find((h) => h.host === 'b-1')?.error?.code).toBe('UPSTREAM_FAILED');

    const run = await getRun(store.pool, result.runId);
    expect(run?.status).toBe('partial');
    expect(run?.trigger).toBe('request');
    expect(run?.hosts.find((h) => h.host === 'a-1')).toMatchObject({
      status: 'succeeded',
      fetched: 10,
      inserted: 8,
      duplicates: 2,
      checkpoint: 'cursor-a-1',
    });
    expect(run?.hosts.find((h) => h.host === 'b-1')).toMatchObject({
      status: 'failed',
      error: { code: 'UPSTREAM_FAILED', message: 'agent answered 401' },
    });
  });

  it('renews its run lock while alive, with no host finishing', async () => {
    const fake = gatedFetchHost((host) => summary(host));
    const first = runCollection(deps(fake.call, 2, { lockMs: 3000 }), {
      trigger: 'schedule',
      hosts: ['a-1'],
    });
    await until(() => fake.state.started.length === 1);
    const expiry = async () => {
      const [rows] = await store.pool.query(`SELECT expires_at AS e FROM run_lock WHERE name = 'collect'`);
      return new Date((rows as { e: Date }[])[0]!.e).getTime();
    };
    const begun = await expiry();
    // Only the heartbeat moves it: the one host is held back, so no result renews the lock.
    await waitFor('the run lock to be renewed', async () => (await expiry()) > begun, 30_000);
    await expect(runCollection(deps(fake.call), { trigger: 'schedule', hosts: null })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    fake.state.release();
    expect((await first).status).toBe('succeeded');
  });

  it('refuses to overlap a running collection, and runs again once it finished', async () => {
    const fake = gatedFetchHost((host) => summary(host));
    const first = runCollection(deps(fake.call), { trigger: 'schedule', hosts: ['a-1'] });
    await until(() => fake.state.started.length === 1);
    const [active] = (await store.pool.query('SELECT MAX(id) AS id FROM runs'))[0] as { id: number }[];
    await expect(runCollection(deps(fake.call), { trigger: 'schedule', hosts: null })).rejects.toMatchObject({
      code: 'CONFLICT',
      status: 409,
      details: { activeRunId: Number(active!.id) },
    });
    fake.state.release();
    expect((await first).status).toBe('succeeded');
    const second = await runCollection(
      deps(async (h) => summary(h)),
      { trigger: 'request', hosts: ['c-1'] },
    );
    expect(second).toMatchObject({ status: 'succeeded', hosts: [summary('c-1')] });
  });

  it('is failed when every host failed; a throwing fetch-host call still ends the run', async () => {
    const failing = await runCollection(
      deps(async (h) => summary(h, { error: { code: 'UPSTREAM_FAILED', message: 'x' } })),
      { trigger: 'request', hosts: ['a-1', 'c-1'] },
    );
    expect(failing.status).toBe('failed');
    // A fetch-host stand-in that throws (a bug) still yields a failed host, never a stuck run.
    const thrown = await runCollection(
      deps(async () => {
        throw new Error('boom');
      }),
      { trigger: 'request', hosts: ['d-1'] },
    );
    expect(thrown).toMatchObject({ status: 'failed', hosts: [{ host: 'd-1', error: { code: 'INTERNAL' } }] });
    // The lease was released each time: a new run starts at once.
    await expect(
      runCollection(
        deps(async (h) => summary(h)),
        { trigger: 'request', hosts: ['e-1'] },
      ),
    ).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('starts no host once its time budget is spent, records those as skipped and answers partial', async () => {
    const called: string[] = [];
    const lines: Record<string, unknown>[] = [];
    const result = await runCollection(
      deps(
        async (h) => {
          called.push(h);
          return summary(h);
        },
        2,
        {
          maxDurationMs: 0,
          log: createLogger({}, { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
        },
      ),
      { trigger: 'request', hosts: ['a-1', 'b-1', 'c-1'] },
    );
    expect(called).toEqual([]);
    const skipped = { code: 'SKIPPED', message: 'time budget spent; next run continues' };
    expect(result.status).toBe('partial');
    expect(result.hosts).toEqual(
      ['a-1', 'b-1', 'c-1'].map((host) => ({
        host,
        fetched: 0,
        inserted: 0,
        duplicates: 0,
        batches: 0,
        checkpoint: null,
        error: skipped,
      })),
    );
    const run = await getRun(store.pool, result.runId);
    expect(run?.status).toBe('partial');
    expect(run?.hosts.map((h) => [h.host, h.error])).toEqual(['a-1', 'b-1', 'c-1'].map((h) => [h, skipped]));
    expect(lines.filter((l) => l.event === 'collect.host_skipped').map((l) => l.host)).toEqual([
      'a-1',
      'b-1',
      'c-1',
    ]);
    expect(lines.at(-1)).toMatchObject({ event: 'collect.run_finished', status: 'partial', skipped: 3 });

    // The next run (with time to spare) takes them.
    const next = await runCollection(
      deps(async (h) => summary(h)),
      { trigger: 'request', hosts: ['a-1', 'b-1', 'c-1'] },
    );
    expect(next.status).toBe('succeeded');
  });

  it('lets the hosts already started finish when the budget runs out mid-run', async () => {
    // Only Date is faked, to move the clock past the budget; timers and the database run as usual.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const fake = gatedFetchHost((host) => summary(host));
      // Concurrency 2 over four hosts: two start, then the budget is spent before the others start.
      const running = runCollection(deps(fake.call, 2, { maxDurationMs: 60_000 }), {
        trigger: 'request',
        hosts: ['a-1', 'b-1', 'c-1', 'd-1'],
      });
      await until(() => fake.state.started.length === 2);
      vi.setSystemTime(Date.now() + 61_000);
      fake.state.release();
      const result = await running;
      expect(fake.state.started).toEqual(['a-1', 'b-1']);
      expect(result.status).toBe('partial');
      expect(result.hosts.map((h) => [h.host, h.error?.code ?? null])).toEqual([
        ['a-1', null],
        ['b-1', null],
        ['c-1', 'SKIPPED'],
        ['d-1', 'SKIPPED'],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('on SIGTERM starts no more hosts, lets those in flight answer, hands the run back; the next run aborts it', async () => {
    const fake = gatedFetchHost((host) => summary(host));
    const draining = new AbortController();
    // Concurrency 2 over four hosts: two are in flight when the drain begins, two never start.
    const running = runCollection(deps(fake.call, 2, { shutdown: draining.signal, drainMs: 60_000 }), {
      trigger: 'schedule',
      hosts: ['a-1', 'b-1', 'c-1', 'd-1'],
    });
    await until(() => fake.state.started.length === 2);
    draining.abort();
    fake.state.release();
    const error = await running.then(
      () => null,
      (err: unknown) => err as { code: string; details: { runId: number } },
    );
    expect(error?.code).toBe('SHUTTING_DOWN');
    expect(fake.state.started).toEqual(['a-1', 'b-1']);
    const cut = error!.details.runId;
    const handedBack = await getRun(store.pool, cut);
    expect(handedBack?.status).toBe('running');
    expect(handedBack?.hosts.map((h) => [h.host, h.status])).toEqual([
      ['a-1', 'succeeded'],
      ['b-1', 'succeeded'],
      ['c-1', 'pending'],
      ['d-1', 'pending'],
    ]);
    // A draining process starts no run at all.
    await expect(
      runCollection(deps(fake.call, 2, { shutdown: draining.signal }), { trigger: 'schedule', hosts: null }),
    ).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });

    // The next process: no waiting for the lease to expire.
    const next = await runCollection(
      deps(async (h) => summary(h)),
      {
        trigger: 'schedule',
        hosts: ['a-1', 'b-1', 'c-1', 'd-1'],
      },
    );
    expect(next.status).toBe('succeeded');
    expect((await getRun(store.pool, cut))?.status).toBe('aborted');
  });

  it('hands the run back after drainMs even when a host in flight does not answer', async () => {
    const fake = gatedFetchHost((host) => summary(host));
    const draining = new AbortController();
    const running = runCollection(deps(fake.call, 1, { shutdown: draining.signal, drainMs: 0 }), {
      trigger: 'request',
      hosts: ['a-1', 'b-1'],
    });
    await until(() => fake.state.started.length === 1);
    draining.abort();
    await expect(running).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    fake.state.release();
    const next = await runCollection(
      deps(async (h) => summary(h)),
      {
        trigger: 'request',
        hosts: ['a-1', 'b-1'],
      },
    );
    expect(next.status).toBe('succeeded');
  });

  it('names unknown and disabled hosts instead of starting a run', async () => {
    const [[before]] = (await store.pool.query('SELECT COUNT(*) AS n FROM runs')) as unknown as [
      { n: number }[],
    ];
    await expect(
      runCollection(
        deps(async (h) => summary(h)),
        { trigger: 'request', hosts: ['a-1', 'zz-9', 'off-1'] },
      ),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      details: { unknown: ['zz-9'], disabled: ['off-1'] },
    });
    const [[after]] = (await store.pool.query('SELECT COUNT(*) AS n FROM runs')) as unknown as [
      { n: number }[],
    ];
    expect(Number(after!.n)).toBe(Number(before!.n));
  });
});

describe('the collect handler', () => {
  const handler = createCollectHandler({
    ...deps(async (h) => summary(h)),
    callerTokens: async () => ['collect-secret'],
  });
  const context = {
    status: () => context,
    headers: () => context,
    succeed: () => {},
    fail: () => {},
  } as unknown as FunctionContext;
  const call = (headers: FunctionEvent['headers'], body?: unknown) =>
    handler({ body, headers, method: 'POST', query: {}, path: '/' }, context);

  it('accepts the cron-connector without a token and starts a scheduled run of every enabled host', async () => {
    const result = (await call({ 'x-connector': 'cron-connector', 'x-topic': 'cron-function' })) as {
      runId: number;
      hosts: unknown[];
    };
    expect(result.hosts).toHaveLength(5);
    expect((await getRun(store.pool, result.runId))?.trigger).toBe('schedule');
  });

  it('needs the caller token for anything else', async () => {
    await expect(call({ 'x-connector': 'cron-connector' }, { hosts: ['a-1'] })).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
    await expect(call({}, {})).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(
      call({ authorization: 'Bearer collect-secret' }, '{"hosts":["a-1"]}'),
    ).resolves.toMatchObject({ status: 'succeeded', hosts: [summary('a-1')] });
  });
});
