import type { ServerResponse } from 'node:http';
import { errorBody, InfralogsError, type ErrorCode } from '@infralogs/core';

/** The gateway's error answers, JSON like every Infralogs error, with the core catalogue's codes. */
export function errorPayload(code: ErrorCode, message: string): { status: number; body: string } {
  const { status, body } = errorBody(new InfralogsError(code, message));
  return { status, body: JSON.stringify(body) };
}

export function sendError(res: ServerResponse, code: ErrorCode, message: string, headers = {}) {
  const { status, body } = errorPayload(code, message);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
  res.end(body);
}
