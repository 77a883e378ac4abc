import pLimit from 'p-limit';
import {
  beginRun,
  finishRun,
  listHosts,
  recordHostResult,
  type Database,
  type Logger,
} from '@infralogs/core';
import { selectHosts, type CollectRequest } from './request';
import { failedHost, runStatus, type HostSummary, type RunSummary } from './summary';

export interface CollectDeps {
  getDatabase: () => Promise<Database>;
  /** One host through fetch-host; never throws (every outcome is a summary). */
  callFetchHost: (host: string) => Promise<HostSummary>;
  concurrency: number;
  staleAfterMs: number;
  log: Logger;
}

/**
 * One collection run: picks the hosts, opens the run (CONFLICT while another is active: the
 * cron-connector fires overlapping runs), pulls every host through fetch-host with bounded
 * concurrency, records each host's summary as it finishes and closes the run with its status.
 * One host failing never stops the others.
 */
export async function runCollection(deps: CollectDeps, request: CollectRequest): Promise<RunSummary> {
  const pool = (await deps.getDatabase()).getPool();
  const hosts = selectHosts(await listHosts(pool, { enabledOnly: false }), request.hosts);
  const { runId } = await beginRun(pool, {
    trigger: request.trigger,
    hosts,
    staleAfterMs: deps.staleAfterMs,
  });
  const log = deps.log.child({ runId });
  log.info('run started', { trigger: request.trigger, hosts });

  let finished = false;
  try {
    const limit = pLimit(deps.concurrency);
    const results = await Promise.all(
      hosts.map((host) =>
        limit(async () => {
          log.info('host started', { host });
          const summary = await deps
            .callFetchHost(host)
            .catch((err: unknown) =>
              failedHost(host, { code: 'INTERNAL', message: String((err as Error)?.message ?? err) }),
            );
          await recordHostResult((await deps.getDatabase()).getPool(), runId, {
            host,
            fetched: summary.fetched,
            inserted: summary.inserted,
            duplicates: summary.duplicates,
            cursor: summary.cursor,
            error: summary.error ? `${summary.error.code}: ${summary.error.message}` : null,
          });
          log.info('host finished', { ...summary });
          return summary;
        }),
      ),
    );
    const status = runStatus(results);
    await finishRun((await deps.getDatabase()).getPool(), runId, { status });
    finished = true;
    log.info('run finished', { status, hosts: results.length });
    return { runId, status, hosts: results };
  } finally {
    // A run left active would block every later run until it goes stale: close it as failed.
    if (!finished) {
      await finishRun((await deps.getDatabase()).getPool(), runId, { status: 'failed' }).catch(
        (err: unknown) => log.error('could not close the run', { error: err }),
      );
    }
  }
}
