import type { Server as HttpServer, IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { env } from './config';
import { errorBody, InfralogsError, type ErrorCode } from './errors';
import type { Logger } from './log';

/**
 * What every Infralogs HTTP server (the agent, the function wrapper, the local gateway) bounds in
 * what a client sends, so a slow, truncated or malformed request costs a timer and a few KiB, never
 * a connection held open or an answer that is not JSON:
 * - the request head must arrive within `headersTimeoutMs`, the whole request (body included;
 *   not the answer, which may stream for long) within `requestTimeoutMs`; Node checks both every
 *   `checkIntervalMs` (its default, 30 s, would let a slow client linger that long past them);
 * - a head over MAX_HEADER_BYTES is refused (Node's default 16 KiB, said outright); a request
 *   without `Host` is left to the routes (Node would answer it with a bare 400);
 * - whatever Node's parser refuses (a bad header, a truncated chunk, a timeout) is answered
 *   `{ "error": { "code", "message" } }` with 400, 408 or 431 before the socket is closed, where
 *   Node alone would write a bare status line.
 */
export interface RequestLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  checkIntervalMs: number;
}

export const MAX_HEADER_BYTES = 16 * 1024;

export const REQUEST_LIMITS: RequestLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  checkIntervalMs: 1000,
};

/** HTTP_HEADERS_TIMEOUT_MS and HTTP_REQUEST_TIMEOUT_MS, for the schemas of components that read them. */
export const requestLimitsEnv = {
  HTTP_HEADERS_TIMEOUT_MS: env.int(REQUEST_LIMITS.headersTimeoutMs, 1),
  HTTP_REQUEST_TIMEOUT_MS: env.int(REQUEST_LIMITS.requestTimeoutMs, 1),
};

export function requestLimitsFrom(config: {
  HTTP_HEADERS_TIMEOUT_MS: number;
  HTTP_REQUEST_TIMEOUT_MS: number;
}): RequestLimits {
  return {
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    checkIntervalMs: REQUEST_LIMITS.checkIntervalMs,
  };
}

/** Options for `http.createServer` / `https.createServer`. */
export function serverOptions(limits: RequestLimits = REQUEST_LIMITS): ServerOptions {
  // Node requires headersTimeout <= requestTimeout; a check interval above either would stretch them.
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    headersTimeout,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(1, Math.min(limits.checkIntervalMs, headersTimeout)),
    maxHeaderSize: MAX_HEADER_BYTES,
    // Node answers an HTTP/1.1 request without Host with a bare 400; the routes answer it in JSON.
    requireHostHeader: false,
  };
}

const PARSER_ERRORS: Record<string, [ErrorCode, string]> = {
  HPE_HEADER_OVERFLOW: ['HEADERS_TOO_LARGE', `request head is larger than ${MAX_HEADER_BYTES} bytes`],
  ERR_HTTP_REQUEST_TIMEOUT: ['REQUEST_TIMEOUT', 'request was not received in time'],
};
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** The JSON answer for a request Node's parser gave up on, as raw HTTP/1.1 bytes. */
export function clientErrorResponse(err: { code?: string }): string {
  const [code, message] = PARSER_ERRORS[err.code ?? ''] ?? ['BAD_REQUEST', 'malformed HTTP request'];
  const { status, body } = errorBody(new InfralogsError(code, message));
  const text = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${text}`
  );
}

/**
 * Answers parser failures and timeouts as JSON errors (see above). Logged at warn with Node's code
 * only: the request itself may be what an attacker wants echoed.
 */
export function answerClientErrors(server: HttpServer, log?: Logger): void {
  // Connections whose request was answered while its body was still coming (a refusal that did
  // not need the body): a later timeout or parser error on that body gets no second answer.
  const answeredEarly = new WeakSet<object>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    answeredEarly.delete(req.socket);
    res.once('finish', () => {
      if (!req.complete) answeredEarly.add(req.socket);
    });
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    log?.warn('http.client_error', { code: err.code ?? 'unknown' });
    // An answer already under way cannot be replaced; otherwise this one is ours to give.
    const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !current?.headersSent && !answeredEarly.has(socket)) {
      socket.end(clientErrorResponse(err), () => socket.destroy());
    } else socket.destroy();
    setTimeout(() => socket.destroy(), 1000).unref();
  });
}
