import {
  createLogger,
  errorBody,
  ingestBatch,
  InfralogsError,
  parseJsonBody,
  requireCallerToken,
  validateBatch,
  type Database,
  type Handler,
  type Logger,
} from '@infralogs/core';

export interface IngestDeps {
  /** The writer Database (primary); asked per call, as Vault credentials rotate. */
  getDatabase: () => Promise<Database>;
  /** The accepted caller tokens, read per call so a rotated secret is picked up. */
  callerTokens: () => Promise<string[]>;
  log?: Logger;
}

/** The batch body as a value, whatever the wrapper made of it; an empty body is a bad batch. */
function parseBody(body: unknown): unknown {
  let value: unknown;
  try {
    value = parseJsonBody(body);
  } catch {
    throw new InfralogsError('BAD_BATCH', 'body is not JSON');
  }
  if (value === undefined) throw new InfralogsError('BAD_BATCH', 'empty body: expected a batch');
  return value;
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
      requireCallerToken(event.headers, await deps.callerTokens());
      const batch = validateBatch(parseBody(event.body));
      const db = await deps.getDatabase();
      // A getter, not a pool: the batch may wait for the partition lock, and a credential rotation
      // meanwhile closes the pool that was current before.
      const result = await ingestBatch(() => db.getPool(), batch, { validate: false, log });
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
