import {
  createLogger,
  errorBody,
  ingestPrepared,
  InfralogsError,
  Metrics,
  parseJsonBody,
  prepareBatch,
  requireCallerToken,
  validateBatch,
  type Database,
  type Handler,
  type Logger,
  type PreparedBatch,
} from '@infralogs/core';

export interface IngestDeps {
  /** The writer Database (primary); asked per call, as Vault credentials rotate. */
  getDatabase: () => Promise<Database>;
  /** The accepted caller tokens, read per call so a rotated secret is picked up. */
  callerTokens: () => Promise<string[]>;
  log?: Logger;
  /** Default: the process's registry, served by the template's metrics port. */
  metrics?: Metrics;
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
 * The body (raw bytes: stack.yml sets RAW_BODY) checked and prepared for its transaction, in one
 * synchronous call so that nothing of the parsed batch outlives it; the careful way parses the
 * bytes again (see PreparedBatch).
 */
function readBatch(body: unknown): PreparedBatch {
  return prepareBatch(validateBatch(parseBody(body)), () => validateBatch(parseBody(body)).entries);
}

/**
 * POST `{ "host": "<name>", "entries": [Entry, …] }` with `Authorization: Bearer <ingest-token>`.
 * The batch is checked completely before the database is touched (400 BAD_BATCH naming the first
 * bad entry); then it is one transaction on the primary (see ingestBatch). Answers the
 * IngestResult, or `{ "error": { "code", "message" } }` with the error's status.
 */
export function createIngestHandler(deps: IngestDeps): Handler {
  const log = deps.log ?? createLogger({ component: 'ingest' });
  const metrics = (deps.metrics ?? Metrics.forProcess()).use('ingest');
  const count = {
    inserted: metrics.counter('infralogs_ingest_rows_inserted_total'),
    duplicates: metrics.counter('infralogs_ingest_duplicates_total'),
    gaps: metrics.counter('infralogs_ingest_gaps_total'),
    batches: metrics.counter('infralogs_ingest_batches_total'),
    deadlocks: metrics.counter('infralogs_ingest_deadlocks_total'),
    retries: metrics.counter('infralogs_ingest_retries_total'),
    seconds: metrics.histogram('infralogs_ingest_transaction_duration_seconds'),
    bytes: metrics.histogram('infralogs_ingest_batch_bytes'),
  };
  const onRollback = (code: string, retried: boolean) => {
    count.deadlocks.inc({ cause: code });
    if (retried) count.retries.inc();
  };
  return async (event, context) => {
    const started = Date.now();
    try {
      requireCallerToken(event.headers, await deps.callerTokens());
      if (event.method.toUpperCase() !== 'POST') {
        throw new InfralogsError('METHOD_NOT_ALLOWED', 'ingest accepts POST only');
      }
      const bytes = Number(event.headers['content-length']);
      if (Number.isFinite(bytes)) count.bytes.observe({}, bytes);
      const batch = readBatch(event.body);
      const db = await deps.getDatabase();
      // A getter, not a pool: the batch may wait for the partition lock, and a credential rotation
      // meanwhile closes the pool that was current before.
      const begun = process.hrtime.bigint();
      const result = await ingestPrepared(() => db.getPool(), batch, { log, onRollback });
      count.seconds.observe({}, Number(process.hrtime.bigint() - begun) / 1e9);
      count.inserted.inc({ host: result.host }, result.inserted);
      count.duplicates.inc({ host: result.host }, result.duplicates);
      count.gaps.inc({ host: result.host }, result.gaps);
      count.batches.inc({ status: 'ok' });
      log.info('ingest.batch', { ...result, checkpoint: undefined, ms: Date.now() - started });
      context.status(200).headers({ 'Content-Type': 'application/json' }).succeed(result);
    } catch (err) {
      const { status, body } = errorBody(err);
      count.batches.inc({ status: body.error.code });
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
