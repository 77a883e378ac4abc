/**
 * Calls into a function process: streamed for `/function/` (the gateway plus of-watchdog's http
 * mode), buffered for the async queue and for the gateway's own outgoing calls (callbacks, cron).
 * exec_timeout is enforced here as of-watchdog does: the call is abandoned with a 504, the function
 * process keeps running.
 */
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { errorPayload, sendError } from './errors';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** Headers that may be passed on to the next hop. */
export function endToEnd(headers: IncomingHttpHeaders, drop: string[] = []): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(key) && !drop.includes(key)) out[key] = value;
  }
  return out;
}

const seconds = (startedAt: number) => ((performance.now() - startedAt) / 1000).toFixed(6);

export interface Upstream {
  port: number;
  timeoutMs: number;
}

/**
 * Streams `req` to the function and its answer back. Resolves with the status sent (504 on
 * exec_timeout, 502 when the function cannot be reached).
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  path: string,
  callId: string,
): Promise<number> {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    let timedOut = false;
    const call = httpRequest({
      host: '127.0.0.1',
      port: upstream.port,
      method: req.method,
      path,
      headers: {
        ...endToEnd(req.headers),
        // As a proxy does: the caller's address last, so the function can tell its clients apart.
        'x-forwarded-for': [req.headers['x-forwarded-for'], req.socket.remoteAddress]
          .filter(Boolean)
          .join(', '),
        'x-call-id': callId,
        'x-start-time': String(Date.now() * 1e6),
      },
    });
    const timer = setTimeout(() => {
      timedOut = true;
      call.destroy();
      if (res.headersSent) res.destroy();
      else sendError(res, 'EXEC_TIMEOUT', `function exceeded exec_timeout (${upstream.timeoutMs} ms)`);
      resolve(504);
    }, upstream.timeoutMs);

    call.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, {
        ...endToEnd(answer.headers),
        'x-call-id': callId,
        'x-duration-seconds': seconds(startedAt),
      });
      answer.pipe(res);
      answer.on('end', () => {
        clearTimeout(timer);
        resolve(answer.statusCode ?? 502);
      });
    });
    call.on('error', (err) => {
      if (timedOut) return;
      clearTimeout(timer);
      if (res.headersSent) res.destroy();
      else
        sendError(res, 'UPSTREAM_FAILED', `function cannot be reached: ${err.message}`, {
          'x-call-id': callId,
        });
      resolve(502);
    });
    // A caller that goes away cancels the call, as the watchdog's request context does.
    res.on('close', () => {
      if (!res.writableFinished) {
        clearTimeout(timer);
        call.destroy();
        resolve(499);
      }
    });
    req.pipe(call);
  });
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One buffered HTTP exchange; rejects on connection errors and after `timeoutMs` (if given). */
export function exchange(
  url: string,
  options: { method?: string; headers?: IncomingHttpHeaders; body?: Buffer; timeoutMs?: number },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(url, { method: options.method ?? 'POST', headers: options.headers });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => call.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
            options.timeoutMs,
          );
    call.on('response', (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        clearTimeout(timer);
        resolve({ status: answer.statusCode ?? 0, headers: answer.headers, body: Buffer.concat(chunks) });
      });
      answer.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    call.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    call.end(options.body);
  });
}

/**
 * A queued call, as the CE queue-worker makes it: always POST, the original path, query and
 * headers. Timeouts become 504 and unreachable functions 503, the statuses the worker reports.
 */
export async function invoke(
  upstream: Upstream,
  call: { path: string; headers: IncomingHttpHeaders; body: Buffer },
): Promise<Reply> {
  try {
    return await exchange(`http://127.0.0.1:${upstream.port}${call.path}`, {
      method: 'POST',
      headers: { ...endToEnd(call.headers, ['content-length']), 'content-length': String(call.body.length) },
      body: call.body,
      timeoutMs: upstream.timeoutMs,
    });
  } catch (err) {
    const timedOut = (err as { code?: string }).code === 'ETIMEDOUT';
    const { status, body } = timedOut
      ? errorPayload('EXEC_TIMEOUT', `function exceeded exec_timeout (${upstream.timeoutMs} ms)`)
      : errorPayload('UPSTREAM_FAILED', `function cannot be reached: ${(err as Error).message}`);
    return {
      status: timedOut ? status : 503,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: Buffer.from(body),
    };
  }
}
