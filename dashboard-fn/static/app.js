/*
 * The dashboard page: reads its filter from the URL, fetches the function's JSON API (relative URLs,
 * resolved against the page's <base href>) and draws with BokehJS 3 (loaded before this file).
 *
 * Log text is attacker-controlled (anyone who can write to a journal writes it), so it is only ever
 * shown as text: DataTable's default StringFormatter, tuple-list tooltips (textContent), canvas
 * axis labels, and textContent for everything built by hand. Never HTMLTemplateFormatter, HTML
 * tooltips, {safe}, Div or innerHTML with API values.
 *
 * Every filter lives in the URL (`range` or `from`/`to`, `host`, `priority`, `identifier`, `unit`,
 * `comm`, `q`, `refresh`): a copied link reproduces the view. Clicking a bar, a heatmap cell or a
 * top-list row narrows the filter to it.
 */
/* global Bokeh, document, window, fetch, URLSearchParams, history, location, performance */
'use strict';

/** Severity colours: emerg … err reds, warning orange, notice/info blue/green, debug grey. */
const COLORS = {
  emerg: '#67000d',
  alert: '#a50f15',
  crit: '#cb181d',
  err: '#ef3b2c',
  warning: '#fd8d3c',
  notice: '#2171b5',
  info: '#41ab5d',
  debug: '#969696',
  none: '#cccccc',
};
const HOST_PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];
const HOUR_MS = 3_600_000;
const FILTER_KEYS = ['range', 'from', 'to', 'host', 'priority', 'identifier', 'unit', 'comm', 'q'];
/** Matches the page collects for one search before it stops asking for more. */
const SEARCH_PAGE = 100;
const number = new Intl.NumberFormat('en-US');

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------------------
// The state: the filter (mirrored in the URL) and what is drawn.

let filter = {};
let refreshSeconds = 0;
let paused = false;
let refreshTimer = null;
let generation = 0;

function readUrl() {
  const params = new URLSearchParams(location.search);
  filter = {};
  for (const k of FILTER_KEYS) if (params.get(k)) filter[k] = params.get(k);
  refreshSeconds = Number(params.get('refresh') || 0);
}

