import type { ServerResponse } from 'node:http';
import { errorBody, InfralogsError, type ErrorCode } from '@infralogs/core';

/**
 * The gateway's error answers, JSON like every Infralogs error. Codes come from the core catalogue,
 * except EXEC_TIMEOUT: of-watchdog answers 504 when a call outlives exec_timeout, and the core has
 * no 504 code yet.
 */
export type GatewayErrorCode = ErrorCode | 'EXEC_TIMEOUT' | 'METHOD_NOT_ALLOWED';

const LOCAL_STATUS: Record<string, number> = { EXEC_TIMEOUT: 504, METHOD_NOT_ALLOWED: 405 };

export function errorPayload(code: GatewayErrorCode, message: string): { status: number; body: string } {
  const local = LOCAL_STATUS[code];
  const { status, body } =
    local === undefined
      ? errorBody(new InfralogsError(code as ErrorCode, message))
      : { status: local, body: { error: { code, message } } };
  return { status, body: JSON.stringify(body) };
}

export function sendError(res: ServerResponse, code: GatewayErrorCode, message: string, headers = {}) {
  const { status, body } = errorPayload(code, message);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
  res.end(body);
}
