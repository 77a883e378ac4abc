import got, { type Request, type Response } from 'got';
import { InfralogsError, parseRetryAfter, type ErrorCode } from '@infralogs/core';

/** One page of a host's journal: entries strictly after `after` (from the start when null). */
export interface PageRequest {
  agentUrl: string;
  token: string;
  after: string | null;
  limit: number;
  /** How an https:// agent is verified (and how fetch-host proves itself, with mTLS). */
  tls: AgentTls;
}

/**
 * The CA bundle an agent's certificate must chain to (null = the system's CAs), and the client
 * certificate to present when the agents ask for one (mTLS). The name checked is the URL's host.
 */
export interface AgentTls {
  ca: string | null;
  clientCert: { cert: string; key: string } | null;
}

/** Node's certificate verification codes, as the coded errors a host's run ends with. */
const TLS_ERRORS: Record<string, { code: ErrorCode; what: string }> = {
  CERT_HAS_EXPIRED: { code: 'AGENT_TLS_EXPIRED', what: 'has expired' },
  CERT_NOT_YET_VALID: { code: 'AGENT_TLS_EXPIRED', what: 'is not valid yet' },
  ERR_TLS_CERT_ALTNAME_INVALID: { code: 'AGENT_TLS_NAME_MISMATCH', what: "is not for the URL's host name" },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: { code: 'AGENT_TLS_UNTRUSTED', what: 'is not signed by a trusted CA' },
  UNABLE_TO_GET_ISSUER_CERT: { code: 'AGENT_TLS_UNTRUSTED', what: 'is not signed by a trusted CA' },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { code: 'AGENT_TLS_UNTRUSTED', what: 'is not signed by a trusted CA' },
  SELF_SIGNED_CERT_IN_CHAIN: { code: 'AGENT_TLS_UNTRUSTED', what: 'chains to an untrusted self-signed CA' },
  DEPTH_ZERO_SELF_SIGNED_CERT: { code: 'AGENT_TLS_UNTRUSTED', what: 'is self-signed and not trusted' },
  CERT_SIGNATURE_FAILURE: { code: 'AGENT_TLS_UNTRUSTED', what: 'has a bad signature' },
  CERT_UNTRUSTED: { code: 'AGENT_TLS_UNTRUSTED', what: 'is not trusted' },
};

/** The agent's TLS alerts when it requires a client certificate and has none or refuses it. */
const CLIENT_REFUSED =
  /^ERR_SSL_(TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_BAD_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_HANDSHAKE_FAILURE)$/;

/** A certificate failure as its coded error (not retried: it would fail the same way); others as they are. */
export function agentTlsError(err: unknown, agentUrl: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const origin = new URL(agentUrl).host;
  if (typeof code === 'string' && CLIENT_REFUSED.test(code)) {
    return new InfralogsError(
      'AGENT_TLS_CLIENT_REFUSED',
      `the agent at ${origin} requires a client certificate and refused fetch-host's (${code})`,
      { details: { tlsError: code } },
    );
  }
  const known = typeof code === 'string' ? TLS_ERRORS[code] : undefined;
  if (!known) return err;
  return new InfralogsError(known.code, `the agent's certificate at ${origin} ${known.what} (${code})`, {
    details: { tlsError: code },
  });
}

export interface AgentTimeouts {
  connectMs: number;
  /** Until the response headers. */
  responseMs: number;
  /** Longest silence of the socket while the body streams. */
  idleMs: number;
  /** Ask for a gzip body (AGENT_GZIP); otherwise no Accept-Encoding is sent and the body comes plain. */
  gzip?: boolean;
}

/** An open page: its body as bytes, and a way to drop the connection early. */
export interface Page extends AsyncIterable<Buffer> {
  destroy(): void;
}

const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Opens `GET <agentUrl>/logs?after=…&limit=…` as a got stream and resolves once the agent has
 * answered 200, before any entry is read: up to that point a failure is safe to retry. Non-200
 * answers become UPSTREAM_FAILED with the agent's status, error code and Retry-After (as
 * `retryAfterMs`) in `details`; a
 * certificate that does not verify becomes AGENT_TLS_UNTRUSTED, _EXPIRED or _NAME_MISMATCH.
 */
export async function openPage(request: PageRequest, timeouts: AgentTimeouts): Promise<Page> {
  const url = new URL('logs', request.agentUrl.endsWith('/') ? request.agentUrl : `${request.agentUrl}/`);
  url.searchParams.set('limit', String(request.limit));
  if (request.after !== null) url.searchParams.set('after', request.after);
  const stream = got.stream(url, {
    headers: { authorization: `Bearer ${request.token}`, accept: 'application/x-ndjson' },
    timeout: { connect: timeouts.connectMs, response: timeouts.responseMs, socket: timeouts.idleMs },
    retry: { limit: 0 },
    throwHttpErrors: false,
    // got sends `Accept-Encoding: gzip, deflate, br` (and decompresses) only with decompress on.
    decompress: timeouts.gzip ?? false,
    https: {
      ...(request.tls.ca === null ? {} : { certificateAuthority: request.tls.ca }),
      ...(request.tls.clientCert === null
        ? {}
        : { certificate: request.tls.clientCert.cert, key: request.tls.clientCert.key }),
    },
  });
  // The consumer's iterator sees stream errors; this keeps one between 'response' and iteration
  // from becoming an uncaught exception.
  stream.on('error', () => {});
  const response = await new Promise<Response>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', (err) => reject(agentTlsError(err, request.agentUrl)));
  });
  if (response.statusCode !== 200) {
    const upstreamError = await readErrorCode(stream);
    stream.destroy();
    // A busy agent (its stream cap) says when to come back; core's withRetry waits that long.
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    throw new InfralogsError('UPSTREAM_FAILED', `agent answered ${response.statusCode} (${upstreamError})`, {
      details: {
        upstreamStatus: response.statusCode,
        upstreamError,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      },
    });
  }
  return stream;
}

/** The `error.code` of an agent's JSON error answer, or a placeholder when there is none. */
async function readErrorCode(stream: Request): Promise<string> {
  let text = '';
  try {
    for await (const chunk of stream) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > ERROR_BODY_LIMIT) break;
    }
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : 'no error code';
  } catch {
    return 'no error code';
  }
}