function writeUrl(push) {
  const params = new URLSearchParams();
  for (const k of FILTER_KEYS) if (filter[k]) params.set(k, filter[k]);
  if (refreshSeconds > 0) params.set('refresh', String(refreshSeconds));
  const url = `${location.pathname}${params.size > 0 ? `?${params}` : ''}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

/** The API query of the current filter. */
function apiParams(extra = {}) {
  const params = new URLSearchParams();
  for (const k of FILTER_KEYS) if (filter[k]) params.set(k, filter[k]);
  // An extra value '' drops that filter (the health and detail endpoints take none).
  for (const [k, v] of Object.entries(extra)) {
    if (v === '' || v == null) params.delete(k);
    else params.set(k, v);
  }
  return params;
}

/** GET an API path; rejects with the API's own `CODE: message` on an error answer. */
async function getJson(path, extra) {
  const query = apiParams(extra);
  const url = query.size > 0 ? `${path}?${query}` : path;
  const res = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (res.status === 401) {
    window.location.assign('login');
    throw new Error('the session ended: log in again');
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (a proxy's error page): reported by status below.
  }
  if (!res.ok || body === null) {
    const error = body && body.error;
    throw new Error(error ? `${error.code}: ${error.message}` : `HTTP ${res.status} from ${path}`);
  }
  return body;
}

/** '2026-11-30T12:34:56.123456Z' → '2026-11-30 12:34:56.123' (UTC). */
const shortTime = (iso) => (iso ? iso.slice(0, 10) + ' ' + iso.slice(11, 23) : '—');
const isoOfMs = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function setStatus(text, isError) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', Boolean(isError));
}

/** Narrows the filter (a click on a chart or a list) and redraws everything. */
function narrow(changes) {
  Object.assign(filter, changes);
  for (const k of Object.keys(filter)) if (filter[k] === null || filter[k] === '') delete filter[k];
  if (filter.from || filter.to) delete filter.range;
  writeUrl(true);
  showFilterForm();
  void refresh();
}

const hourFilter = (ms) => ({ range: null, from: isoOfMs(ms), to: isoOfMs(ms + HOUR_MS) });

// ------------------------------------------------------------------------------------------
// The filter form, both ways.

function fillHostOptions(names) {
  const select = $('hosts-filter');
  const chosen = new Set((filter.host || '').split(',').filter(Boolean));
  select.replaceChildren(
    ...names.map((n) => {
      const option = el('option', n);
      option.value = n;
      option.selected = chosen.has(n);
      return option;
    }),
  );
  select.size = Math.min(4, Math.max(2, names.length));
}

const toLocalInput = (iso) => (iso ? iso.slice(0, 19) : '');
const fromLocalInput = (value) => (value ? `${value.length === 16 ? `${value}:00` : value}Z` : '');

function showFilterForm() {
  const custom = Boolean(filter.from || filter.to);
  $('range').value = custom ? 'custom' : filter.range || '24h';
  $('custom-range').hidden = !custom;
  $('from').value = toLocalInput(filter.from);
  $('to').value = toLocalInput(filter.to);
  const [a, b] = (filter.priority || '').split('..');
  $('prio-from').value = filter.priority ? (b === undefined ? '0' : a) : '0';
  $('prio-to').value = filter.priority ? (b === undefined ? a : b) : '7';
  $('identifier').value = filter.identifier || '';
  $('unit').value = filter.unit || '';
  $('q').value = filter.q || '';
  for (const option of $('hosts-filter').options)
    option.selected = (filter.host || '').split(',').includes(option.value);
  $('refresh').value = String(refreshSeconds);
  $('pause').hidden = refreshSeconds === 0;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
}

function readFilterForm() {
  const next = {};
  if ($('range').value === 'custom') {
    if ($('from').value) next.from = fromLocalInput($('from').value);
    if ($('to').value) next.to = fromLocalInput($('to').value);
  } else if ($('range').value !== '24h') next.range = $('range').value;
  const hosts = [...$('hosts-filter').selectedOptions].map((o) => o.value);
  if (hosts.length > 0) next.host = hosts.join(',');
  const a = $('prio-from').value;
  const b = $('prio-to').value;
  if (a !== '0' || b !== '7') next.priority = `${a}..${b}`;
  for (const k of ['identifier', 'unit', 'q']) if ($(k).value.trim()) next[k] = $(k).value.trim();
  if (filter.comm) next.comm = filter.comm;
  filter = next;
}

// ------------------------------------------------------------------------------------------
// Plots. Each is rebuilt on refresh; `views` holds what to remove first.

const views = {};

/**
 * Each plot's box has its plot's height and `contain: size layout style` (app.css): a relayout
 * boundary, so the layouts Bokeh forces while it measures a view (every view reads its bounding
 * box) lay out that box only, not the whole page.
 */
async function showPlot(id, plot) {
  if (views[id]) views[id].remove();
  views[id] = null;
  $(id).replaceChildren();
  $(id).style.height = plot ? `${plot.height}px` : '';
  if (plot) views[id] = await Bokeh.Plotting.show(plot, $(id));
}

/** Calls `onPick(index)` when a glyph of `source` is clicked (TapTool selection). */
function onTap(source, onPick) {
  source.selected.change.connect(() => {
    const i = source.selected.indices[0];
    if (i !== undefined) onPick(i);
  });
}

function timeFigure(name, x, height) {
  return Bokeh.Plotting.figure({
    name,
    height,
    sizing_mode: 'stretch_width',
    x_axis_type: 'datetime',
    x_range: [x[0], x[x.length - 1] + HOUR_MS],
    tools: 'tap,xpan,xwheel_zoom,box_zoom,reset,save',
    toolbar_location: 'right',
  });
}

/**
 * Stacked hourly bars as ONE vbar renderer of segments (series × hours with entries), stacked by
 * hand, rather than a renderer per series: each renderer costs Bokeh five glyph views to build,
 * lay out and hit-test, and the volume charts were most of the page's drawing time. `series` are
 * `{ label, color, counts }` aligned with `x`; each segment knows its hour and series, so a click
 * and a hover say both. The legend shows each series' colour (one segment of it, `index`).
 */
function stackedBars(plot, x, series, name, seriesField) {
  const data = { x: [], mid: [], bottom: [], top: [], n: [], total: [], color: [], [seriesField]: [] };
  const below = x.map(() => 0);
  const totals = x.map((_, j) => series.reduce((t, s) => t + s.counts[j], 0));
  const first = [];
  for (const s of series) {
    first.push(data.n.length);
    s.counts.forEach((n, j) => {
      if (n === 0) return;
      data.x.push(x[j]);
      data.mid.push(x[j] + HOUR_MS / 2);
      data.bottom.push(below[j]);
      data.top.push((below[j] += n));
      data.n.push(n);
      data.total.push(totals[j]);
      data.color.push(s.color);
      data[seriesField].push(s.label);
    });
  }
  const source = new Bokeh.ColumnDataSource({ data });
  const bars = plot.vbar({
    x: { field: 'mid' },
    width: HOUR_MS * 0.85,
    bottom: { field: 'bottom' },
    top: { field: 'top' },
    source,
    fill_color: { field: 'color' },
    line_color: { field: 'color' },
    name,
  });
  plot.add_layout(
    new Bokeh.Legend({
      items: series
        .map((s, i) => ({ s, i }))
        .filter(({ s }) => s.counts.some((n) => n > 0))
        .map(
          ({ s, i }) =>
            new Bokeh.LegendItem({ label: { value: s.label }, renderers: [bars], index: first[i] }),
        ),
      orientation: 'horizontal',
      location: 'top_left',
      border_line_alpha: 0,
    }),
    'above',
  );
  plot.y_range.start = 0;
  plot.xgrid.grid_line_color = null;
  return { source, data };
}

async function drawVolume(volume) {
  const levels = volume.levels.filter((l) => volume.counts[l].some((n) => n > 0));
  $('volume-empty').hidden = levels.length > 0;
  if (levels.length === 0) return showPlot('volume', null);
  const plot = timeFigure('volume-plot', volume.x, 280);
  const series = levels.map((l) => ({ label: l, color: COLORS[l], counts: volume.counts[l] }));
  const { source, data } = stackedBars(plot, volume.x, series, 'volume-bars', 'level');
  // Tuple-list tooltips (textContent); the level is one of the fixed names.
  plot.add_tools(
    new Bokeh.HoverTool({
      tooltips: [
        ['hour (UTC)', '@x{%F %H:00}'],
        ['level', '@level'],
        ['entries', '@n'],
        ['hour, all levels', '@total'],
      ],
      formatters: { '@x': 'datetime' },
    }),
  );
  onTap(source, (i) => narrow(hourFilter(data.x[i])));
  await showPlot('volume', plot);
}

async function drawHostVolume(volume) {
  const hosts = volume.hosts;
  if (hosts.length === 0) return showPlot('host-volume', null);
  const plot = timeFigure('host-volume-plot', volume.x, 240);
  const series = hosts.map((h, i) => ({
    label: h.name,
    color: HOST_PALETTE[i % HOST_PALETTE.length],
    counts: h.counts,
  }));
  const { source, data } = stackedBars(plot, volume.x, series, 'host-volume-bars', 'host');
  // Host names are data values shown by textContent, never a field name or a format.
  plot.add_tools(
    new Bokeh.HoverTool({
      tooltips: [
        ['host', '@host'],
        ['hour (UTC)', '@x{%F %H:00}'],
        ['entries', '@n'],
      ],
      formatters: { '@x': 'datetime' },
    }),
  );
  onTap(source, (j) => narrow({ ...hourFilter(data.x[j]), host: data.host[j] }));
  await showPlot('host-volume', plot);
}

async function drawHeatmap(heat) {
  if (heat.hosts.length === 0) return showPlot('heatmap', null);
  const source = new Bokeh.ColumnDataSource({
    data: {
      host: heat.cells.map((c) => c.host),
      hour: heat.cells.map((c) => c.hour),
      mid: heat.cells.map((c) => c.hour + HOUR_MS / 2),
      n: heat.cells.map((c) => c.n),
    },
  });
  const high = Math.max(1, ...heat.cells.map((c) => c.n));
  const mapper = new Bokeh.LinearColorMapper({
    palette: [...Bokeh.Palettes.YlOrRd9].reverse(),
    low: 1,
    high,
  });
  const plot = Bokeh.Plotting.figure({
    name: 'heatmap-plot',
    height: Math.max(140, 40 + 26 * heat.hosts.length),
    sizing_mode: 'stretch_width',
    x_axis_type: 'datetime',
    x_range: [heat.x[0], heat.x[heat.x.length - 1] + HOUR_MS],
    y_range: [...heat.hosts].reverse(),
    tools: 'tap,xpan,xwheel_zoom,reset,save',
    toolbar_location: 'right',
  });
  plot.rect({
    x: { field: 'mid' },
    y: { field: 'host' },
    width: HOUR_MS,
    height: 0.9,
    source,
    fill_color: { field: 'n', transform: mapper },
    line_color: null,
    name: 'heatmap-cells',
  });
  plot.add_tools(
    new Bokeh.HoverTool({
      tooltips: [
        ['host', '@host'],
        ['hour (UTC)', '@hour{%F %H:00}'],
        ['err and worse', '@n'],
      ],
      formatters: { '@hour': 'datetime' },
    }),
  );
  plot.xgrid.grid_line_color = null;
  plot.ygrid.grid_line_color = null;
  onTap(source, (i) =>
    narrow({ ...hourFilter(heat.cells[i].hour), host: heat.cells[i].host, priority: '0..3' }),
  );
  await showPlot('heatmap', plot);
}

const NONE_LABEL = '(none)';

/**
 * One top list: one hbar renderer for every (value, level) segment, stacked by hand, rather than a
 * renderer per level (each renderer costs Bokeh five glyph views to build and lay out).
 */
async function drawTop(top, field) {
  const target = `top-${field}`;
  const rows = [...top.rows].reverse();
  if (rows.length === 0) return showPlot(target, null);
  const levels = top.levels.filter((l) => rows.some((r) => r.counts[l] > 0));
  // Factors must be unique and non-empty: '' (entries without the field) is shown as (none).
  const labels = rows.map((r) => (r.value === '' ? NONE_LABEL : r.value));
  const data = { value: [], row: [], level: [], n: [], total: [], left: [], right: [], color: [] };
  rows.forEach((r, i) => {
    let left = 0;
    for (const l of levels) {
      const n = r.counts[l];
      if (n === 0) continue;
      data.value.push(labels[i]);
      data.row.push(i);
      data.level.push(l);
      data.n.push(n);
      data.total.push(r.total);
      data.left.push(left);
      data.right.push((left += n));
      data.color.push(COLORS[l]);
    }
  });
  const source = new Bokeh.ColumnDataSource({ data });
  const plot = Bokeh.Plotting.figure({
    name: `top-${field}-plot`,
    height: 60 + 22 * rows.length,
    sizing_mode: 'stretch_width',
    y_range: labels,
    tools: 'tap',
    toolbar_location: null,
  });
  plot.hbar({
    y: { field: 'value' },
    height: 0.8,
    left: { field: 'left' },
    right: { field: 'right' },
    source,
    fill_color: { field: 'color' },
    line_color: { field: 'color' },
    name: `top-${field}-bars`,
  });
  plot.add_tools(
    new Bokeh.HoverTool({
      tooltips: [
        [field, '@value'],
        ['total', '@total'],
        ['level', '@level'],
        ['entries', '@n'],
      ],
    }),
  );
  plot.x_range.start = 0;
  plot.ygrid.grid_line_color = null;
  onTap(source, (i) => {
    const row = rows[data.row[i]];
    narrow({ [field]: row.value === '' ? null : row.value });
  });
  await showPlot(target, plot);
}

// ------------------------------------------------------------------------------------------
// Entries: a DataTable whose cells are text (StringFormatter escapes), and the search's progress.

let entriesSource = null;
let entriesTable = null;
let entryIds = [];
let nextBefore = null;
let searching = null;

function entryColumns(columns, entries) {
  const data = { color: entries.map((e) => COLORS[e.priority ?? 'none']) };
  for (const c of columns) {
    if (c.key === 'ts') data.ts = entries.map((e) => shortTime(e.ts));
    else if (c.key === 'priority') data.priority = entries.map((e) => e.priority ?? 'none');
    else if (c.key === 'message')
      data.message = entries.map((e) => (e.message ?? '') + (e.truncated ? ' …' : ''));
    else
      data[c.key] = entries.map((e) => (e[c.key] === null || e[c.key] === undefined ? '' : String(e[c.key])));
  }
  return data;
}

const WIDTHS = { ts: 170, host: 90, priority: 65, syslogIdentifier: 100, pid: 60, unit: 120, message: 560 };

/**
 * The table is built once, with its first rows (building it empty and then filling it lays it out
 * twice). Column widths are the given ones scaled to the width (`force_fit`): `fit_columns` would
 * measure every header and cell in the DOM on each change.
 */
async function ensureTable(columns, data) {
  if (entriesTable) return false;
  const T = Bokeh.Tables;
  entriesSource = new Bokeh.ColumnDataSource({ data });
  entriesTable = new T.DataTable({
    name: 'entries',
    source: entriesSource,
    sortable: true,
    index_position: null,
    height: 440,
    sizing_mode: 'stretch_width',
    autosize_mode: 'force_fit',
    columns: columns.map(
      (c) =>
        new T.TableColumn({
          field: c.key,
          title: c.label,
          width: WIDTHS[c.key] ?? 100,
          ...(c.key === 'priority'
            ? { formatter: new T.StringFormatter({ text_color: { field: 'color' }, font_style: 'bold' }) }
            : {}),
        }),
    ),
  });
  onTap(entriesSource, (i) => void showDetail(entryIds[i]));
  await Bokeh.Plotting.show(entriesTable, $('entries'));
  return true;
}

async function showEntries(answer, append) {
  const columns = entryColumns(answer.columns, answer.entries);
  const ids = answer.entries.map((e) => e.id);
  if (await ensureTable(answer.columns, columns)) entryIds = ids;
  else if (append) {
    entriesSource.stream(columns);
    entryIds.push(...ids);
  } else {
    entriesSource.selected.indices = [];
    entriesSource.data = columns;
    entryIds = ids;
  }
  nextBefore = answer.next;
  $('older').hidden = nextBefore === null || answer.search !== null;
  $('entries-empty').hidden = entryIds.length > 0;
  document.body.dataset.entries = String(entryIds.length);
}

/** Walks the search forward until a page of matches is shown, the range is done, or Stop. */
async function runSearch(first, mine) {
  let answer = first;
  let scanned = 0;
  const progress = $('search-progress');
  progress.hidden = false;
  $('stop-search').hidden = false;
  searching = mine;
  for (;;) {
    scanned += answer.search.scanned;
    const done = answer.next === null;
    progress.textContent =
      `Searched about ${number.format(scanned)} entries back to ${shortTime(answer.search.searchedTo)} UTC: ` +
      `${number.format(entryIds.length)} matches${done ? ', whole range searched.' : '…'}`;
    document.body.dataset.search = done ? 'done' : 'running';
    if (done || entryIds.length >= SEARCH_PAGE || searching !== mine || generation !== mine) break;
    answer = await getJson('api/entries', { before: answer.next });
    if (generation !== mine) return;
    await showEntries(answer, true);
  }
  if (document.body.dataset.search === 'running') {
    document.body.dataset.search = 'stopped';
    progress.textContent += ' Stopped.';
  }
  $('stop-search').hidden = true;
}

async function loadOlder() {
  if (nextBefore === null) return;
  try {
    await showEntries(await getJson('api/entries', { before: nextBefore }), true);
  } catch (err) {
    setStatus(`Could not load older entries: ${err.message}`, true);
  }
}

async function showDetail(id) {
  if (!id) return;
  try {
    const detail = await getJson('api/entry', { ...Object.fromEntries(FILTER_KEYS.map((k) => [k, ''])), id });
    const list = $('detail');
    list.replaceChildren(
      ...detail.fields.flatMap((f) => [
        el('dt', f.label),
        el('dd', f.value === null ? '—' : String(f.value)),
      ]),
    );
    $('detail-message').textContent = detail.message ?? '';
    $('detail-note').hidden = !detail.truncated;
    $('detail-note').textContent = detail.truncated
      ? `The message has ${number.format(detail.messageChars)} characters; the first ${number.format(
          detail.message.length,
        )} are shown.`
      : '';
    $('detail-section').hidden = false;
    document.body.dataset.detail = id;
  } catch (err) {
    setStatus(`Could not load the entry: ${err.message}`, true);
  }
}

// ------------------------------------------------------------------------------------------
// Health: a plain table (textContent only).

const age = (s) =>
  s === null
    ? '—'
    : s < 120
      ? `${s} s`
      : s < 7200
        ? `${Math.round(s / 60)} min`
        : `${Math.round(s / 3600)} h`;

function drawHealth(health) {
  const r = health.replica;
  $('replica').textContent =
    r.heartbeatAt === null
      ? 'Replica: no heartbeat yet (nothing ingested).'
      : `Replica: newest heartbeat from the primary ${shortTime(r.heartbeatAt)} UTC, ${age(r.lagSeconds)} ago` +
        (r.idle
          ? ' (no collection wrote since: an upper bound of the lag).'
          : ' (its replication lag at most).');
  const rows = health.hosts.map((h) => {
    const tr = el('tr');
    const gaps = h.gaps.map((g) => `${g.afterSeqnum}→${g.beforeSeqnum} (${g.missing} missing)`).join(', ');
    tr.append(
      el('td', h.name),
      el('td', h.enabled ? 'yes' : 'no'),
      el('td', shortTime(h.newestEntryAt)),
      el('td', age(h.lagSeconds)),
      el('td', h.lastRun ? `#${h.lastRun.id} ${h.lastRun.status} ${shortTime(h.lastRun.finishedAt)}` : '—'),
      el('td', h.lastRun && h.lastRun.error ? h.lastRun.error : ''),
      el('td', gaps || 'none'),
    );
    return tr;
  });
  $('health').tBodies[0].replaceChildren(...rows);
}

