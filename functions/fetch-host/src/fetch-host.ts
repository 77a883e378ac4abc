import { setTimeout as sleep } from 'node:timers/promises';
import {
  InfralogsError,
  getCheckpoint,
  getHost,
  Metrics,
  type Database,
  type IngestResult,
  type Logger,
} from '@infralogs/core';
import type { Page, PageRequest } from './agent-client';
import { Batcher, type Batch, type BatchLimits } from './batches';
import { entryFromLine } from './entry-line';
import { ndjsonLines } from './ndjson';
import { retryDelay, withRetry, type RetryPolicy } from './retry';

export interface FetchHostDeps {
  getDatabase: () => Promise<Database>;
  readAgentToken: (host: string) => Promise<string>;
  openPage: (request: PageRequest) => Promise<Page>;
  ingest: (batch: Batch) => Promise<IngestResult>;
  pageLimit: number;
  batchLimits: BatchLimits;
  retry: RetryPolicy;
  /**
   * Stop starting new pages after this long, so the call answers before the function's
   * exec_timeout cuts it; the answer then says `more: true` and the next run goes on from the
   * checkpoint. Unlimited when absent.
   */
  maxDurationMs?: number;
  log: Logger;
  /** Default: the process's registry, served by the template's metrics port. */
  metrics?: Metrics;
}

/** What one fetch-host call did for its host; `error` is present when it stopped early. */
export interface FetchHostResult {
  host: string;
  /** Entries read from the agent. */
  fetched: number;
  inserted: number;
  duplicates: number;
  batches: number;
  /** The host's checkpoint after the last committed batch. */
  cursor: string | null;
  /** True when the call stopped at its time budget with entries possibly left to pull. */
  more?: true;
  error?: { code: string; message: string };
}

/**
 * Pulls one host's journal from its checkpoint on, page by page, and hands it to ingest in
 * order, one batch at a time. Only ingest moves the checkpoint (after its commit); this code
 * follows it. Whatever stops the pull, the batches already ingested stand: a broken stream is
 * resumed after the last ingested cursor (within the retry budget); an invalid line or an ingest
 * failure ends the call with `error`. An entry over the batch size goes alone in its batch; one over
 * the entry limit is stored with its message truncated, with a warning: no entry blocks its host.
 */
export function createFetchHost(deps: FetchHostDeps) {
  const metrics = (deps.metrics ?? Metrics.forProcess()).use('fetch-host');
  const count = {
    entries: metrics.counter('infralogs_fetch_entries_total'),
    batches: metrics.counter('infralogs_fetch_batches_total'),
    retries: metrics.counter('infralogs_fetch_retries_total'),
    pulls: metrics.counter('infralogs_fetch_pulls_total'),
    up: metrics.gauge('infralogs_fetch_host_up'),
    newest: metrics.gauge('infralogs_host_newest_entry_timestamp_seconds'),
    lag: metrics.gauge('infralogs_host_checkpoint_lag_seconds'),
  };
  return async function fetchHost(hostName: string): Promise<FetchHostResult> {
    const started = Date.now();
    const pool = (await deps.getDatabase()).getPool();
    const host = await getHost(pool, hostName);
    if (!host) throw new InfralogsError('NOT_FOUND', `unknown host "${hostName}"`);
    const log = deps.log.child({ host: hostName });
    const result: FetchHostResult = {
      host: hostName,
      fetched: 0,
      inserted: 0,
      duplicates: 0,
      batches: 0,
      cursor: await getCheckpoint(pool, hostName),
    };

    let ingestFailed = false;
    const send = async (batch: Batch) => {
      let answer: IngestResult;
      try {
        answer = await deps.ingest(batch);
      } catch (err) {
        ingestFailed = true;
        throw err;
      }
      result.batches += 1;
      count.batches.inc({ host: hostName });
      const newestUs = batch.entries.at(-1)!.realtimeUs;
      count.newest.set({ host: hostName }, newestUs / 1e6);
      count.lag.set({ host: hostName }, Math.max(0, Date.now() / 1000 - newestUs / 1e6));
      result.inserted += answer.inserted;
      result.duplicates += answer.duplicates;
      // ingest answers the checkpoint it committed; its batch's last cursor is the same place.
      result.cursor = answer.checkpoint ?? batch.entries.at(-1)!.cursor;
      log.debug('fetch_host.batch_ingested', {
        entries: batch.entries.length,
        bytes: batch.bytes,
        inserted: answer.inserted,
      });
    };

    /** One page; returns how many entries it held, or the error that broke its stream. */
    const pullPage = async (token: string): Promise<{ received: number; broken?: unknown }> => {
      const request = { agentUrl: host.agentUrl, token, after: result.cursor, limit: deps.pageLimit };
      const page = await withRetry(() => deps.openPage(request), deps.retry, {
        onRetry: (err, attempt, delayMs) => {
          count.retries.inc({ host: hostName, cause: retryCause(err) });
          log.warn('fetch_host.page_retry', { attempt, delayMs, error: err });
        },
      });
      const batcher = new Batcher(hostName, deps.batchLimits);
      let received = 0;
      try {
        const maxEntryBytes = deps.batchLimits.maxEntryBytes;
        for await (const line of ndjsonLines(page, maxEntryBytes)) {
          const { entry, truncated } = entryFromLine(line, result.fetched + 1, maxEntryBytes);
          if (truncated) log.warn('fetch_host.entry_truncated', { ...truncated, maxEntryBytes });
          received += 1;
          result.fetched += 1;
          count.entries.inc({ host: hostName });
          const full = batcher.add(entry);
          if (full) await send(full);
        }
      } catch (err) {
        page.destroy();
        if (ingestFailed) throw err;
        // Entries read whole before the failure are sound: ingest them so the checkpoint keeps up.
        const rest = batcher.flush();
        if (rest) await send(rest);
        if (err instanceof InfralogsError) throw err;
        return { received, broken: err };
      }
      const rest = batcher.flush();
      if (rest) await send(rest);
      return { received };
    };

    try {
      const token = await deps.readAgentToken(hostName);
      let breaks = 0;
      for (;;) {
        const { received, broken } = await pullPage(token);
        if (broken !== undefined) {
          breaks += 1;
          if (breaks > deps.retry.retries) throw broken;
          const delayMs = retryDelay(breaks, deps.retry);
          count.retries.inc({ host: hostName, cause: retryCause(broken) });
          log.warn('fetch_host.stream_resumed', { breaks, delayMs, error: broken });
          await sleep(delayMs);
          continue;
        }
        if (received < deps.pageLimit) break;
        if (deps.maxDurationMs !== undefined && Date.now() - started >= deps.maxDurationMs) {
          result.more = true;
          log.info('fetch_host.time_budget_spent', { ...result });
          break;
        }
      }
      log.info('fetch_host.host_fetched', { ...result });
    } catch (err) {
      result.error = describeError(err);
      log.error('fetch_host.host_stopped', { ...result });
    }
    count.pulls.inc({ host: hostName, status: result.error?.code ?? 'ok' });
    count.up.set({ host: hostName }, result.error ? 0 : 1);
    return result;
  };
}

/** The cause label of a retry: the network error's code (ECONNRESET…) or the catalogue's code. */
function retryCause(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'other';
}

/** The error part of a result: coded errors as they are, network errors by their code. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof InfralogsError) return { code: err.code, message: err.message };
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return { code: 'UPSTREAM_FAILED', message: `connection failed: ${code}` };
  }
  return { code: 'INTERNAL', message: 'internal error' };
}
