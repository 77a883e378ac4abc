/*
 * The dashboard page: fetches the function's JSON API (relative URLs, resolved against the page's
 * <base href>) and draws with BokehJS 3 (loaded before this file by the page).
 *
 * Log text is attacker-controlled (anyone who can write to a journal writes it), so it is only ever
 * shown as text: DataTable's default StringFormatter, and textContent for everything built by hand.
 * Never HTMLTemplateFormatter, HTML tooltips, {safe} or innerHTML with API values.
 */
/* global Bokeh, document, window, fetch, URLSearchParams */
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
const HOUR_MS = 3_600_000;
const number = new Intl.NumberFormat('en-US');

const $ = (id) => document.getElementById(id);

/** GET an API path; rejects with the API's own `CODE: message` on an error answer. */
async function getJson(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== '' && value != null) query.set(name, value);
  const url = query.size > 0 ? `${path}?${query}` : path;
  const res = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
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

function filters() {
  return { host: $('host').value, hours: $('hours').value, priority: $('priority').value };
}

// ------------------------------------------------------------------------------------------
// Hosts: the selector and the per-host table (textContent only).

function fillHostSelect(hosts) {
  const select = $('host');
  const chosen = select.value;
  for (const option of [...select.options].slice(1)) option.remove();
  for (const h of hosts) {
    const option = el('option', h.name);
    option.value = h.name;
    select.append(option);
  }
  select.value = hosts.some((h) => h.name === chosen) ? chosen : '';
}