// ------------------------------------------------------------------------------------------

function exportLinks() {
  const q = apiParams();
  $('export-csv').href = `api/export?${new URLSearchParams([...q, ['format', 'csv']])}`;
  $('export-ndjson').href = `api/export?${new URLSearchParams([...q, ['format', 'ndjson']])}`;
}

/** Resolves once the deferred BokehJS bundles have run (app.js runs first to start its fetches). */
const bokehLoaded = new Promise((resolve) => {
  if (document.readyState === 'complete') resolve();
  else document.addEventListener('DOMContentLoaded', () => resolve());
});

/**
 * Loads and draws everything; `body[data-ready]` is 'false' meanwhile, then 'true' or 'error'.
 * Every request goes out at once (before BokehJS has even been parsed, on the first load) and each
 * panel is drawn as soon as its answer is in, the charts at the top first.
 */
async function refresh() {
  const mine = ++generation;
  searching = null;
  document.body.dataset.ready = 'false';
  setStatus('Loading…', false);
  exportLinks();
  performance.mark('infralogs:requests');
  const fields = ['identifier', 'comm', 'unit'];
  const answers = {
    volume: getJson('api/volume'),
    heat: getJson('api/heatmap'),
    tops: fields.map((field) => getJson('api/top', { field })),
    entries: getJson('api/entries'),
    health: getJson('api/health', Object.fromEntries(FILTER_KEYS.map((k) => [k, '']))),
  };
  // Not drawn once a newer refresh started.
  const draw = (name, answer, fn) =>
    answer.then(async (body) => {
      await bokehLoaded;
      if (mine !== generation) return;
      const start = performance.now();
      await fn(body);
      performance.measure(`infralogs:${name}`, { start });
    });
  try {
    await Promise.all([
      draw('volume', answers.volume, async (volume) => {
        await drawVolume(volume);
        await drawHostVolume(volume);
      }),
      draw('heatmap', answers.heat, drawHeatmap),
      ...fields.map((field, i) => draw(`top-${field}`, answers.tops[i], (top) => drawTop(top, field))),
      draw('entries', answers.entries, (entries) => showEntries(entries, false)),
      draw('health', answers.health, drawHealth),
    ]);
    if (mine !== generation) return;
    const [volume, health, entries] = await Promise.all([answers.volume, answers.health, answers.entries]);
    fillHostOptions(health.hosts.map((h) => h.name));
    const ignored = [...new Set([...volume.ignored])];
    $('counts-note').hidden = ignored.length === 0;
    $('counts-note').textContent =
      ignored.length === 0
        ? ''
        : `Counts do not apply these filters (no rollup holds them): ${ignored.join(', ')}.`;
    const total = volume.levels.reduce((t, l) => t + volume.counts[l].reduce((a, b) => a + b, 0), 0);
    const hosts = filter.host ? filter.host.split(',').length : health.hosts.length;
    const hostCount = `${hosts} host${hosts === 1 ? '' : 's'}`;
    setStatus(
      `${number.format(total)} entries from ${hostCount}, ${shortTime(volume.window.countsFrom).slice(0, 16)} to ` +
        `${shortTime(volume.window.countsTo).slice(0, 16)} UTC.`,
      false,
    );
    $('search-progress').hidden = entries.search === null;
    document.body.dataset.search = entries.search === null ? 'none' : 'running';
    document.body.dataset.ready = 'true';
    performance.mark('infralogs:drawn');
    if (entries.search !== null) await runSearch(entries, mine);
  } catch (err) {
    if (mine !== generation) return;
    setStatus(`Could not load the dashboard: ${err.message}`, true);
    document.body.dataset.ready = 'error';
  }
}

