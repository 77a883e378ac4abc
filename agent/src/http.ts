import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '@infralogs/core';

/** Answers an error as JSON `{ "error": { "code", "message" } }` with its status. */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): number {
  const { status, body } = errorBody(err);
  sendJson(res, status, body, headers);
  return status;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Whether the client takes gzip (`Accept-Encoding: gzip`, not with q=0). */
export function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
