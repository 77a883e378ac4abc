import {
  clientAddress,
  createLogger,
  errorBody,
  InfralogsError,
  Metrics,
  type Database,
  type FunctionContext,
  type FunctionEvent,
  type Handler,
  type Logger,
} from '@infralogs/core';
import { Readable } from 'node:stream';
import type { Auth } from './auth';
import { exportEntries, readEntries, readEntry } from './entries';
import { readHealth } from './health';
import { DEFAULT_BASE_PATH, PAGE_CSP, checkBasePath, renderLoginPage, renderPage } from './page';
import { choiceParam, parseEntriesQuery, parseFilterQuery, readQuery } from './params';
import { readHeatmap, readSummary, readTop, readVolume, TOP_FIELDS } from './queries';
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
  /** The login: users and session key from the function's secrets (see auth.ts). */
  auth: Auth;
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
const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};
const header = (event: { headers: Record<string, string | string[] | undefined> }, name: string) => {
  const v = event.headers[name];
  return Array.isArray(v) ? v[0] : v;
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
 * Routes (GET unless said):
 *   /login               the login page; POST /login {user, password} sets the session cookie,
 *                        POST /logout clears it
 *   /                    the page (HTML, strict CSP, no inline script); without a session: to /login
 *   /static/…            app.js, login.js, app.css and the BokehJS bundles under /static/vendor/
 *   /api/summary         hosts, their newest entry and counts per level (rollups)
 *   /api/volume          hourly counts per level and per host (rollups)
 *   /api/heatmap         host × hour counts of err and worse (rollups)
 *   /api/top             the most frequent identifiers, comms or units with counts per level (rollups)
 *   /api/entries         entries newest first (index walks), or a budgeted search step
 *   /api/entry           every stored field of one entry
 *   /api/export          the filter's entries as CSV or NDJSON, streamed, bounded
 *   /api/health          per host newest entry, lag, last run, gaps; the replica's lag
 *   /healthz             liveness, no database, no session
 * Every /api/ answer needs a session (401 otherwise). API answers are JSON with
 * `Cache-Control: no-store`; errors are `{ error: { code, message } }`.
 */
export function createDashboardHandler(deps: DashboardDeps): Handler {
  const log = deps.log ?? createLogger({ component: 'dashboard' });
  const now = deps.now ?? (() => new Date());
  const metrics = (deps.metrics ?? Metrics.forProcess()).use('dashboard');
  const latency = metrics.histogram('infralogs_dashboard_request_duration_seconds');
  const searchRows = metrics.counter('infralogs_dashboard_search_rows_scanned_total');
  const basePath = checkBasePath(deps.basePath ?? DEFAULT_BASE_PATH);
  const page = renderPage(basePath);
  const loginPage = renderLoginPage(basePath);
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

  async function api(
    path: string,
    query: Record<string, unknown>,
    context: FunctionContext,
    started: number,
  ): Promise<unknown> {
    switch (path) {
      case '/api/summary':
        return readSummary(await pool(), parseFilterQuery(query, now()).filter);
      case '/api/volume':
        return readVolume(await pool(), parseFilterQuery(query, now()).filter);
      case '/api/heatmap':
        return readHeatmap(await pool(), parseFilterQuery(query, now()).filter);
      case '/api/top': {
        const { filter, values } = parseFilterQuery(query, now(), ['field']);
        return readTop(await pool(), filter, choiceParam(values, 'field', TOP_FIELDS, 'identifier'));
      }
      case '/api/entries': {
        // A search's time budget counts from the request's arrival: the pool's first credentials too.
        const entriesQuery = parseEntriesQuery(query, now());
        return readEntries(await pool(), entriesQuery, undefined, started);
      }
      case '/api/entry': {
        const id = readQuery(query, ['id']).get('id');
        if (id === undefined)
          throw new InfralogsError('BAD_QUERY', 'id is required', { details: { param: 'id' } });
        return readEntry(await pool(), id);
      }
      case '/api/export': {
        const { filter, values } = parseFilterQuery(query, now(), ['format']);
        const format = choiceParam(values, 'format', ['csv', 'ndjson'] as const, 'csv');
        const db = await pool();
        const lines = exportEntries(db, filter, format);
        // The first page is read before answering, so a failure is still a JSON error.
        const first = await lines.next();
        context.headers({
          ...JSON_HEADERS,
          'Content-Type':
            format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
          'Content-Disposition': `attachment; filename="infralogs-entries.${format}"`,
        });
        async function* all() {
          if (!first.done) yield first.value;
          yield* lines;
        }
        return Readable.from(all());
      }
      case '/api/health':
        return readHealth(await pool(), now());
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
    if (status === 405) headers.Allow = path === '/login' || path === '/logout' ? 'GET, POST' : 'GET, HEAD';
    context.status(status).headers(headers).succeed(body);
  }

  async function login(event: FunctionEvent, context: FunctionContext, secure: boolean) {
    const body = event.body as { user?: unknown; password?: unknown } | undefined;
    const type = header(event, 'content-type') ?? '';
    // JSON only: a cross-site form cannot send it without a CORS preflight this function never allows.
    if (!type.startsWith('application/json') || typeof body !== 'object' || body === null)
      throw new InfralogsError('BAD_REQUEST', 'send {"user", "password"} as application/json');
    const { user, password } = body;
    if (
      typeof user !== 'string' ||
      typeof password !== 'string' ||
      user.length > 255 ||
      password.length > 1024
    )
      throw new InfralogsError('BAD_REQUEST', 'user and password must be strings');
    const client = clientAddress(event.headers, 'direct');
    const cookie = await deps.auth.login(user, password, client, secure);
    log.info('dashboard.login', { user: user.slice(0, 64) });
    context.status(200).headers({ ...JSON_HEADERS, 'Set-Cookie': cookie });
    return { user };
  }

  return async (event, context) => {
    const started = Date.now();
    const path = event.path === '' ? '/' : event.path;
    const secure = header(event, 'x-forwarded-proto') === 'https';
    try {
      if (path === '/login' || path === '/logout') {
        if (event.method === 'POST' && path === '/login') return await login(event, context, secure);
        if (event.method === 'POST') {
          context.status(200).headers({ ...JSON_HEADERS, 'Set-Cookie': deps.auth.logoutCookie(secure) });
          return { user: null };
        }
        if (event.method !== 'GET' && event.method !== 'HEAD')
          throw new InfralogsError('METHOD_NOT_ALLOWED', 'the login answers GET and POST only');
        if (path === '/logout') throw new InfralogsError('METHOD_NOT_ALLOWED', 'log out with POST');
        context.status(200).headers(PAGE_HEADERS);
        return loginPage;
      }
      if (event.method !== 'GET' && event.method !== 'HEAD') {
        throw new InfralogsError('METHOD_NOT_ALLOWED', 'the dashboard answers GET only');
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
      const user = await deps.auth.session(header(event, 'cookie'));
      if (path === '/') {
        if (user === null) {
          context.status(303).headers({ Location: `${basePath}login`, 'Cache-Control': 'no-store' });
          return '';
        }
        context.status(200).headers(PAGE_HEADERS);
        return page;
      }
      if (path.startsWith('/api/')) {
        if (user === null) throw new InfralogsError('UNAUTHORIZED', 'log in first (POST login)');
        const begun = process.hrtime.bigint();
        try {
          context.status(200).headers(JSON_HEADERS);
          const result = await api(path, event.query, context, started);
          const search = (result as { search?: { scanned?: unknown } | null } | null)?.search;
          if (typeof search?.scanned === 'number') searchRows.inc({}, search.scanned);
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