function schedule() {
  if (refreshTimer) window.clearInterval(refreshTimer);
  refreshTimer = null;
  if (refreshSeconds > 0 && !paused)
    refreshTimer = window.setInterval(() => {
      if (document.body.dataset.ready !== 'false') void refresh();
    }, refreshSeconds * 1000);
  showFilterForm();
}

async function start() {
  readUrl();
  showFilterForm();
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    readFilterForm();
    writeUrl(true);
    void refresh();
  });
  $('range').addEventListener('change', () => {
    $('custom-range').hidden = $('range').value !== 'custom';
    if ($('range').value !== 'custom') $('filters').requestSubmit();
  });
  for (const id of ['hosts-filter', 'prio-from', 'prio-to'])
    $(id).addEventListener('change', () => $('filters').requestSubmit());
  $('clear').addEventListener('click', () => {
    filter = {};
    writeUrl(true);
    showFilterForm();
    void refresh();
  });
  $('refresh').addEventListener('change', () => {
    refreshSeconds = Number($('refresh').value);
    paused = false;
    writeUrl(false);
    schedule();
  });
  $('pause').addEventListener('click', () => {
    paused = !paused;
    schedule();
  });
  $('logout').addEventListener('click', async () => {
    await fetch('logout', { method: 'POST' });
    window.location.assign('login');
  });
  $('older').addEventListener('click', () => void loadOlder());
  $('stop-search').addEventListener('click', () => (searching = null));
  $('close-detail').addEventListener('click', () => ($('detail-section').hidden = true));
  window.addEventListener('popstate', () => {
    readUrl();
    showFilterForm();
    void refresh();
  });
  schedule();
  const first = refresh();
  await bokehLoaded;
  if (typeof window.Bokeh === 'undefined') {
    generation++;
    setStatus('Could not load BokehJS from static/vendor/.', true);
    document.body.dataset.ready = 'error';
    return;
  }
  await first;
}

void start();
