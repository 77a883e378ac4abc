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
/** Encoded lines that may wait for a slow client before journalctl is paused (memory stays bounded). */
const OUT_BUFFERED = 1024 * 1024;

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
  if (ctx.config.journalDir !== null) await assertJournalDir(ctx.config.journalDir);
  // A client gone while we checked would never see 'close' again: start nothing for it.
  if (res.destroyed) return;
  new LogStream(res, query, ctx, acceptsGzip(req)).start();
}

/** What the agent counts of the streams it serves. */
function servedMetrics(metrics: Metrics) {
  return {
    entries: metrics.counter('infralogs_agent_entries_served_total'),
    bytes: metrics.counter('infralogs_agent_bytes_served_total'),
    journalctlFailures: metrics.counter('infralogs_agent_journalctl_failures_total'),
    journalctlSeconds: metrics.histogram('infralogs_agent_journalctl_duration_seconds'),
  };
}

/**
 * One `/logs` response: a journalctl child, the encoder between its stdout and the socket, and
 * the state that decides how the response ends (done, client gone, failed) exactly once.
 */
class LogStream {
  private readonly log: Logger;
  private readonly started = Date.now();
  private readonly child: ChildProcess;
  private readonly encoder: NdjsonEncoder;
  private state: State = 'streaming';
  /** The body stream once headers are sent: `res`, or the gzip stream in front of it. */
  private out: Writable | null = null;
  private count = 0;
  private skipFirst: string | null;
  private problems = 0;
  private stderr = '';
  private grace: NodeJS.Timeout | undefined;
  private readonly served: ReturnType<typeof servedMetrics>;

  constructor(
    private readonly res: ServerResponse,
    private readonly query: LogsQuery,
    private readonly ctx: LogsContext,
    private readonly gzip: boolean,
  ) {
    this.log = ctx.log.child({ after: query.after, limit: query.limit });
    this.served = servedMetrics(ctx.metrics);
    this.skipFirst = query.after;
    this.child = spawnJournalctl(ctx.config, journalctlArgs(query, ctx.config.journalDir));
    ctx.children.add(this.child);
    this.encoder = new NdjsonEncoder({
      accept: (entry) => this.accept(entry),
      onInvalid: (p) => {
        if (++this.problems <= REPORTED_PROBLEMS) {
          this.log.warn('journal.invalid_line', {
            offset: p.offset,
            reason: p.reason,
            line: p.line.toString('utf8', 0, 200),
          });
        }
      },
      onUnmapped: (err) => {
        if (++this.problems <= REPORTED_PROBLEMS)
          this.log.warn('journal.entry_skipped', { code: err.code, reason: err.message });
      },
    });
  }

  /** Wires the child and the response; headers wait for the first entry or HEADER_GRACE_MS. */
  start(): void {
    const { child, res } = this;
    this.grace = setTimeout(() => {
      if (this.state === 'streaming') this.out ??= this.sendHeaders();
    }, HEADER_GRACE_MS);
    res.on('close', () => this.clientClosed());
    child.stderr!.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString('utf8')).slice(-2000);
    });
    child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    child.on('error', (err) => {
      this.served.journalctlFailures.inc();
      this.fail(
        new InfralogsError('JOURNAL_FAILED', `could not run ${this.ctx.config.journalctl}`, { cause: err }),
      );
    });
    child.on('close', (code, signal) => this.childClosed(code, signal));
  }

  /** The entries to send: at most `limit`, without the `after` entry itself. */
  private accept(entry: { cursorIs(cursor: string): boolean }): boolean {
    if (this.count >= this.query.limit) return false;
    if (this.skipFirst !== null) {
      const cursor = this.skipFirst;
      this.skipFirst = null;
      if (entry.cursorIs(cursor)) return false;
    }
    this.count++;
    return true;
  }

  private onData(chunk: Buffer): void {
    if (this.state !== 'streaming') return;
    try {
      this.encoder.push(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.count >= this.query.limit) return this.finish('limit');
    // Each chunk's lines are more than the socket's high-water mark, so write() says false for
    // nearly every one; pausing on that alone would make journalctl wait for the client at every
    // chunk. Up to OUT_BUFFERED bytes may wait in the socket while journalctl carries on.
    if (!this.flush() && this.out!.writableLength > OUT_BUFFERED) {
      this.child.stdout!.pause();
      this.out!.once('drain', () => this.child.stdout!.resume());
    }
  }

  private childClosed(code: number | null, signal: NodeJS.Signals | null): void {
    this.ctx.children.delete(this.child);
    this.served.journalctlSeconds.observe({}, (Date.now() - this.started) / 1000);
    if (this.state !== 'streaming') return;
    if (code === 0) {
      this.encoder.end();
      this.finish(this.count >= this.query.limit ? 'limit' : 'end');
      return;
    }
    this.served.journalctlFailures.inc();
    void journalFailure(this.ctx.config.journalDir, code, signal, this.stderr).then((err) => this.fail(err));
  }

  private clientClosed(): void {
    if (this.out !== null && this.out !== this.res) this.out.destroy(); // the gzip stream, if any
    if (this.state !== 'streaming') return;
    this.state = 'client-gone';
    this.served.entries.inc({}, this.count);
    clearTimeout(this.grace);
    stopJournalctl(this.child);
    this.log.info('logs.client_gone', { entries: this.count, ms: Date.now() - this.started });
  }

  private sendHeaders(): Writable {
    this.res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      vary: 'accept-encoding',
      'x-infralogs-limit': String(this.query.limit),
      ...(this.gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    if (!this.gzip) return this.res;
    const z = createGzip({ level: GZIP_LEVEL });
    z.on('error', (err) => this.fail(err));
    z.pipe(this.res);
    return z;
  }

  /** Writes the lines encoded so far; false when the client is not keeping up. */
  private flush(): boolean {
    const lines = this.encoder.take();
    if (lines === null) return true;
    this.served.bytes.inc({}, lines.length);
    this.out ??= this.sendHeaders();
    return this.out.write(lines);
  }

  private finish(reason: string): void {
    if (this.state !== 'streaming') return;
    this.state = 'done';
    clearTimeout(this.grace);
    this.flush();
    this.served.entries.inc({}, this.count);
    (this.out ?? this.sendHeaders()).end();
    stopJournalctl(this.child);
    this.log.info('logs.served', {
      entries: this.count,
      ms: Date.now() - this.started,
      reason,
      gzip: this.gzip,
      problems: this.problems,
    });
  }

  private fail(err: unknown): void {
    if (this.state !== 'streaming') return;
    this.state = 'failed';
    clearTimeout(this.grace);
    stopJournalctl(this.child);
    this.log.error('logs.failed', { error: err, entries: this.count, headersSent: this.out !== null });
    if (this.out === null) sendError(this.res, err);
    else this.res.destroy(); // the client must see an incomplete response, not a short one
  }
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
  // journalctl says "Permission denied" or "No journal files were opened due to insufficient
  // permissions" when the agent's user is not in the journal files' group (systemd-journal).
  if (/permission denied|insufficient permissions/i.test(stderr)) {
    return new InfralogsError(
      'JOURNAL_UNAVAILABLE',
      `the journal is not readable by the agent (uid ${process.getuid?.() ?? '?'}): run it with the ` +
        `journal files' group, systemd-journal (${said})`,
    );
  }
  if (/no such file or directory|failed to open/i.test(said)) {
    return new InfralogsError('JOURNAL_UNAVAILABLE', `the journal is not available: ${said}`);
  }
  const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
  return new InfralogsError('JOURNAL_FAILED', `journalctl ${how}${said ? `: ${said}` : ''}`);
}
