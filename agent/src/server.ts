import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import {
  answerClientErrors,
  FailureLimiter,
  InfralogsError,
  serverOptions,
  type Logger,
  type Metrics,
} from '@infralogs/core';
import type { AgentConfig } from './config';
import { sendError, sendJson } from './http';
import { serveLogs } from './logs';
import { parseLogsQuery } from './query';
import type { TokenFile } from './tokens';

/**
 * The agent's HTTP(S) edge: `GET /healthz` (no token) and `GET /logs` (bearer token). Every failure
 * is answered as a JSON error; nothing a request does can stop the agent serving the next one.
 */
export interface AgentServerDeps {
  config: AgentConfig;
  tokens: TokenFile;
  log: Logger;
  children: Set<ChildProcess>;
  metrics: Metrics;
  /** Slows down clients that present wrong tokens; default a new one. */
  limiter?: FailureLimiter;
}

const ROUTES = new Set(['/healthz', '/logs']);

export type AgentServer = ReturnType<typeof createServer> | ReturnType<typeof createHttpsServer>;

/**
 * HTTP, or HTTPS when TLS options are given. With `clientCa` in the options' `ca`, a client must
 * present a certificate that chains to it: the handshake fails otherwise, before any request.
 */
export function createAgentServer(
  deps: AgentServerDeps,
  tls: (SecureContextOptions & { requireClientCert: boolean }) | null = null,
): AgentServer {
  const streams = { active: 0 };
  const limiter = deps.limiter ?? new FailureLimiter();
  const requests = deps.metrics.counter('infralogs_http_requests_total');
  const duration = deps.metrics.histogram('infralogs_http_request_duration_seconds');
  const listener: RequestListener = (req, res) => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const route = ROUTES.has(path) ? path : 'other';
      requests.inc({ route, code: res.statusCode });
      duration.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    handle(req, res, deps, streams, limiter).catch((err: unknown) => {
      const path = req.url?.split('?')[0];
      if (res.headersSent) res.destroy();
      else if (sendError(res, err) < 500) deps.log.warn('request.rejected', { path, error: err });
      else deps.log.error('request.failed', { path, error: err });
    });
  };
  let server: AgentServer;
  // Only the request is timed (a head, no body): the answer, a stream, can run long.
  const limits = serverOptions(deps.config.requestLimits);
  if (tls === null) server = createServer(limits, listener);
  else {
    const { requireClientCert, ...context } = tls;
    server = createHttpsServer(
      { ...limits, ...context, requestCert: requireClientCert, rejectUnauthorized: requireClientCert },
      listener,
    );
    server.on('tlsClientError', (err) =>
      deps.log.warn('tls.handshake_failed', { code: (err as { code?: string }).code, reason: err.message }),
    );
  }
  answerClientErrors(server, deps.log);
  return server;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AgentServerDeps,
  streams: { active: number },
  limiter: FailureLimiter,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /healthz') return healthz(res, deps.config);
  if (route !== 'GET /logs') {
    throw new InfralogsError('NOT_FOUND', `no route for ${req.method} ${url.pathname.slice(0, 100)}`);
  }
  // fetch-host reaches the agent directly: the peer address is the client.
  const client = [req.socket.remoteAddress ?? 'unknown'];
  if (req.headers.authorization) await limiter.wait(client);
  if (!(await deps.tokens.accepts(req.headers.authorization))) {
    if (req.headers.authorization) limiter.failed(client);
    const reason = req.headers.authorization ? 'the bearer token is not valid' : 'a bearer token is required';
    deps.log.warn('logs.unauthorized', { remote: req.socket.remoteAddress, reason });
    deps.metrics.counter('infralogs_agent_auth_failures_total').inc();
    sendError(res, new InfralogsError('UNAUTHORIZED', reason), {
      'www-authenticate': 'Bearer realm="infralogs"',
    });
    return;
  }
  limiter.succeeded(client);
  const query = parseLogsQuery(url.searchParams, deps.config);
  // Each stream is a journalctl process: bound them so a burst of clients cannot exhaust the VM.
  if (streams.active >= deps.config.maxStreams) {
    deps.log.warn('logs.busy', { remote: req.socket.remoteAddress, active: streams.active });
    deps.metrics.counter('infralogs_agent_streams_refused_total').inc();
    sendError(
      res,
      new InfralogsError('TOO_MANY_REQUESTS', `the agent is serving ${streams.active} streams already`),
      { 'retry-after': String(deps.config.busyRetryAfterS) },
    );
    return;
  }
  // Counted until the response is over (serveLogs returns once the stream is set up).
  const open = deps.metrics.gauge('infralogs_agent_streams_open');
  streams.active += 1;
  open.inc();
  res.once('close', () => {
    streams.active -= 1;
    open.dec();
  });
  await serveLogs(req, res, query, {
    config: deps.config,
    log: deps.log,
    children: deps.children,
    metrics: deps.metrics,
  });
}

/** Up, and the journal directory (when one is configured) is there. */
async function healthz(res: ServerResponse, config: AgentConfig): Promise<void> {
  if (config.journalDir !== null) {
    const s = await stat(config.journalDir).catch(() => null);
    if (s === null || !s.isDirectory()) {
      throw new InfralogsError(
        'JOURNAL_UNAVAILABLE',
        `journal directory ${config.journalDir} is not available`,
      );
    }
  }
  sendJson(res, 200, { status: 'ok' });
}
