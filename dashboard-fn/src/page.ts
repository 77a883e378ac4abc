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

export function renderPage(basePath: string): string {
  const scripts = [...BOKEH_BUNDLES.map((b) => `static/vendor/${b}`), 'static/app.js']
    .map((src) => `<script defer src="${src}"></script>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Infralogs dashboard</title>
<link rel="icon" href="data:,">
<base href="${checkBasePath(basePath)}">
<link rel="stylesheet" href="static/app.css">
${scripts}
</head>
<body data-ready="false">
<header>
  <h1>Infralogs</h1>
  <form id="filters">
    <label>Host <select id="host" name="host"><option value="">all hosts</option></select></label>
    <label>Window <select id="hours" name="hours">
      <option value="6">6 hours</option>
      <option value="24" selected>24 hours</option>
      <option value="72">3 days</option>
      <option value="168">7 days</option>
      <option value="720">30 days</option>
    </select></label>
    <label>Priority <select id="priority" name="priority">
      <option value="">any</option>
      <option value="3">err and worse</option>
      <option value="4">warning and worse</option>
      <option value="5">notice and worse</option>
      <option value="6">info and worse</option>
    </select></label>
    <button type="button" id="refresh">Refresh</button>
  </form>
  <p id="status" role="status">Loading…</p>
</header>
<main>
  <section>
    <h2>Entries per hour by priority <span class="hint">(UTC)</span></h2>
    <p class="empty" id="volume-empty" hidden>No entries yet in this window.</p>
    <div id="volume" class="plot"></div>
  </section>
  <section>
    <h2>Hosts</h2>
    <p class="empty" id="hosts-empty" hidden>No hosts registered yet.</p>
    <table id="hosts"><thead></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Latest entries</h2>
    <p class="empty" id="entries-empty" hidden>No entries yet.</p>
    <div id="entries"></div>
    <button type="button" id="older" hidden>Older entries</button>
  </section>
</main>
<noscript>The dashboard needs JavaScript (BokehJS draws the charts).</noscript>
</body>
</html>
`;
}
