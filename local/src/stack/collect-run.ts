import got from 'got';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'mysql2/promise';
import { getRun, runSummarySchema, type HostResult, type RunSummary } from '@infralogs/core';
import type { Progress } from './progress';

/** What collect answers: its run summary. */
export type CollectAnswer = RunSummary;

/**
 * Runs one collection through the gateway, as an operator would with curl, and shows each host as
 * it finishes (polled from the run's rows on the primary) while the call is in flight.
 */
export async function collectNow(options: {
  gatewayUrl: string;
  token: string;
  hosts?: string[];
  pool: Pool;
  progress: Progress;
}): Promise<CollectAnswer> {
  const { progress } = options;
  progress(
    `collecting ${options.hosts ? options.hosts.join(', ') : 'every host'} through ${options.gatewayUrl}/function/collect…`,
  );
  // Runs before this one must not be shown as its progress (the stack keeps them across restarts).
  const [before] = await options.pool
    .query('SELECT COALESCE(MAX(id), 0) AS last FROM runs')
    .catch(() => [[{ last: 0 }]]);
  const lastRun = Number((before as { last: number }[])[0]?.last ?? 0);
  const call = got
    .post(`${options.gatewayUrl}/function/collect`, {
      json: options.hosts ? { hosts: options.hosts } : {},
      headers: { authorization: `Bearer ${options.token}` },
      timeout: { request: 30 * 60_000 },
      retry: { limit: 0 },
    })
    .json()
    .then((body) => runSummarySchema.parse(body))
    .catch((err: unknown) => {
      const body = (err as { response?: { body?: unknown } }).response?.body;
      throw new Error(`collect failed: ${typeof body === 'string' ? body : (err as Error).message}`);
    });
  const shown = new Set<string>();
  const show = (h: HostResult) => {
    if (shown.has(h.host)) return;
    shown.add(h.host);
    progress(hostLine(h));
  };
  let done = false;
  const watch = (async () => {
    while (!done) {
      await sleep(300);
      const [latest] = await options.pool.query('SELECT MAX(id) AS id FROM runs').catch(() => [[]]);
      const id = Number((latest as { id: number | null }[])[0]?.id ?? 0);
      const run = id > lastRun ? await getRun(options.pool, id).catch(() => null) : null;
      if (!done && run) for (const h of run.hosts) if (h.status !== 'pending') show(h);
    }
  })();
  try {
    const answer = await call;
    // Hosts that finished between two polls.
    for (const h of answer.hosts) show(h);
    return answer;
  } finally {
    done = true;
    await watch;
  }
}

const hostLine = (h: HostResult) =>
  `  ${h.host}: ${h.fetched} fetched, ${h.inserted} inserted, ${h.duplicates} duplicates` +
  (h.error ? ` — failed: ${h.error.code}: ${h.error.message}` : '');
