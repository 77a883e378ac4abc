/**
 * The node22-ts wrapper: an Express 5 app that hosts one `Handler` behind of-watchdog (http mode),
 * modelled on openfaas/templates `template/node22/index.js`. Differences from upstream, on purpose:
 * - object, array, number and boolean results are sent as JSON with `Content-Type: application/json`
 *   (upstream stringifies them but leaves Express's `text/html`);
 * - failures are JSON `{ "error": { "code", "message" } }` built by `errorBody` (no stack traces);
 * - a body over the limit is a 413 JSON error, a malformed body a 400 JSON error.
 * - the server bounds what a client sends (core's http-guard: head and body timeouts
 *   HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS, a 16 KiB head, JSON errors for what Node's
 *   parser refuses), and a client whose credential was refused (401 to a request carrying
 *   `Authorization`) waits longer at each further try (core's FailureLimiter);
 * - a request without body bytes gives `event.body === undefined` whatever its type. The cron-connector
 *   POSTs with no body, which Go sends as `Content-Length: 0`; body-parser would make that '' (text)
 *   or {} (JSON), so handlers could not tell "no body" from an empty one.
 * Kept from upstream: a request without Content-Type is read as text/plain; `RAW_BODY=true` gives a Buffer;
 * `MAX_JSON_SIZE` / `MAX_RAW_SIZE` default to 100kb; `context.status/headers/succeed/fail`; a handler
 * that returns without calling succeed/fail answers with its return value (a Readable is streamed).
 *
 * The image runs the bundled `index.js` (see build.ts); the local gateway runs `main-local.ts` per
 * function. Both go through `createApp`, so a handler sees the same contract everywhere.
 */
import { createServer, type Server } from 'node:http';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import express, { type Application, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  answerClientErrors,
  beginShutdown,
  clientAddress,
  createLogger,
  env,
  errorBody,
  FailureLimiter,
  InfralogsError,
  loadConfig,
  Metrics,
  metricsConfigFromEnv,
  onShutdown,
  requestLimitsEnv,
  requestLimitsFrom,
  runShutdown,
  serverOptions,
  startMetricsServer,
  type FunctionContext,
  type FunctionEvent,
  type Handler,
  type Logger,
} from '@infralogs/core';
import { parseDuration } from './duration';
import { findHandlerFile } from './handler-file';
import { DRAIN_DEADLINE_MS, WATCHDOG_DEFAULTS, WRAPPER_PORT } from './watchdog';

/** body-parser's default, as upstream. */
export const DEFAULT_BODY_LIMIT = '100kb';

export interface AppOptions {
  handler: Handler;
  /** `RAW_BODY=true`: every body is a Buffer, capped by `maxRawSize`. */
  rawBody?: boolean;
  /** Limit for JSON, text and urlencoded bodies (`MAX_JSON_SIZE`), bytes or '4mb'-style. */
  maxJsonSize?: string | number;
  /** Limit for raw bodies (`MAX_RAW_SIZE`). */
  maxRawSize?: string | number;
  log?: Logger;
  /** Where requests are counted; default the process's registry (served on METRICS_PORT). */
  metrics?: Metrics;
  /** Slows down clients whose credentials were refused; default a new one. */
  limiter?: FailureLimiter;
}

const size = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb)?$/i, 'expected a size such as 100kb, 4mb or 1048576');

