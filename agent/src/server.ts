import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { InfralogsError, type Logger } from '@infralogs/core';
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
}

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
  const listener: RequestListener = (req, res) => {
    handle(req, res, deps, streams).catch((err: unknown) => {
      const path = req.url?.split('?')[0];
      if (res.headersSent) res.destroy();
      else if (sendError(res, err) < 500) deps.log.warn('request.rejected', { path, error: err });
      else deps.log.error('request.failed', { path, error: err });
    });
  };
  let server: AgentServer;
  if (tls === null) server = createServer(listener);
  else {
    const { requireClientCert, ...context } = tls;
    server = createHttpsServer(
      { ...context, requestCert: requireClientCert, rejectUnauthorized: requireClientCert },
      listener,
    );
    server.on('tlsClientError', (err) =>
      deps.log.warn('tls.handshake_failed', { code: (err as { code?: string }).code, reason: err.message }),
    );
  }
  // Streams can run long; only the request head is timed.
  server.requestTimeout = 30_000;
  return server;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AgentServerDeps,
  streams: { active: number },
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /healthz') return healthz(res, deps.config);
  if (route !== 'GET /logs') {
    throw new InfralogsError('NOT_FOUND', `no route for ${req.method} ${url.pathname.slice(0, 100)}`);
  }
  if (!(await deps.tokens.accepts(req.headers.authorization))) {
    const reason = req.headers.authorization ? 'the bearer token is not valid' : 'a bearer token is required';
    deps.log.warn('logs.unauthorized', { remote: req.socket.remoteAddress, reason });
    sendError(res, new InfralogsError('UNAUTHORIZED', reason), {
      'www-authenticate': 'Bearer realm="infralogs"',
    });
    return;
  }
  const query = parseLogsQuery(url.searchParams, deps.config);
  // Each stream is a journalctl process: bound them so a burst of clients cannot exhaust the VM.
  if (streams.active >= deps.config.maxStreams) {
    deps.log.warn('logs.busy', { remote: req.socket.remoteAddress, active: streams.active });
    sendError(
      res,
      new InfralogsError('TOO_MANY_REQUESTS', `the agent is serving ${streams.active} streams already`),
      { 'retry-after': '5' },
    );
    return;
  }
  // Counted until the response is over (serveLogs returns once the stream is set up).
  streams.active += 1;
  res.once('close', () => {
    streams.active -= 1;
  });
  await serveLogs(req, res, query, { config: deps.config, log: deps.log, children: deps.children });
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
