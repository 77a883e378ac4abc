import got from 'got';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'mysql2/promise';
import type { Progress } from './progress';

/** What collect answers (functions/collect: RunSummary). */
export interface CollectAnswer {
  runId: number;
  status: 'succeeded' | 'partial' | 'failed';
  hosts: {
    host: string;
    fetched: number;
    inserted: number;
    duplicates: number;
    cursor: string | null;
    error: { code: string; message: string } | null;
  }[];
}

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
  const call = got
    .post(`${options.gatewayUrl}/function/collect`, {
      json: options.hosts ? { hosts: options.hosts } : {},
      headers: { authorization: `Bearer ${options.token}` },
      timeout: { request: 30 * 60_000 },
      retry: { limit: 0 },
    })
    .json<CollectAnswer>();
  let done = false;
  const watch = (async () => {
    const shown = new Set<string>();
    while (!done) {
      await sleep(300);
      const [rows] = await options.pool
        .query(
          `SELECT host, status, fetched, inserted FROM run_hosts
            WHERE run_id = (SELECT MAX(id) FROM runs) AND status <> 'pending'`,
        )
        .catch(() => [[]]);
      for (const r of rows as { host: string; status: string; fetched: number; inserted: number }[]) {
        if (shown.has(r.host) || done) continue;
        shown.add(r.host);
        progress(`  ${r.host}: ${r.status}, ${r.fetched} entries fetched, ${r.inserted} inserted`);
      }
    }
  })();
  try {
    const answer = await call;
    return answer;
  } finally {
    done = true;
    await watch;
  }
}

/** One line per host of a collect answer, for the terminal. */
export function describeRun(answer: CollectAnswer): string[] {
  return [
    `run ${answer.runId}: ${answer.status}`,
    ...answer.hosts.map(
      (h) =>
        `  ${h.host}: ${h.fetched} fetched, ${h.inserted} inserted, ${h.duplicates} duplicates` +
        (h.error ? ` — ${h.error.code}: ${h.error.message}` : ''),
    ),
  ];
}
