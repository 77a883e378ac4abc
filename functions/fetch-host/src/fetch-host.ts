import { setTimeout as sleep } from 'node:timers/promises';
import {
  InfralogsError,
  getCheckpoint,
  getHost,
  Metrics,
  retryDelay,
  withRetry,
  withStoreRetry,
  type Database,
  type Host,
  type HostResult,
  type IngestResult,
  type Logger,
  type RetryPolicy,
  type StoreCall,
} from '@infralogs/core';
import type { AgentTls, Page, PageRequest } from './agent-client';
import { Batcher, entryText, entryTexts, leadingPart, type Batch, type BatchLimits } from './batches';
import { entryFromLine, firstInvalid, parseEntryLine } from './entry-line';
import { ndjsonLines } from './ndjson';

export interface FetchHostDeps {
  getDatabase: () => Promise<Database>;
  readAgentToken: (host: string) => Promise<string>;
  /** The CA bundle trusted for every agent and the client certificate (secrets, read per call). */
  agentTls: () => Promise<AgentTls>;
  openPage: (request: PageRequest) => Promise<Page>;
  ingest: (batch: Batch) => Promise<IngestResult>;
  pageLimit: number;
  batchLimits: BatchLimits;
  retry: RetryPolicy;
  /** Opening a page (default `retry`): with a time window, an agent's restart is ridden out. */
  pageRetry?: RetryPolicy;
  /** Reading the host and its checkpoint: retried while the primary restarts (core 'transaction'). */
  storeRetry?: RetryPolicy;
  /**
   * Stop starting new pages after this long, so the call answers before the function's
   * exec_timeout cuts it; the answer then says `more: true` and the next run goes on from the
   * checkpoint. Unlimited when absent.
   */
  maxDurationMs?: number;
  /**
   * Aborted when the process drains (SIGTERM, core `shutdownSignal`): the page being read is cut,
   * the entries read whole go to ingest in one last batch, and the answer says `more: true`, so the
   * call hands back within the pod's grace and the next run goes on from the checkpoint.
   */
  shutdown?: AbortSignal;
  log: Logger;
  /** Default: the process's registry, served by the template's metrics port. */
  metrics?: Metrics;
}

/**
 * Pulls one host's journal from its checkpoint on, page by page, and hands it to ingest in
 * order, one batch at a time. Only ingest moves the checkpoint (after its commit); this code
 * follows it. Whatever stops the pull, the batches already ingested stand: a broken stream is
 * resumed after the checkpoint the last batch committed (within the retry budget); an invalid line or an ingest
 * failure ends the call with `error`. An entry over the batch size goes alone in its batch; one over
 * the entry limit is stored with its message truncated, with a warning: no entry blocks its host.
 *
 * The agent is reached over https:// and verified against the host's own CA bundle, else the one
 * fetch-host trusts for all agents; a plain http:// URL is refused (AGENT_INSECURE) unless the
 * host is marked insecure. A certificate that does not verify ends this host's call with its
 * coded error; other hosts' calls are separate and unaffected.
 */
export function createFetchHost(deps: FetchHostDeps) {
  const count = fetchMetrics((deps.metrics ?? Metrics.forProcess()).use('fetch-host'));
  return async function fetchHost(hostName: string): Promise<HostResult> {
    const read = <T>(call: StoreCall<T>) =>
      withStoreRetry(deps.getDatabase, call, deps.storeRetry ?? deps.retry);
    const host = await read((pool) => getHost(pool, hostName));
    if (!host) throw new InfralogsError('NOT_FOUND', `unknown host "${hostName}"`);
    const pull = new HostPull(deps, count, host, await read((pool) => getCheckpoint(pool, hostName)));
    try {
      assertTransportAllowed(host);
      const token = await deps.readAgentToken(hostName);
      const tls = await deps.agentTls();
      await pull.run({ ...tls, ca: host.agentCa ?? tls.ca }, token);
      pull.log.info('fetch_host.host_fetched', { ...pull.result });
    } catch (err) {
      pull.result.error = describeError(err);
      pull.log.error('fetch_host.host_stopped', { ...pull.result });
    }
    count.pulls.inc({ host: hostName, status: pull.result.error?.code ?? 'ok' });
    count.up.set({ host: hostName }, pull.result.error ? 0 : 1);
    return pull.result;
  };
}

