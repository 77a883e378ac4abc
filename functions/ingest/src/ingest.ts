import {
  createLogger,
  errorBody,
  ingestBatch,
  InfralogsError,
  validateBatch,
  type Database,
  type Handler,
  type Logger,
} from '@infralogs/core';
import { requireBearer } from './caller-auth';

export interface IngestDeps {
  /** The writer Database (primary); asked per call, as Vault credentials rotate. */
  getDatabase: () => Promise<Database>;
  /** The accepted caller tokens, read per call so a rotated secret is picked up. */
  callerTokens: () => Promise<string[]>;
  log?: Logger;
}

/** The body as a value, whatever the wrapper made of it: parsed JSON, text or bytes. */
function parseBody(body: unknown): unknown {
  if (body === undefined || body === null)
    throw new InfralogsError('BAD_BATCH', 'empty body: expected a batch');
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return body;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  if (text.trim() === '') throw new InfralogsError('BAD_BATCH', 'empty body: expected a batch');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InfralogsError('BAD_BATCH', 'body is not JSON');
  }
}

/**
 * POST `{ "host": "<name>", "entries": [Entry, …] }` with `Authorization: Bearer <ingest-token>`.
 * The batch is checked completely before the database is touched (400 BAD_BATCH naming the first
 * bad entry); then it is one transaction on the primary (see ingestBatch). Answers the
 * IngestResult, or `{ "error": { "code", "message" } }` with the error's status.
 */
export function createIngestHandler(deps: IngestDeps): Handler {
  const log = deps.log ?? createLogger({ component: 'ingest' });
  return async (event, context) => {
    const started = Date.now();
    try {
      if (event.method.toUpperCase() !== 'POST') {
        throw new InfralogsError('METHOD_NOT_ALLOWED', 'ingest accepts POST only');
      }
      requireBearer(event.headers, await deps.callerTokens());
      const batch = validateBatch(parseBody(event.body));
      const db = await deps.getDatabase();
      const result = await ingestBatch(db.getPool(), batch, { validate: false, log });
      log.info('ingest.batch', { ...result, checkpoint: undefined, ms: Date.now() - started });
      context.status(200).headers({ 'Content-Type': 'application/json' }).succeed(result);
    } catch (err) {
      const { status, body } = errorBody(err);
      const fields = { status, code: body.error.code, message: body.error.message, ms: Date.now() - started };
      if (status >= 500) log.error('ingest.failed', { ...fields, error: err });
      else log.warn('ingest.refused', fields);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
      if (status === 405) headers.Allow = 'POST';
      context.status(status).headers(headers).succeed(body);
    }
    return undefined;
  };
}