function drawHosts(summary) {
  const table = $('hosts');
  const levels = summary.levels.filter((l) => summary.totals[l] > 0);
  const head = el('tr');
  for (const title of ['host', 'enabled', 'last entry (UTC)', ...levels, 'total']) {
    const th = el('th', title);
    if (COLORS[title]) th.style.color = COLORS[title];
    head.append(th);
  }
  table.tHead.replaceChildren(head);
  const rows = summary.hosts.map((h) => {
    const tr = el('tr');
    tr.append(el('td', h.name), el('td', h.enabled ? 'yes' : 'no'), el('td', shortTime(h.lastEntryAt)));
    for (const l of levels) tr.append(el('td', number.format(h.counts[l]), 'num'));
    tr.append(el('td', number.format(h.total), 'num total'));
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = summary.hosts.length === 0;
  $('hosts-empty').hidden = summary.hosts.length > 0;
}

// ------------------------------------------------------------------------------------------
// Volume: hourly counts stacked by level (Bokeh.Stack; BokehJS has no vbar_stack).

let volumeView = null;

async function drawVolume(volume) {
  if (volumeView) volumeView.remove();
  volumeView = null;
  $('volume').replaceChildren();
  const levels = volume.levels.filter((l) => volume.counts[l].some((n) => n > 0));
  $('volume-empty').hidden = levels.length > 0;
  $('volume').hidden = levels.length === 0;
  if (levels.length === 0) return;

  // Bars centred on their hour; x stays the hour's start for the tooltip.
  const data = { x: volume.x, mid: volume.x.map((t) => t + HOUR_MS / 2) };
  for (const l of levels) data[l] = volume.counts[l];
  const source = new Bokeh.ColumnDataSource({ data });
  const plot = Bokeh.Plotting.figure({
    name: 'volume',
    height: 300,
    sizing_mode: 'stretch_width',
    x_axis_type: 'datetime',
    x_range: [volume.x[0], volume.x[volume.x.length - 1] + HOUR_MS],
    y_axis_label: 'entries',
    tools: 'xpan,xwheel_zoom,box_zoom,reset,save',
    toolbar_location: 'right',
  });
  const items = levels.map((level, i) => {
    const bars = plot.vbar({
      x: { field: 'mid' },
      width: HOUR_MS * 0.85,
      bottom: { expr: new Bokeh.Stack({ fields: levels.slice(0, i) }) },
      top: { expr: new Bokeh.Stack({ fields: levels.slice(0, i + 1) }) },
      source,
      fill_color: COLORS[level],
      line_color: COLORS[level],
      name: level,
    });
    return new Bokeh.LegendItem({ label: level, renderers: [bars] });
  });
  // Above the plot, so it never hides bars; most severe first, as stacked from the bottom.
  plot.add_layout(
    new Bokeh.Legend({
      items,
      orientation: 'horizontal',
      location: 'top_left',
      click_policy: 'hide',
      border_line_alpha: 0,
    }),
    'above',
  );
  // Tuple-list tooltips with numbers only: values go through textContent.
  plot.add_tools(
    new Bokeh.HoverTool({
      tooltips: [['hour (UTC)', '@x{%F %H:00}'], ...levels.map((l) => [l, `@{${l}}`])],
      formatters: { '@x': 'datetime' },
    }),
  );
  plot.y_range.start = 0;
  plot.xgrid.grid_line_color = null;
  volumeView = await Bokeh.Plotting.show(plot, $('volume'));
}

// ------------------------------------------------------------------------------------------
// Latest entries: a DataTable whose cells are text (StringFormatter escapes).

let entriesSource = null;
let nextBefore = null;

function entryColumns(entries) {
  return {
    time: entries.map((e) => shortTime(e.ts)),
    host: entries.map((e) => e.host),
    priority: entries.map((e) => e.priority ?? 'none'),
    color: entries.map((e) => COLORS[e.priority ?? 'none']),
    identifier: entries.map((e) => e.syslogIdentifier ?? ''),
    unit: entries.map((e) => e.unit ?? ''),
    message: entries.map((e) => (e.message ?? '') + (e.truncated ? ' …' : '')),
  };
}

async function createEntriesTable() {
  const T = Bokeh.Tables;
  entriesSource = new Bokeh.ColumnDataSource({ data: entryColumns([]) });
  const column = (field, title, width, formatter) =>
    new T.TableColumn({ field, title, width, ...(formatter ? { formatter } : {}) });
  const table = new T.DataTable({
    name: 'entries',
    source: entriesSource,
    sortable: true,
    index_position: null,
    height: 440,
    sizing_mode: 'stretch_width',
    autosize_mode: 'fit_columns',
    columns: [
      column('time', 'time (UTC)', 170),
      column('host', 'host', 80),
      column(
        'priority',
        'priority',
        65,
        new T.StringFormatter({ text_color: { field: 'color' }, font_style: 'bold' }),
      ),
      column('identifier', 'identifier', 95),
      column('unit', 'unit', 110),
      column('message', 'message', 600),
    ],
  });
  await Bokeh.Plotting.show(table, $('entries'));
}

function showEntries(answer, append) {
  const columns = entryColumns(answer.entries);
  if (append) entriesSource.stream(columns);
  else entriesSource.data = columns;
  nextBefore = answer.next;
  $('older').hidden = nextBefore === null;
  const none = !append && answer.entries.length === 0;
  $('entries-empty').hidden = !none;
  $('entries').hidden = none;
}

async function loadOlder() {
  if (nextBefore === null) return;
  const { host, priority } = filters();
  try {
    showEntries(await getJson('api/entries', { host, priority, before: nextBefore }), true);
  } catch (err) {
    setStatus(`Could not load older entries: ${err.message}`, true);
  }
}

// ------------------------------------------------------------------------------------------

/** Loads and draws everything; `body[data-ready]` is 'false' meanwhile, then 'true' or 'error'. */
async function refresh() {
  const { host, hours, priority } = filters();
  document.body.dataset.ready = 'false';
  setStatus('Loading…', false);
  try {
    const [summary, volume, entries] = await Promise.all([
      getJson('api/summary', { hours }),
      getJson('api/volume', { hours, host }),
      getJson('api/entries', { host, priority }),
    ]);
    fillHostSelect(summary.hosts);
    drawHosts(summary);
    await drawVolume(volume);
    showEntries(entries, false);
    const hostCount = `${summary.hosts.length} host${summary.hosts.length === 1 ? '' : 's'}`;
    setStatus(
      summary.total === 0
        ? `No entries yet in the last ${summary.window.hours} h (${hostCount}).`
        : `${number.format(summary.total)} entries from ${hostCount} in the last ${summary.window.hours} h ` +
            `(to ${shortTime(summary.window.to).slice(0, 16)} UTC).`,
      false,
    );
    document.body.dataset.ready = 'true';
  } catch (err) {
    setStatus(`Could not load the dashboard: ${err.message}`, true);
    document.body.dataset.ready = 'error';
  }
}

async function start() {
  for (const id of ['host', 'hours', 'priority']) $(id).addEventListener('change', () => void refresh());
  $('refresh').addEventListener('click', () => void refresh());
  $('older').addEventListener('click', () => void loadOlder());
  try {
    await createEntriesTable();
  } catch (err) {
    setStatus(`Could not draw the entries table: ${err.message}`, true);
    document.body.dataset.ready = 'error';
    return;
  }
  await refresh();
}

if (typeof window.Bokeh === 'undefined') {
  setStatus('Could not load BokehJS from static/vendor/.', true);
  document.body.dataset.ready = 'error';
} else {
  void start();
}