/** What fetch-host counts of its pulls, by host. */
function fetchMetrics(metrics: Metrics) {
  return {
    entries: metrics.counter('infralogs_fetch_entries_total'),
    batches: metrics.counter('infralogs_fetch_batches_total'),
    retries: metrics.counter('infralogs_fetch_retries_total'),
    pulls: metrics.counter('infralogs_fetch_pulls_total'),
    up: metrics.gauge('infralogs_fetch_host_up'),
    newest: metrics.gauge('infralogs_host_newest_entry_timestamp_seconds'),
    lag: metrics.gauge('infralogs_host_checkpoint_lag_seconds'),
  };
}
type FetchMetrics = ReturnType<typeof fetchMetrics>;

/** Plain HTTP carries the bearer token and every line in clear: only for hosts marked insecure. */
function assertTransportAllowed(host: Host): void {
  const protocol = new URL(host.agentUrl).protocol;
  if (protocol === 'https:' || (protocol === 'http:' && host.insecure)) return;
  throw new InfralogsError(
    'AGENT_INSECURE',
    protocol === 'http:'
      ? `the agent URL of "${host.name}" is plain http://; use https:// or mark the host insecure`
      : `the agent URL of "${host.name}" must be https:// (or http:// for a host marked insecure)`,
  );
}

/** One call's pull of one host: its result so far, and the steps that advance it. */
class HostPull {
  readonly result: HostResult;
  readonly log: Logger;
  private readonly started = Date.now();
  /** Set when a batch was not stored (ingest failed, or it held an invalid line): nothing more is sent. */
  private stopped = false;
  /** The position of the invalid line that stopped the call: what was read after it is not counted. */
  private invalidAt: number | null = null;

  constructor(
    private readonly deps: FetchHostDeps,
    private readonly count: FetchMetrics,
    private readonly host: Host,
    checkpoint: string | null,
  ) {
    this.log = deps.log.child({ host: host.name });
    this.result = {
      host: host.name,
      fetched: 0,
      inserted: 0,
      duplicates: 0,
      batches: 0,
      checkpoint,
      error: null,
    };
  }

  /** Pages until the journal is drained, the time budget is spent, or a failure ends the call. */
  async run(tls: AgentTls, token: string): Promise<void> {
    const { deps } = this;
    let breaks = 0;
    for (;;) {
      const { received, broken } = await this.pullPage(tls, token);
      if (deps.shutdown?.aborted) {
        this.result.more = true;
        this.log.warn('fetch_host.handed_back', { ...this.result });
        return;
      }
      if (broken !== undefined) {
        breaks += 1;
        if (breaks > deps.retry.retries) throw broken;
        const delayMs = retryDelay(breaks, deps.retry);
        this.count.retries.inc({ host: this.host.name, cause: retryCause(broken) });
        this.log.warn('fetch_host.stream_resumed', { breaks, delayMs, error: broken });
        await sleep(delayMs);
        continue;
      }
      if (received < deps.pageLimit) return;
      if (deps.maxDurationMs !== undefined && Date.now() - this.started >= deps.maxDurationMs) {
        this.result.more = true;
        this.log.info('fetch_host.time_budget_spent', { ...this.result });
        return;
      }
    }
  }

