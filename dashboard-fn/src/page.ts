import { InfralogsError } from '@infralogs/core';
import { BOKEH_BUNDLES } from './static-files';

/**
 * The one HTML page. It holds no data and no inline script: `static/app.js` fetches the API and
 * draws. The CSP allows scripts from this origin only; Bokeh 3 puts `<style>` elements into its
 * shadow roots, hence `'unsafe-inline'` for styles (styles cannot run code).
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where the gateway serves the function; OpenFaaS routes `/function/NAME/…` to it. */
export const DEFAULT_BASE_PATH = '/function/dashboard/';
const BASE_PATH = /^\/(?:[A-Za-z0-9._~-]+\/)*$/;

/**
 * `/function/dashboard` and `/function/dashboard/` reach the function as the same path, but a
 * browser resolves relative URLs differently for the two; `<base href>` makes both work.
 */
export function checkBasePath(basePath: string): string {
  if (!BASE_PATH.test(basePath)) {
    throw new InfralogsError('CONFIG_INVALID', 'the dashboard base path must look like /function/dashboard/');
  }
  return basePath;
}

const head = (basePath: string, title: string, scripts: string[]) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<base href="${checkBasePath(basePath)}">
<link rel="stylesheet" href="static/app.css">
${scripts.map((src) => `<script defer src="${src}"></script>`).join('\n')}
</head>`;

const PRESETS = [
  ['1h', '1 hour'],
  ['6h', '6 hours'],
  ['24h', '24 hours'],
  ['3d', '3 days'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['custom', 'custom'],
];
const LEVEL_OPTIONS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const options = (pairs: string[][], selected: string) =>
  pairs.map(([v, t]) => `<option value="${v}"${v === selected ? ' selected' : ''}>${t}</option>`).join('');

export function renderPage(basePath: string): string {
  const levels = LEVEL_OPTIONS.map((l, i) => [String(i), l]);
  return `${head(
    basePath,
    'Infralogs dashboard', // app.js first: it sends the API requests while the bundles are parsed, and draws once they ran.
    ['static/app.js', ...BOKEH_BUNDLES.map((b) => `static/vendor/${b}`)],
  )}
<body data-ready="false">
<header>
  <h1>Infralogs</h1>
  <form id="filters" autocomplete="off">
    <label>Range <select id="range">${options(PRESETS, '24h')}</select></label>
    <span id="custom-range" hidden>
      <label>from <input id="from" type="datetime-local" step="1"></label>
      <label>to <input id="to" type="datetime-local" step="1"></label>
      <span class="hint">UTC</span>
    </span>
    <label>Hosts <select id="hosts-filter" multiple size="2"></select></label>
    <label>Priority <select id="prio-from">${options(levels, '0')}</select>
      to <select id="prio-to">${options(levels, '7')}</select></label>
    <label>Identifier <input id="identifier" size="10"></label>
    <label>Unit <input id="unit" size="12"></label>
    <label>Text <input id="q" type="search" size="16" placeholder="search messages"></label>
    <button type="submit" id="apply">Apply</button>
    <button type="button" id="clear">Clear filters</button>
    <label>Auto-refresh <select id="refresh">${options(
      [
        ['0', 'off'],
        ['5', '5 s'],
        ['30', '30 s'],
        ['60', '1 min'],
      ],
      '0',
    )}</select></label>
    <button type="button" id="pause" hidden>Pause</button>
    <button type="button" id="logout">Log out</button>
  </form>
  <p id="status" role="status">Loading…</p>
</header>
<main>
  <section>
    <h2>Entries per hour by priority <span class="hint">(UTC; click a bar to zoom to its hour)</span></h2>
    <p class="note" id="counts-note" hidden></p>
    <p class="empty" id="volume-empty" hidden>No entries in this window.</p>
    <div id="volume" class="plot"></div>
  </section>
  <section>
    <h2>Entries per hour by host <span class="hint">(click a bar: that host and hour)</span></h2>
    <div id="host-volume" class="plot"></div>
  </section>
  <section>
    <h2>err and worse, host × hour <span class="hint">(click a cell: that host, hour and err..emerg)</span></h2>
    <div id="heatmap" class="plot"></div>
  </section>
  <section class="tops">
    <div><h2>Top identifiers</h2><div id="top-identifier" class="plot"></div></div>
    <div><h2>Top commands (_COMM)</h2><div id="top-comm" class="plot"></div></div>
    <div><h2>Top units</h2><div id="top-unit" class="plot"></div></div>
  </section>
  <section>
    <h2>Entries <span class="hint">(newest first; click a row for every field)</span></h2>
    <p id="search-progress" role="status" hidden></p>
    <p class="actions">
      <button type="button" id="stop-search" hidden>Stop searching</button>
      <a id="export-csv" href="api/export?format=csv" download>Export CSV</a>
      <a id="export-ndjson" href="api/export?format=ndjson" download>Export NDJSON</a>
    </p>
    <p class="empty" id="entries-empty" hidden>No entries match.</p>
    <div id="entries"></div>
    <button type="button" id="older" hidden>Older entries</button>
  </section>
  <section id="detail-section" hidden>
    <h2>Entry <button type="button" id="close-detail">Close</button></h2>
    <dl id="detail"></dl>
    <pre id="detail-message"></pre>
    <p class="note" id="detail-note" hidden></p>
  </section>
  <section>
    <h2>Collection health</h2>
    <p id="replica"></p>
    <table id="health"><thead><tr><th>host</th><th>enabled</th><th>newest entry (UTC)</th><th>lag</th><th>last run</th><th>error</th><th>gaps (seqnum ranges)</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<noscript>The dashboard needs JavaScript (BokehJS draws the charts).</noscript>
</body>
</html>
`;
}

/** The login page: a form posted as JSON by static/login.js (no inline script). */
export function renderLoginPage(basePath: string): string {
  return `${head(basePath, 'Infralogs dashboard: log in', ['static/login.js'])}
<body class="login">
<main>
  <h1>Infralogs</h1>
  <form id="login">
    <label>User <input id="user" name="user" autocomplete="username" required></label>
    <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">Log in</button>
    <p id="login-status" role="status"></p>
  </form>
</main>
</body>
</html>
`;
}