/** The wrapper's environment, as of-watchdog and stack.yml set it. */
export const wrapperConfigSchema = z.object({
  http_port: env.port(WRAPPER_PORT),
  /** The wrapper listens where of-watchdog's `upstream_url` points, never on the pod IP. */
  http_host: env.str('127.0.0.1'),
  RAW_BODY: env.bool(false),
  MAX_JSON_SIZE: size.default(DEFAULT_BODY_LIMIT),
  MAX_RAW_SIZE: size.default(DEFAULT_BODY_LIMIT),
  /** Handler file or function folder; only read when the handler is not bundled in (main-local). */
  HANDLER: z.string().min(1).optional(),
  /** Checked here too, so a function that logs but never reaches Vault still stops on a bad one. */
  LOG_LEVEL: env.logLevel(),
  ...requestLimitsEnv,
  /** of-watchdog's: how long it still accepts calls after SIGTERM; the wrapper serves them. */
  healthcheck_interval: z
    .string()
    .default(WATCHDOG_DEFAULTS.healthcheck_interval)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms >= DRAIN_DEADLINE_MS) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration under the drain deadline (${DRAIN_DEADLINE_MS} ms), such as 5s`,
        });
        return z.NEVER;
      }
      return ms;
    }),
});
export type WrapperConfig = z.infer<typeof wrapperConfigSchema>;

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

class Context implements FunctionContext {
  #status = 200;
  #headers: Record<string, string> = {};
  readonly #settle: (outcome: Outcome) => void;

  constructor(settle: (outcome: Outcome) => void) {
    this.#settle = settle;
  }

  status(code: number): FunctionContext;
  status(): number;
  status(code?: number): FunctionContext | number {
    if (code === undefined) return this.#status;
    this.#status = code;
    return this;
  }

  /** Replaces the whole header map, as upstream does. */
  headers(value: Record<string, string>): FunctionContext;
  headers(): Record<string, string>;
  headers(value?: Record<string, string>): FunctionContext | Record<string, string> {
    if (value === undefined) return this.#headers;
    this.#headers = value;
    return this;
  }

  succeed(value: unknown): void {
    this.#settle({ ok: true, value });
  }

  fail(value: unknown): void {
    this.#settle({ ok: false, error: value });
  }
}

function sendResult(res: Response, context: Context, value: unknown) {
  res.status(context.status()).set(context.headers());
  if (value === undefined || value === null) {
    res.end();
  } else if (value instanceof Readable) {
    // A stream (the dashboard's export) is piped as it is produced; a failure midway cuts the answer.
    value.on('error', () => res.destroy());
    value.pipe(res);
  } else if (typeof value === 'string' || value instanceof Uint8Array) {
    // Strings keep Express's default (text/html) unless the handler set a type, as upstream.
    res.send(value);
  } else {
    if (!res.get('Content-Type')) res.type('application/json');
    res.send(JSON.stringify(value));
  }
}

function sendError(res: Response, log: Logger, err: unknown, chosenStatus = 200) {
  const { status, body } = errorBody(err);
  // A failure status the handler chose before failing wins, as upstream's fail() keeps it.
  const final = chosenStatus >= 400 ? chosenStatus : status;
  if (final >= 500) log.error('handler.failed', { status: final, code: body.error.code, error: err });
  res.status(final).json(body);
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** A body limit (`100kb`, `16mb`, bytes) in bytes, as body-parser reads it. */
export function sizeBytes(limit: string | number): number {
  if (typeof limit === 'number') return limit;
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(limit.trim());
  if (!m) throw new InfralogsError('CONFIG_INVALID', `not a size: ${limit}`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

/** Body-parser failures become coded JSON errors. */
function bodyError(err: unknown, limits: { json: string | number; raw: string | number; rawBody: boolean }) {
  if (err instanceof InfralogsError) return err;
  const e = err as { type?: string; status?: number };
  if (e.type === 'entity.too.large') {
    const [name, limit] = limits.rawBody ? ['MAX_RAW_SIZE', limits.raw] : ['MAX_JSON_SIZE', limits.json];
    return new InfralogsError('PAYLOAD_TOO_LARGE', `request body is larger than ${name} (${limit})`);
  }
  if (e.type === 'entity.parse.failed') return new InfralogsError('BAD_REQUEST', 'request body is malformed');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new InfralogsError('BAD_REQUEST', `request body cannot be read (${e.type ?? 'invalid'})`);
  }
  return err;
}

export function createApp(options: AppOptions): Application {
  const { handler } = options;
  const log = options.log ?? createLogger({ component: 'node22-ts' });
  const limits = {
    json: options.maxJsonSize ?? DEFAULT_BODY_LIMIT,
    raw: options.maxRawSize ?? DEFAULT_BODY_LIMIT,
    rawBody: options.rawBody ?? false,
  };
  const app = express();
  app.disable('x-powered-by');
  countRequests(app, options.metrics ?? Metrics.forProcess());

  app.use((req: Request, _res: Response, next: NextFunction) => {
    // Without a content type body-parser skips the body; upstream reads it as text instead.
    if (!req.headers['content-type']) req.headers['content-type'] = 'text/plain';
    next();
  });
  // body-parser reads an oversized body to its end before it answers 413 (to keep the connection
  // usable). An announced length over the limit is answered at once instead, while the rest is
  // discarded as it comes (closing at once would reset a proxy still sending it, which then loses
  // the answer); the server's request timeout bounds how long that may take.
  const maxBytes = sizeBytes(limits.rawBody ? limits.raw : limits.json);
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const length = Number(req.headers['content-length']);
    if (!(length > maxBytes)) return next();
    req.resume();
    next(bodyError({ type: 'entity.too.large' }, limits));
  });
  if (limits.rawBody) {
    app.use(express.raw({ type: '*/*', limit: limits.raw }));
  } else {
    app.use(express.text({ type: 'text/*', limit: limits.json }));
    app.use(express.json({ limit: limits.json }));
    app.use(express.urlencoded({ extended: true, limit: limits.json }));
  }

  const limiter = options.limiter ?? new FailureLimiter();
  app.use(async (req: Request, res: Response) => {
    // Only a presented credential can be a guess; a request without one is simply refused.
    const keys = req.headers.authorization ? [clientAddress(req.headers, req.socket.remoteAddress)] : [];
    await limiter.wait(keys);
    res.once('finish', () => {
      if (res.statusCode === 401) limiter.failed(keys);
      else limiter.succeeded(keys);
    });
    const event: FunctionEvent = {
      body: req.headers['content-length'] === '0' ? undefined : req.body,
      headers: req.headers,
      method: req.method,
      query: req.query as Record<string, unknown>,
      path: req.path,
    };
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      try {
        if (outcome.ok) sendResult(res, context, outcome.value);
        else sendError(res, log, outcome.error, context.status());
      } catch (err) {
        // e.g. a result JSON.stringify cannot encode (BigInt, cycles).
        if (!res.headersSent) sendError(res, log, err);
        else res.destroy();
      }
    };
    const context = new Context(settle);
    try {
      const value = await handler(event, context);
      settle({ ok: true, value });
    } catch (err) {
      settle({ ok: false, error: err });
    }
  });

  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    sendError(res, log, bodyError(err, limits));
  });
  return app;
}

/**
 * HTTP requests by route and status code for every function. The route is the path the handler
 * answered; a 404 counts as `other`, so probing random paths cannot grow the label set.
 */
function countRequests(app: Application, metrics: Metrics) {
  const requests = metrics.counter('infralogs_http_requests_total');
  const duration = metrics.histogram('infralogs_http_request_duration_seconds');
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const route = res.statusCode === 404 ? 'other' : req.path;
      requests.inc({ route, code: res.statusCode });
      duration.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  });
}

/** Imports a handler module (`export default` a Handler) from a file or function folder. */
export async function loadHandler(path: string): Promise<Handler> {
  let file: string;
  try {
    file = findHandlerFile(path);
  } catch (cause) {
    throw new InfralogsError('CONFIG_INVALID', (cause as Error).message, { cause });
  }
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  if (typeof mod.default !== 'function') {
    throw new InfralogsError('CONFIG_INVALID', `${file} must export default a handler (event, context)`);
  }
  return mod.default as Handler;
}

/**
 * Starts the wrapper: reads and validates the environment, then loads the handler (a file named by
 * HANDLER, or the bundled one the image passes as a loader), so that settings the handler's module
 * validates when it is imported (lazyDatabase: DB_HOST, VAULT_ADDR, ...) stop the process at start,
 * before it listens; it then listens on `http_port`, and drains on SIGTERM (see `drainOnSigterm`).
 */
export async function main(
  handler?: Handler | { load: () => Promise<Handler> },
  environment: NodeJS.ProcessEnv = process.env,
): Promise<Server> {
  const config = loadConfig(wrapperConfigSchema, environment);
  const log = createLogger({ component: 'node22-ts' }, config.LOG_LEVEL ? { level: config.LOG_LEVEL } : {});
  const fn =
    handler === undefined
      ? await loadHandler(config.HANDLER ?? './function')
      : typeof handler === 'function'
        ? handler
        : await handler.load();
  const app = createApp({
    handler: fn,
    rawBody: config.RAW_BODY,
    maxJsonSize: config.MAX_JSON_SIZE,
    maxRawSize: config.MAX_RAW_SIZE,
    log,
  });
  const server = createServer(serverOptions(requestLimitsFrom(config)), app);
  answerClientErrors(server, log);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http_port, config.http_host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log.info('wrapper.listening', { host: config.http_host, port: config.http_port });
  const metricsAt = metricsConfigFromEnv(environment);
  if (metricsAt) {
    // Its own port: the watchdog only proxies to http_port, so the gateway never reaches this one.
    const metricsServer = await startMetricsServer(Metrics.forProcess(), metricsAt);
    onShutdown(() => metricsServer.close());
    log.info('wrapper.metrics_listening', { url: metricsServer.url });
  }
  process.once('SIGTERM', () => drainOnSigterm(server, config.healthcheck_interval, log));
  return server;
}

/**
 * The drain (timings in watchdog.ts): handlers are told at once (core `shutdownSignal`), calls are
 * still served while of-watchdog accepts them (`acceptMs`, its healthcheck_interval), then the
 * server stops listening, the calls in flight finish and the shutdown hooks revoke leased
 * credentials (and close the metrics listener). Whatever still runs at DRAIN_DEADLINE_MS is cut,
 * before the kubelet's SIGKILL.
 */
function drainOnSigterm(server: Server, acceptMs: number, log: Logger) {
  log.info('wrapper.draining', { acceptMs, deadlineMs: DRAIN_DEADLINE_MS });
  beginShutdown();
  setTimeout(() => {
    log.warn('wrapper.drain_deadline', { deadlineMs: DRAIN_DEADLINE_MS });
    process.exit(1);
  }, DRAIN_DEADLINE_MS).unref();
  setTimeout(() => {
    server.close(() => {
      void runShutdown().then((errors) => {
        for (const error of errors) log.warn('wrapper.shutdown_hook_failed', { error });
        log.info('wrapper.stopped');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  }, acceptMs);
}