  /**
   * One page; returns how many entries it held, or the error that broke its stream. The next
   * batch is read while the one before it is with ingest (so the agent's stream and ingest's
   * transaction overlap), and sent only once that one is stored: batches commit in order, and at
   * most two are held.
   */
  private async pullPage(tls: AgentTls, token: string): Promise<{ received: number; broken?: unknown }> {
    const { deps, result } = this;
    const request = {
      agentUrl: this.host.agentUrl,
      token,
      after: result.checkpoint,
      limit: deps.pageLimit,
      tls,
    };
    const page = await withRetry(() => deps.openPage(request), deps.pageRetry ?? deps.retry, {
      onRetry: (err, attempt, delayMs) => {
        this.count.retries.inc({ host: this.host.name, cause: retryCause(err) });
        this.log.warn('fetch_host.page_retry', { attempt, delayMs, error: err });
      },
    });
    const batcher = new Batcher(this.host.name, deps.batchLimits);
    let received = 0;
    let sending: Promise<void> = Promise.resolve();
    const submit = async (batch: Batch) => {
      await sending;
      sending = this.send(batch, batcher);
      // Awaited before the next batch or the page's end; until then its failure is only held.
      sending.catch(() => {});
    };
    // Draining: cut the page; the entries read whole still go to ingest below.
    const cut = () => page.destroy();
    deps.shutdown?.addEventListener('abort', cut, { once: true });
    try {
      const maxEntryBytes = deps.batchLimits.maxEntryBytes;
      for await (const line of ndjsonLines(page, maxEntryBytes)) {
        const position = result.fetched + 1;
        const { json, truncated } = entryFromLine(line, position, maxEntryBytes);
        if (truncated) this.log.warn('fetch_host.entry_truncated', { ...truncated, maxEntryBytes });
        const full = batcher.add(json, position);
        received += 1;
        result.fetched += 1;
        if (full) await submit(full);
        if (this.stopped || deps.shutdown?.aborted) break;
      }
      await sending;
    } catch (err) {
      page.destroy();
      // The batch with ingest first: if it failed, that failure is what ends the call.
      await sending;
      if (this.stopped) throw err;
      // Entries read whole before the failure are sound: ingest them so the checkpoint keeps up.
      const rest = batcher.flush();
      if (rest) await this.send(rest, batcher);
      if (err instanceof InfralogsError) throw err;
      return { received, broken: err };
    } finally {
      deps.shutdown?.removeEventListener('abort', cut);
      if (this.invalidAt !== null) {
        received -= result.fetched - (this.invalidAt - 1);
        result.fetched = this.invalidAt - 1;
      }
      // Once a page, not once an entry: a labelled inc() costs as much as parsing the line.
      this.count.entries.inc({ host: this.host.name }, received);
    }
    const rest = batcher.flush();
    if (rest) await this.send(rest, batcher);
    return { received };
  }

  /**
   * Hands one batch to ingest. The lines were not parsed when read: the last one is parsed here
   * (its cursor and time), and when the batch is refused its lines are checked. An invalid line
   * from the agent ends the call with UPSTREAM_FAILED naming it, after the entries before it are
   * stored, as if it had been found when read; any other failure ends it as it is.
   */
  private async send(batch: Batch, batcher: Batcher): Promise<void> {
    try {
      await this.store(batch);
      batcher.recycle(batch);
    } catch (err) {
      this.stopped = true;
      const invalid = firstInvalid(entryTexts(batch), batch.first);
      if (invalid === null) throw err;
      this.invalidAt = batch.first + invalid.index;
      if (invalid.index > 0) await this.store(leadingPart(batch, invalid.index));
      throw invalid.error;
    }
  }

  /** ingest's commit of a batch, and the checkpoint it moved to. */
  private async store(batch: Batch): Promise<void> {
    const lastAt = batch.starts.length - 1;
    const last = parseEntryLine(entryText(batch, lastAt), batch.first + lastAt).entry;
    const answer = await this.deps.ingest(batch);
    const { result } = this;
    result.batches += 1;
    const labels = { host: this.host.name };
    this.count.batches.inc(labels);
    this.count.newest.set(labels, last.realtimeUs / 1e6);
    this.count.lag.set(labels, Math.max(0, Date.now() / 1000 - last.realtimeUs / 1e6));
    result.inserted += answer.inserted;
    result.duplicates += answer.duplicates;
    // ingest answers the checkpoint it committed; its batch's last cursor is the same place.
    result.checkpoint = answer.checkpoint ?? last.cursor;
    this.log.debug('fetch_host.batch_ingested', {
      entries: batch.starts.length,
      bytes: batch.body.length,
      inserted: answer.inserted,
    });
  }
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
