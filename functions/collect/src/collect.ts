import pLimit from 'p-limit';
import {
  beginRun,
  finishRun,
  listHosts,
  Metrics,
  recordHostResult,
  type Database,
  type HostResult,
  type Logger,
  type RunSummary,
} from '@infralogs/core';
import { selectHosts, type CollectRequest } from './request';
import { SKIPPED, failedHost, runStatus, skippedHost } from './summary';

export interface CollectDeps {
  getDatabase: () => Promise<Database>;
  /** One host through fetch-host; never throws (every outcome is a result). */
  callFetchHost: (host: string) => Promise<HostResult>;
  concurrency: number;
  staleAfterMs: number;
  /**
   * No host is started once the run is this old, so the run answers (and its summary is
   * recorded) before collect's exec_timeout cuts it; the hosts not started are SKIPPED and the
   * next run takes them. Unlimited when absent.
   */
  maxDurationMs?: number;
  log: Logger;
  /** Default: the process's registry, served by the template's metrics port. */
  metrics?: Metrics;
}

/**
 * One collection run: picks the hosts, opens the run (CONFLICT while another is active: the
 * cron-connector fires overlapping runs), pulls every host through fetch-host with bounded
 * concurrency until the time budget is spent, records each host's summary as it finishes (or is
 * skipped) and closes the run with its status. One host failing never stops the others.
 */
export async function runCollection(deps: CollectDeps, request: CollectRequest): Promise<RunSummary> {
  const started = Date.now();
  const metrics = (deps.metrics ?? Metrics.forProcess()).use('collect');
  /** Runs by how they ended; a run refused (CONFLICT) or failing before it began counts by its code. */
  const ended = (status: string, hostsFailed?: number) => {
    metrics.counter('infralogs_collect_runs_total').inc({ status });
    metrics
      .histogram('infralogs_collect_run_duration_seconds')
      .observe({ status }, (Date.now() - started) / 1000);
    metrics.gauge('infralogs_collect_last_run_timestamp_seconds').set({ status }, Date.now() / 1000);
    if (hostsFailed !== undefined) metrics.gauge('infralogs_collect_hosts_failed').set({}, hostsFailed);
  };
  try {
    return await collectOnce(deps, request, started, ended);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'CONFLICT') ended('CONFLICT');
    throw err;
  }
}

async function collectOnce(
  deps: CollectDeps,
  request: CollectRequest,
  started: number,
  ended: (status: string, hostsFailed?: number) => void,
): Promise<RunSummary> {
  const budgetSpent = () => deps.maxDurationMs !== undefined && Date.now() - started >= deps.maxDurationMs;
  const pool = (await deps.getDatabase()).getPool();
  const hosts = selectHosts(await listHosts(pool, { enabledOnly: false }), request.hosts);
  const { runId } = await beginRun(pool, {
    trigger: request.trigger,
    hosts,
    staleAfterMs: deps.staleAfterMs,
  });
  const log = deps.log.child({ runId });
  log.info('collect.run_started', { trigger: request.trigger, hosts });

  let finished = false;
  try {
    const limit = pLimit(deps.concurrency);
    const results = await Promise.all(
      hosts.map((host) =>
        limit(async () => {
          let summary: HostResult;
          if (budgetSpent()) {
            summary = skippedHost(host);
            log.warn('collect.host_skipped', { host, maxDurationMs: deps.maxDurationMs });
          } else {
            log.info('collect.host_started', { host });
            summary = await deps
              .callFetchHost(host)
              .catch((err: unknown) =>
                failedHost(host, { code: 'INTERNAL', message: String((err as Error)?.message ?? err) }),
              );
            log.info('collect.host_finished', { ...summary });
          }
          await recordHostResult((await deps.getDatabase()).getPool(), runId, summary);
          return summary;
        }),
      ),
    );
    const status = runStatus(results);
    await finishRun((await deps.getDatabase()).getPool(), runId, { status });
    finished = true;
    const skipped = results.filter((h) => h.error?.code === SKIPPED).length;
    ended(status, results.filter((h) => h.error !== null && h.error.code !== SKIPPED).length);
    log.info('collect.run_finished', { status, hosts: results.length, skipped });
    return { runId, status, hosts: results };
  } finally {
    // A run left active would block every later run until it goes stale: close it as failed.
    if (!finished) {
      ended('failed');
      await finishRun((await deps.getDatabase()).getPool(), runId, { status: 'failed' }).catch(
        (err: unknown) => log.error('collect.run_close_failed', { error: err }),
      );
    }
  }
}
