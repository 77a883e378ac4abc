import pLimit from 'p-limit';
import {
  beginRun,
  finishRun,
  handBackRun,
  InfralogsError,
  listHosts,
  Metrics,
  recordHostResult,
  renewRunLock,
  withStoreRetry,
  type Database,
  type HostResult,
  type Logger,
  type RetryPolicy,
  type StoreCall,
  type RunSummary,
} from '@infralogs/core';
import { selectHosts, type CollectRequest } from './request';
import { SKIPPED, failedHost, runStatus, skippedHost } from './summary';

export interface CollectDeps {
  getDatabase: () => Promise<Database>;
  /** One host through fetch-host; never throws (every outcome is a result). */
  callFetchHost: (host: string) => Promise<HostResult>;
  concurrency: number;
  /** The run lock's lifetime; renewed every third of it while the run goes on (core runs.ts). */
  lockMs: number;
  /**
   * For the run's own records (a host's result, closing the run): each is one transaction, safe
   * to repeat, retried while the primary restarts or fails over (core's 'transaction' safety).
   */
  storeRetry: RetryPolicy;
  /**
   * No host is started once the run is this old, so the run answers (and its summary is
   * recorded) before collect's exec_timeout cuts it; the hosts not started are SKIPPED and the
   * next run takes them. Unlimited when absent.
   */
  maxDurationMs?: number;
  /**
   * Aborted when the process drains (a deploy's SIGTERM, core `shutdownSignal`): no host is started
   * any more, the hosts in flight get `drainMs` to answer (fetch-host hands back after its current
   * batch), then the run is handed back and the call answers 503 SHUTTING_DOWN. The next run marks
   * it aborted and pulls every host from its checkpoint.
   */
  shutdown?: AbortSignal;
  drainMs?: number;
  log: Logger;
  /** Default: the process's registry, served by the template's metrics port. */
  metrics?: Metrics;
}

/** Resolves `ms` after `signal` aborts; never when there is no signal. */
function drainElapsed(signal: AbortSignal | undefined, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    const start = () => setTimeout(resolve, ms).unref();
    if (signal.aborted) start();
    else signal.addEventListener('abort', start, { once: true });
  });
}

/**
 * One collection run: picks the hosts, opens the run (CONFLICT while another is active: the
 * cron-connector fires overlapping runs), pulls every host through fetch-host with bounded
 * concurrency until the time budget is spent, records each host's summary as it finishes (or is
 * skipped) and closes the run with its status. One host failing never stops the others.
 */
export async function runCollection(deps: CollectDeps, request: CollectRequest): Promise<RunSummary> {
  const started = Date.now();
  if (deps.shutdown?.aborted)
    throw new InfralogsError('SHUTTING_DOWN', 'collect is shutting down; call again');
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
  const stopping = () => deps.shutdown?.aborted === true;
  const budgetSpent = () => deps.maxDurationMs !== undefined && Date.now() - started >= deps.maxDurationMs;
  const pool = (await deps.getDatabase()).getPool();
  const hosts = selectHosts(await listHosts(pool, { enabledOnly: false }), request.hosts);
  const { runId, aborted } = await beginRun(pool, {
    trigger: request.trigger,
    hosts,
    lockMs: deps.lockMs,
  });
  const log = deps.log.child({ runId });
  if (aborted.length > 0) log.warn('collect.runs_aborted', { aborted });
  log.info('collect.run_started', { trigger: request.trigger, hosts });
  /** One of the run's own store calls, retried through a primary restart. */
  const store = <T>(what: string, call: StoreCall<T>) =>
    withStoreRetry(deps.getDatabase, call, deps.storeRetry, (err, attempt, delayMs) =>
      log.warn('collect.store_retry', { what, attempt, delayMs, error: err }),
    );
  // While this process is alive the run keeps its lock; if it dies (or cannot close the run), the
  // lock expires within lockMs and the next call takes over.
  const heartbeat = setInterval(
    () => {
      // The pool is asked for anew: a credential rotation closes the one the run began with.
      deps
        .getDatabase()
        .then((db) => renewRunLock(db.getPool(), runId))
        .then(
          (held) => held || log.warn('collect.run_lock_lost', {}),
          (err: unknown) => log.warn('collect.run_lock_renew_failed', { error: err }),
        );
    },
    Math.max(500, Math.floor(deps.lockMs / 3)),
  );
  heartbeat.unref();

  let finished = false;
  try {
    const limit = pLimit(deps.concurrency);
    const all = Promise.all(
      hosts.map((host) =>
        limit(async (): Promise<HostResult | null> => {
          // Draining: the host stays pending in this run; the next run takes it.
          if (stopping()) return null;
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
          await store('record_host', (p) => recordHostResult(p, runId, summary));
          return summary;
        }),
      ),
    );
    const outcome = await Promise.race([all, drainElapsed(deps.shutdown, deps.drainMs ?? 0)]);
    // A run the drain caught is handed back even if every host answered: those in flight stopped
    // early (fetch-host's `more`), and the next run closes this one and pulls the rest.
    if (outcome === undefined || stopping()) {
      await store('hand_back', (p) => handBackRun(p, runId));
      finished = true;
      const done = (outcome ?? []).filter((h) => h !== null).length;
      log.warn('collect.run_handed_back', { hosts: hosts.length, done });
      throw new InfralogsError(
        'SHUTTING_DOWN',
        `collect is shutting down: run ${runId} was handed back; the next run resumes from the checkpoints`,
        { details: { runId } },
      );
    }
    const results = outcome.filter((h): h is HostResult => h !== null);
    const status = runStatus(results);
    await store('finish', (p) => finishRun(p, runId, { status }));
    finished = true;
    const skipped = results.filter((h) => h.error?.code === SKIPPED).length;
    ended(status, results.filter((h) => h.error !== null && h.error.code !== SKIPPED).length);
    log.info('collect.run_finished', { status, hosts: results.length, skipped });
    return { runId, status, hosts: results };
  } catch (err) {
    // Close the run as failed, saying why; if even that cannot reach the primary, the lock stops
    // being renewed and the next call aborts the run within one lock period.
    if (!finished) {
      ended('failed');
      const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
      const reason = `collect failed: ${typeof code === 'string' ? `${code} ` : ''}${String(message ?? err)}`;
      await store('finish', (p) => finishRun(p, runId, { status: 'failed', reason })).catch(
        (closeErr: unknown) => log.error('collect.run_close_failed', { error: closeErr }),
      );
    }
    throw err;
  } finally {
    clearInterval(heartbeat);
  }
}
