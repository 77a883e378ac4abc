import {
  createLogger,
  errorBody,
  InfralogsError,
  Metrics,
  type Database,
  type FunctionContext,
  type Handler,
  type Logger,
} from '@infralogs/core';
import { DEFAULT_BASE_PATH, PAGE_CSP, checkBasePath, renderPage } from './page';
import { parseEntriesQuery, parseVolumeQuery, parseWindowQuery } from './params';
import { readEntries, readSummary, readVolume } from './queries';
import { createStaticFiles } from './static-files';

export interface DashboardDeps {
  /** The reader Database (replica, read-only credentials); asked per call, as credentials rotate. */
  getDatabase: () => Promise<Database>;
  /** The function's `static/` folder (app.js, app.css). */
  staticDir: string;
  /** Where the gateway serves the function (default `/function/dashboard/`). */
  basePath?: string;
  /** `build/js/` of @bokeh/bokehjs; default: the installed package. */
  bokehDir?: string;
  log?: Logger;
  now?: () => Date;
  /** Default: the process's registry, served by the template's metrics port. */
  metrics?: Metrics;
}

const API_ENDPOINTS = new Set(['/api/summary', '/api/volume', '/api/entries']);

const JSON_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

/** Failures to get a connection are the service's, not the caller's: always 503 with a code. */
function unavailable(err: unknown): InfralogsError {
  if (err instanceof InfralogsError && (err.status >= 500 || err.code === 'VAULT_DENIED')) {
    return new InfralogsError(err.code, err.message, { cause: err });
  }
  if (err instanceof InfralogsError) return err;
  return new InfralogsError('DATABASE_FAILED', 'the database is not reachable', { cause: err });
}

/**
 * GET-only routes:
 *   /                    the page (HTML, strict CSP, no inline script)
 *   /static/…            app.js, app.css and the BokehJS bundles under /static/vendor/
 *   /api/summary         hosts, checkpoints and counts per level over `hours`
 *   /api/volume          hourly counts per level (epoch ms x) for the stacked chart
 *   /api/entries         the newest entries, filtered by host and priority, paged with `before`
 *   /healthz             liveness, no database
 * API answers are JSON with `Cache-Control: no-store`; errors are `{ error: { code, message } }`.
 */
export function createDashboardHandler(deps: DashboardDeps): Handler {
  const log = deps.log ?? createLogger({ component: 'dashboard' });
  const now = deps.now ?? (() => new Date());
  const latency = (deps.metrics ?? Metrics.forProcess())
    .use('dashboard')
    .histogram('infralogs_dashboard_request_duration_seconds');
  const page = renderPage(checkBasePath(deps.basePath ?? DEFAULT_BASE_PATH));
  const statics = createStaticFiles({
    staticDir: deps.staticDir,
    ...(deps.bokehDir ? { bokehDir: deps.bokehDir } : {}),
  });

  const pool = async () => {
    try {
      const db = await deps.getDatabase();
      return db.getPool();
    } catch (err) {
      throw unavailable(err);
    }
  };

  async function api(path: string, query: Record<string, unknown>): Promise<unknown> {
    switch (path) {
      case '/api/summary': {
        const q = parseWindowQuery(query);
        return readSummary(await pool(), q, now());
      }
      case '/api/volume': {
        const q = parseVolumeQuery(query);
        return readVolume(await pool(), q, now());
      }
      case '/api/entries': {
        const q = parseEntriesQuery(query);
        return readEntries(await pool(), q);
      }
      default:
        throw new InfralogsError('NOT_FOUND', 'no such API endpoint', {
          details: { path: path.slice(0, 100) },
        });
    }
  }

  function fail(context: FunctionContext, path: string, err: unknown, started: number) {
    const { status, body } = errorBody(err);
    const fields = { path: path.slice(0, 100), status, code: body.error.code, ms: Date.now() - started };
    // The message and details only: a cause may carry a server's words, never worth a log line's risk.
    if (status >= 500) log.error('dashboard.failed', { ...fields, message: body.error.message });
    else log.debug('dashboard.refused', { ...fields, message: body.error.message });
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (status === 405) headers.Allow = 'GET, HEAD';
    context.status(status).headers(headers).succeed(body);
  }

  return async (event, context) => {
    const started = Date.now();
    const path = event.path === '' ? '/' : event.path;
    try {
      if (event.method !== 'GET' && event.method !== 'HEAD') {
        throw new InfralogsError('METHOD_NOT_ALLOWED', 'the dashboard answers GET only');
      }
      if (path === '/') {
        context.status(200).headers({
          'Content-Type': 'text/html; charset=utf-8',
          'Cache-Control': 'no-store',
          'Content-Security-Policy': PAGE_CSP,
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
        });
        return page;
      }
      if (path === '/healthz') {
        context.status(200).headers(JSON_HEADERS);
        return { status: 'ok' };
      }
      if (path.startsWith('/static/')) {
        const file = await statics.get(path);
        context.status(200).headers({
          'Content-Type': file.contentType,
          'Cache-Control': file.cacheControl,
          'X-Content-Type-Options': 'nosniff',
        });
        return file.body;
      }
      if (path.startsWith('/api/')) {
        const begun = process.hrtime.bigint();
        try {
          const result = await api(path, event.query);
          context.status(200).headers(JSON_HEADERS);
          return result;
        } finally {
          if (API_ENDPOINTS.has(path)) {
            const seconds = Number(process.hrtime.bigint() - begun) / 1e9;
            latency.observe({ endpoint: path.slice('/api/'.length) }, seconds);
          }
        }
      }
      throw new InfralogsError('NOT_FOUND', 'no such page', { details: { path: path.slice(0, 100) } });
    } catch (err) {
      fail(context, path, err, started);
      return undefined;
    }
  };
}
