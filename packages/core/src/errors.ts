/**
 * The one catalogue of coded errors. Callers branch on `code`, never on message text.
 * HTTP edges turn an InfralogsError into `{ "error": { "code", "message" } }` with `status`.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 500,
  UNAUTHORIZED: 401,
  BAD_REQUEST: 400,
  BAD_CURSOR: 400,
  BAD_QUERY: 400,
  BAD_BATCH: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  /** The client did not send its request head or body within the server's timeouts. */
  REQUEST_TIMEOUT: 408,
  /** The request head is larger than the server reads (Node's maxHeaderSize). */
  HEADERS_TOO_LARGE: 431,
  CONFLICT: 409,
  TOO_MANY_REQUESTS: 429,
  JOURNAL_UNAVAILABLE: 503,
  JOURNAL_FAILED: 502,
  UPSTREAM_FAILED: 502,
  /** An agent URL is plain http:// and its host is not marked insecure. */
  AGENT_INSECURE: 502,
  /** The agent's certificate does not chain to the CA bundle fetch-host trusts for it. */
  AGENT_TLS_UNTRUSTED: 502,
  /** The agent's certificate has expired or is not valid yet. */
  AGENT_TLS_EXPIRED: 502,
  /** The agent's certificate is not for the name (or address) in the host's URL. */
  AGENT_TLS_NAME_MISMATCH: 502,
  /** The agent requires a client certificate (mTLS) and refused fetch-host's, or got none. */
  AGENT_TLS_CLIENT_REFUSED: 502,
  EXEC_TIMEOUT: 504,
  DATABASE_FAILED: 503,
  VAULT_UNAVAILABLE: 503,
  VAULT_DENIED: 403,
  /** The process is draining after SIGTERM: the call was handed back, the next one resumes it. */
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class InfralogsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InfralogsError';
    this.code = code;
    this.status = ErrorCodes[code];
    this.details = options?.details;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** The JSON body for an error answer; unknown errors never leak their message or stack. */
export function errorBody(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof InfralogsError) {
    const error: ErrorBody['error'] = { code: err.code, message: err.message };
    if (err.details) error.details = err.details;
    return { status: err.status, body: { error } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } };
}
