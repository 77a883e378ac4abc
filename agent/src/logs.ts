import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { createGzip, constants as zlib } from 'node:zlib';
import { InfralogsError, NdjsonEncoder, type Logger, type Metrics } from '@infralogs/core';
import type { AgentConfig } from './config';
import { acceptsGzip, sendError } from './http';
import { journalctlArgs, spawnJournalctl, stopJournalctl } from './journalctl';
import type { LogsQuery } from './query';

/**
 * `GET /logs`: runs `journalctl -o export` and turns its stream into NDJSON with the core's
 * NdjsonEncoder (one Entry JSON per line, straight from the bytes), gzip-compressed when asked.
 *
 * Delivery: entries come in journal order, strictly after `after`, at most `limit` of them.
 * Headers wait for the first entry (or HEADER_GRACE_MS), so a journal that cannot be read is
 * answered with a JSON error; a failure after that aborts the connection, so a client can never
 * take a cut-short stream for a complete one. A response that ends normally is complete.
 *
 * Memory stays flat: when the socket (or gzip) does not keep up, journalctl's stdout is paused
 * and the pipe fills, which blocks journalctl. A client that goes away kills its journalctl.
 */
const HEADER_GRACE_MS = 500;
/** Cheap on the VM's CPU and still a good ratio for log text. */
const GZIP_LEVEL = zlib.Z_BEST_SPEED;
const REPORTED_PROBLEMS = 5;

export interface LogsContext {
  config: AgentConfig;
  log: Logger;
  /** Running journalctl children, so that closing the agent stops them. */
  children: Set<ChildProcess>;
  metrics: Metrics;
}

type State = 'streaming' | 'done' | 'client-gone' | 'failed';

export async function serveLogs(
  req: IncomingMessage,
  res: ServerResponse,
  query: LogsQuery,
  ctx: LogsContext,
): Promise<void> {
  const { config } = ctx;
  const log = ctx.log.child({ after: query.after, limit: query.limit });
  if (config.journalDir !== null) await assertJournalDir(config.journalDir);
  // A client gone while we checked would never see 'close' again: start nothing for it.
  if (res.destroyed) return;

  const started = Date.now();
  const served = {
    entries: ctx.metrics.counter('infralogs_agent_entries_served_total'),
    bytes: ctx.metrics.counter('infralogs_agent_bytes_served_total'),
    journalctlFailures: ctx.metrics.counter('infralogs_agent_journalctl_failures_total'),
    journalctlSeconds: ctx.metrics.histogram('infralogs_agent_journalctl_duration_seconds'),
  };
  const child = spawnJournalctl(config, journalctlArgs(query, config.journalDir));
  ctx.children.add(child);
  const gzip = acceptsGzip(req);
  let state: State = 'streaming';
  let out: Writable | null = null;
  let count = 0;
  let skipFirst = query.after;
  let problems = 0;
  let stderr = '';

  const encoder = new NdjsonEncoder({
    accept: (entry) => {
      if (count >= query.limit) return false;
      if (skipFirst !== null) {
        const cursor = skipFirst;
        skipFirst = null;
        if (entry.cursorIs(cursor)) return false;
      }
      count++;
      return true;
    },
    onInvalid: (p) => {
      if (++problems <= REPORTED_PROBLEMS) {
        log.warn('journal.invalid_line', {
          offset: p.offset,
          reason: p.reason,
          line: p.line.toString('utf8', 0, 200),
        });
      }
    },
    onUnmapped: (err) => {
      if (++problems <= REPORTED_PROBLEMS)
        log.warn('journal.entry_skipped', { code: err.code, reason: err.message });
    },
  });

  const sendHeaders = () => {
    res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      vary: 'accept-encoding',
      'x-infralogs-limit': String(query.limit),
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    if (!gzip) return res;
    const z = createGzip({ level: GZIP_LEVEL });
    z.on('error', (err) => fail(err));
    z.pipe(res);
    return z;
  };
  /** Writes the lines encoded so far; false when the client is not keeping up. */
  const flush = (): boolean => {
    const lines = encoder.take();
    if (lines === null) return true;
    served.bytes.inc({}, lines.length);
    out ??= sendHeaders();
    return out.write(lines);
  };
  const finish = (reason: string) => {
    if (state !== 'streaming') return;
    state = 'done';
    clearTimeout(grace);
    flush();
    served.entries.inc({}, count);
    (out ?? sendHeaders()).end();
    stopJournalctl(child);
    log.info('logs.served', { entries: count, ms: Date.now() - started, reason, gzip, problems });
  };
  const fail = (err: unknown) => {
    if (state !== 'streaming') return;
    state = 'failed';
    clearTimeout(grace);
    stopJournalctl(child);
    log.error('logs.failed', { error: err, entries: count, headersSent: out !== null });
    if (out === null) sendError(res, err);
    else res.destroy(); // the client must see an incomplete response, not a short one
  };

  const grace = setTimeout(() => {
    if (state === 'streaming') out ??= sendHeaders();
  }, HEADER_GRACE_MS);

  res.on('close', () => {
    if (out !== null && out !== res) out.destroy(); // the gzip stream, if any
    if (state !== 'streaming') return;
    state = 'client-gone';
    served.entries.inc({}, count);
    clearTimeout(grace);
    stopJournalctl(child);
    log.info('logs.client_gone', { entries: count, ms: Date.now() - started });
  });

  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-2000);
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    if (state !== 'streaming') return;
    try {
      encoder.push(chunk);
    } catch (err) {
      fail(err);
      return;
    }
    if (count >= query.limit) return finish('limit');
    if (!flush()) {
      child.stdout!.pause();
      out!.once('drain', () => child.stdout!.resume());
    }
  });
  child.on('error', (err) => {
    served.journalctlFailures.inc();
    fail(new InfralogsError('JOURNAL_FAILED', `could not run ${config.journalctl}`, { cause: err }));
  });
  child.on('close', (code, signal) => {
    ctx.children.delete(child);
    served.journalctlSeconds.observe({}, (Date.now() - started) / 1000);
    if (state !== 'streaming') return;
    if (code === 0) {
      encoder.end();
      finish(count >= query.limit ? 'limit' : 'end');
      return;
    }
    served.journalctlFailures.inc();
    void journalFailure(config.journalDir, code, signal, stderr).then(fail);
  });
}

/** A journal directory that is missing or not a directory is JOURNAL_UNAVAILABLE (503). */
async function assertJournalDir(dir: string): Promise<void> {
  const s = await stat(dir).catch(() => null);
  if (s === null || !s.isDirectory()) {
    throw new InfralogsError('JOURNAL_UNAVAILABLE', `journal directory ${dir} is not available`);
  }
}

async function journalFailure(
  dir: string | null,
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): Promise<InfralogsError> {
  const said = stderr.trim().split('\n').pop()?.slice(0, 300) ?? '';
  if (dir !== null) {
    const error = await assertJournalDir(dir).catch((err: InfralogsError) => err);
    if (error) return error;
  }
  if (/no such file or directory|failed to open/i.test(said)) {
    return new InfralogsError('JOURNAL_UNAVAILABLE', `the journal is not available: ${said}`);
  }
  const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
  return new InfralogsError('JOURNAL_FAILED', `journalctl ${how}${said ? `: ${said}` : ''}`);
}
