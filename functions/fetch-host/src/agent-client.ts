import got, { type Request, type Response } from 'got';
import { InfralogsError } from '@infralogs/core';

/** One page of a host's journal: entries strictly after `after` (from the start when null). */
export interface PageRequest {
  agentUrl: string;
  token: string;
  after: string | null;
  limit: number;
}

export interface AgentTimeouts {
  connectMs: number;
  /** Until the response headers. */
  responseMs: number;
  /** Longest silence of the socket while the body streams. */
  idleMs: number;
}

/** An open page: its body as bytes, and a way to drop the connection early. */
export interface Page extends AsyncIterable<Buffer> {
  destroy(): void;
}

const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Opens `GET <agentUrl>/logs?after=…&limit=…` as a got stream and resolves once the agent has
 * answered 200, before any entry is read: up to that point a failure is safe to retry. Non-200
 * answers become UPSTREAM_FAILED with the agent's status and error code in `details`.
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
  });
  // The consumer's iterator sees stream errors; this keeps one between 'response' and iteration
  // from becoming an uncaught exception.
  stream.on('error', () => {});
  const response = await new Promise<Response>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
  if (response.statusCode !== 200) {
    const upstreamError = await readErrorCode(stream);
    stream.destroy();
    throw new InfralogsError('UPSTREAM_FAILED', `agent answered ${response.statusCode} (${upstreamError})`, {
      details: { upstreamStatus: response.statusCode, upstreamError },
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
