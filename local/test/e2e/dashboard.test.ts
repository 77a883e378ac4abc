import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool, ingestBatch, upsertHost, type Entry } from '@infralogs/core';
import { makeJournalDir, repoRoot, syslogToExport } from '@infralogs/devkit';
import { startLocalStack, type LocalStack } from '../../src/stack';
import { DATABASE_NAME } from '../../src/stack/database';

/**
 * The dashboard on the local stack in a real Chromium (Debian's, never a downloaded one): the login,
 * every panel drawn from the replica through the reader credentials, each filter and each
 * click-to-filter checked against the API, the URL reproducing a view, auto-refresh picking up a
 * new collection, the CSV download, and hostile text (HTML, script, ANSI escapes, bidi overrides in
 * messages, identifiers, units and a host name) shown as inert text everywhere, hovers included.
 * A screenshot is kept in .work/artifacts/.
 */

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = '<script>window.__xss=2</script>';
const ANSI = '\u001b[31mred alert\u001b[0m';
const BIDI = 'invoice\u202Egpj.exe';
const HOSTILE_HOST = `evil${IMG}`;
const ARTIFACTS = join(repoRoot, '.work', 'artifacts');

/** The browser's globals, for functions Playwright runs in the page (no DOM types here). */
interface Model {
  name: string | null;
  data: Record<string, unknown[]>;
  source?: Model;
  data_source?: Model;
}
interface BrowserGlobals {
  Bokeh?: {
    documents: { is_idle: boolean; get_model_by_name(name: string): Model | null; all_models: Set<Model> }[];
    index: { get_one(m: Model): unknown };
  };
  __xss?: unknown;
  document: { body: { dataset: Record<string, string | undefined> } };
  location: { search: string };
}
// app.js sets body[data-ready] to 'false' while it loads and draws, then 'true' (or 'error'); a
// search walks on until data-search is 'done' or 'stopped'; every Bokeh document must be idle.
const SETTLED = () => {
  const { Bokeh, document } = globalThis as unknown as BrowserGlobals;
  return (
    Bokeh !== undefined &&
    document.body.dataset.ready === 'true' &&
    document.body.dataset.search !== 'running' &&
    Bokeh.documents.length > 0 &&
    Bokeh.documents.every((d) => d.is_idle)
  );
};

let stack: LocalStack;
let browser: Browser | undefined;
let context: BrowserContext;
const errors: string[] = [];

async function newPage(ctx = context): Promise<Page> {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1400, height: 1000 });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return page;
}

async function open(page: Page, query = ''): Promise<void> {
  const response = await page.goto(`${stack.dashboardUrl}/${query}`);
  expect(response?.status()).toBe(200);
  await page.waitForFunction(SETTLED, null, { timeout: 60_000 });
}

/** The entries table's rows as the page holds them (time and message). */
function tableRows(page: Page): Promise<{ ts: string; message: string; host: string }[]> {
  return page.evaluate(() => {
    const { Bokeh } = globalThis as unknown as BrowserGlobals;
    const table = Bokeh!.documents.map((d) => d.get_model_by_name('entries')).find(Boolean)!;
    const data = table.source!.data as Record<string, string[]>;
    return data.ts!.map((ts, i) => ({ ts, message: data.message![i]!, host: data.host![i]! }));
  });
}

/** The API's answer for the page's own URL filter (the search walked to the end, as the page does). */
async function apiRows(page: Page): Promise<{ ts: string; message: string; host: string }[]> {
  const search = new URL(page.url()).search;
  const params = new URLSearchParams(search);
  params.delete('refresh');
  const rows: { ts: string; message: string; host: string }[] = [];
  let before: string | null = null;
  for (let i = 0; i < 50; i++) {
    if (before) params.set('before', before);
    const res = await page.request.get(`${stack.dashboardUrl}/api/entries?${params}`);
    expect(res.status()).toBe(200);
    const body = (await res.json()) as {
      entries: { ts: string; message: string | null; host: string; truncated: boolean }[];
      next: string | null;
      search: unknown;
    };
    rows.push(
      ...body.entries.map((e) => ({
        ts: `${e.ts.slice(0, 10)} ${e.ts.slice(11, 23)}`,
        message: (e.message ?? '') + (e.truncated ? ' …' : ''),
        host: e.host,
      })),
    );
    // The page shows one page of an index walk, and searches on until 100 matches.
    if (body.search === null || body.next === null || rows.length >= 100) break;
    before = body.next;
  }
  return rows;
}

async function expectTableAsApi(page: Page) {
  const shown = await tableRows(page);
  expect(shown).toEqual(await apiRows(page));
  return shown;
}

/** A data position of a named plot → page pixels (through the plot view's own scales). */
function plotPoint(page: Page, plotName: string, x: number | string, y: number | string) {
  return page.evaluate(
    ({ plotName, x, y }) => {
      interface Scale {
        compute(v: number): number;
      }
      interface Range {
        synthetic(v: string | number): number;
      }
      interface PlotView {
        frame: { x_scale: Scale; y_scale: Scale };
        canvas_view: {
          el: { getBoundingClientRect(): { left: number; top: number }; scrollIntoView(o: object): void };
        };
      }
      const { Bokeh } = globalThis as unknown as BrowserGlobals;
      const plot = Bokeh!.documents.map((d) => d.get_model_by_name(plotName)).find(Boolean) as Model & {
        x_range: Range;
        y_range: Range;
      };
      const view = Bokeh!.index.get_one(plot) as PlotView;
      const sx = view.frame.x_scale.compute(typeof x === 'string' ? plot.x_range.synthetic(x) : x);
      const sy = view.frame.y_scale.compute(typeof y === 'string' ? plot.y_range.synthetic(y) : y);
      // Pointer events reach only what is in the viewport.
      view.canvas_view.el.scrollIntoView({ block: 'center' });
      const rect = view.canvas_view.el.getBoundingClientRect();
      return { x: rect.left + sx, y: rect.top + sy };
    },
    { plotName, x, y },
  );
}

/** Clicks a glyph of a named plot, as a user does (the TapTool selects it). */
async function clickPlot(page: Page, plotName: string, x: number | string, y: number | string) {
  const point = await plotPoint(page, plotName, x, y);
  await page.mouse.click(point.x, point.y);
}

/** The text of every shown Bokeh tooltip (inside shadow roots). */
function tooltipText(page: Page): Promise<string> {
  return page.evaluate(() => {
    interface Node_ {
      className: unknown;
      shadowRoot: Root | null;
      textContent: string | null;
    }
    interface Root {
      querySelectorAll(selector: string): Iterable<Node_>;
      textContent: string | null;
    }
    const texts: string[] = [];
    const walk = (root: Root) => {
      for (const node of root.querySelectorAll('*')) {
        if (typeof node.className === 'string' && /\bbk-Tooltip\b/.test(node.className))
          texts.push(node.shadowRoot?.textContent ?? node.textContent ?? '');
        if (node.shadowRoot) walk(node.shadowRoot);
      }
    };
    walk((globalThis as unknown as { document: Root }).document);
    return texts.join('\n');
  });
}

/** Hovers a glyph and waits until a tooltip shows `want` (as text). */
async function hoverShows(
  page: Page,
  plotName: string,
  x: number | string,
  y: number | string,
  want: string,
) {
  const point = await plotPoint(page, plotName, x, y);
  await page.mouse.move(point.x - 3, point.y);
  await page.mouse.move(point.x, point.y);
  await expect.poll(() => tooltipText(page), { timeout: 10_000 }).toContain(want);
}

/** Every text the page shows, shadow roots included, and every element that could run code. */
function pageText(page: Page): Promise<{ text: string; dangerous: string[] }> {
  return page.evaluate(() => {
    interface Node_ {
      tagName: string;
      outerHTML: string;
      shadowRoot: Root | null;
      textContent: string | null;
      getAttributeNames(): string[];
    }
    interface Root {
      querySelectorAll(selector: string): Iterable<Node_>;
      textContent: string | null;
    }
    const dangerous: string[] = [];
    let text = '';
    const walk = (root: Root) => {
      for (const node of root.querySelectorAll('*')) {
        if (node.tagName === 'IMG' || (node.tagName === 'SCRIPT' && !/src=/.test(node.outerHTML)))
          dangerous.push(node.outerHTML.slice(0, 200));
        if (node.getAttributeNames().some((a) => a.startsWith('on')))
          dangerous.push(node.outerHTML.slice(0, 200));
        if (node.shadowRoot) walk(node.shadowRoot);
      }
    };
    const doc = (globalThis as unknown as { document: Root & { body: Node_ } }).document;
    text = doc.body.textContent ?? '';
    walk(doc);
    return { text, dangerous };
  });
}

async function login(page: Page) {
  await page.goto(stack.dashboardUrl);
  await page.waitForURL(/\/login$/);
  await page.locator('#user').fill(stack.dashboardLogin.user);
  await page.locator('#password').fill(stack.dashboardLogin.password);
  await page.locator('#login button').click();
  await page.waitForFunction(SETTLED, null, { timeout: 60_000 });
}

const hostileEntries = (): Entry[] => {
  const now = Date.now() * 1000;
  const base = {
    bootId: 'ab'.repeat(16),
    seqnumId: 'cd'.repeat(16),
    hostname: HOSTILE_HOST,
    messageRaw: null,
    pid: 666,
    machineId: 'ef'.repeat(16),
    transport: 'journal',
  };
  const texts: [string, string, string][] = [
    [IMG, SCRIPT, `${IMG}.service`],
    [SCRIPT, SCRIPT, `${IMG}.service`],
    [ANSI, SCRIPT, `${IMG}.service`],
    [BIDI, SCRIPT, `${IMG}.service`],
  ];
  return texts.map(([message, identifier, unit], i) => ({
    ...base,
    seqnum: i + 1,
    realtimeUs: now - (10 - i) * 1_000_000,
    cursor: `s=${base.seqnumId};i=${i + 1};b=${base.bootId};m=1;t=${now};x=${i + 1}`,
    message,
    comm: SCRIPT.slice(0, 15),
    priority: 2,
    syslogIdentifier: identifier,
    unit,
  }));
};

beforeAll(async () => {
  stack = await startLocalStack({
    stateDir: await mkdtemp(join(tmpdir(), 'infralogs-dashboard-e2e-')),
    gatewayPort: 0,
    useMachineJournal: false,
  });
  // A hostile line collected from web-1's journal, newest of its entries.
  const web = stack.hosts.find((h) => h.name === 'web-1')!;
  const line = `Nov 30 00:00:00 web-1 sshd[4242]: ${IMG}`;
  const export_ = syslogToExport([line], {
    hostname: 'web-1',
    seed: 'web-1/hostile',
    realtimeUs: () => Date.now() * 1000,
  });
  await makeJournalDir(export_, web.journalDir!, { file: 'hostile.journal' });
  const run = await stack.collect(['web-1']);
  expect(run.hosts[0]).toMatchObject({ host: 'web-1', inserted: 1, error: null });

  // A host whose very name, identifier, unit and messages are hostile, written by the real ingest
  // core (registered disabled: no agent serves it, so collections leave it alone).
  const pool = createStorePool({
    host: stack.topology.primary.host,
    port: stack.topology.primary.port,
    user: stack.topology.admin.user,
    password: stack.topology.admin.password,
    database: DATABASE_NAME,
  });
  try {
    await upsertHost(pool, { name: HOSTILE_HOST, agentUrl: 'http://127.0.0.9:9/', enabled: false });
    await ingestBatch(pool, { host: HOSTILE_HOST, entries: hostileEntries() });
  } finally {
    await pool.end();
  }
  await stack.topology.waitForReplica();

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  context = await browser.newContext({ acceptDownloads: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  // The stack keeps its data on stop (npm start resumes from it); this test's is thrown away.
  if (stack) await rm(stack.stateDir, { recursive: true, force: true });
}, 120_000);

describe('the dashboard in Chromium', () => {
  it('without a session: the API answers 401 and the page goes to the login', async () => {
    // Its own page: the refused login is a 401 the console reports, as it should.
    const anonymous = await browser!.newContext();
    const page = await anonymous.newPage();
    const api = await page.request.get(`${stack.dashboardUrl}/api/entries`);
    expect(api.status()).toBe(401);
    expect(await api.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    await page.goto(stack.dashboardUrl);
    expect(page.url()).toMatch(/\/function\/dashboard\/login$/);
    await page.locator('#user').fill(stack.dashboardLogin.user);
    await page.locator('#password').fill('wrong password');
    await page.locator('#login button').click();
    await expect(page.locator('#login-status').textContent()).resolves.toBeDefined();
    await page.waitForFunction(() => {
      const d = (
        globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }
      ).document;
      return /wrong user name or password/.test(d.getElementById('login-status').textContent);
    });
    await anonymous.close();
  }, 60_000);

  it('logs in and draws every plot with data from the replica', async () => {
    const page = await newPage();
    await login(page);
    const sizes = await page.evaluate(() => {
      const { Bokeh } = globalThis as unknown as BrowserGlobals;
      const find = (name: string) =>
        Bokeh!.documents.map((d) => d.get_model_by_name(name)).find(Boolean) ?? null;
      const rows = (name: string) => {
        const m = find(name);
        const data = m?.data_source?.data ?? m?.source?.data;
        return data ? (Object.values(data)[0]?.length ?? 0) : -1;
      };
      return {
        volume: rows('volume-bars'),
        host: rows('host-volume-bars'),
        heatmap: rows('heatmap-cells'),
        identifier: Bokeh!.documents.some((d) =>
          [...d.all_models].some((m) => /^top-identifier-/.test(m.name ?? '')),
        ),
        comm: Bokeh!.documents.some((d) => [...d.all_models].some((m) => /^top-comm-/.test(m.name ?? ''))),
        unit: Bokeh!.documents.some((d) => [...d.all_models].some((m) => /^top-unit-/.test(m.name ?? ''))),
        entries: rows('entries'),
      };
    });
    expect(sizes.volume).toBeGreaterThan(0);
    expect(sizes.host).toBeGreaterThan(0);
    expect(sizes.heatmap).toBeGreaterThan(0);
    expect(sizes).toMatchObject({ identifier: true, comm: true, unit: true });
    expect(sizes.entries).toBe(100);
    await page.locator('.bk-Canvas').first().waitFor({ state: 'visible' });
    await page.locator('.bk-DataTable').first().waitFor({ state: 'visible' });
    const hosts = await page.locator('#health tbody tr td:first-child').allTextContents();
    expect(hosts).toEqual([...stack.hosts.map((h) => h.name), HOSTILE_HOST].sort());
    await expectTableAsApi(page);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it('changes the table as the API says for each filter, and a copied URL reproduces the view', async () => {
    const page = await newPage();
    await open(page);
    const steps: [string, (p: Page) => Promise<unknown>][] = [
      ['host', (p) => p.locator('#hosts-filter').selectOption(['db-1'])],
      ['priority', (p) => p.locator('#prio-to').selectOption('4')],
      ['range', (p) => p.locator('#range').selectOption('7d')],
      [
        'identifier',
        (p) =>
          p
            .locator('#identifier')
            .fill('sshd')
            .then(() => p.locator('#apply').click()),
      ],
      [
        'unit',
        (p) =>
          p
            .locator('#unit')
            .fill('sshd.service')
            .then(() => p.locator('#apply').click()),
      ],
      [
        'q',
        (p) =>
          p
            .locator('#q')
            .fill('session')
            .then(() => p.locator('#apply').click()),
      ],
    ];
    let before = await tableRows(page);
    for (const [name, act] of steps) {
      await page.locator('#clear').click();
      await page.waitForFunction(SETTLED);
      before = await tableRows(page);
      await act(page);
      await page.waitForFunction(SETTLED);
      expect(new URL(page.url()).search, name).toContain(name === 'range' ? 'range=7d' : `${name}=`);
      const shown = await expectTableAsApi(page);
      if (name !== 'range') expect(shown, name).not.toEqual(before);
    }
    // The view of the last step, opened from its URL in a new tab.
    const url = page.url();
    const rows = await tableRows(page);
    const copy = await newPage();
    await copy.goto(url);
    await copy.waitForFunction(SETTLED, null, { timeout: 60_000 });
    expect(await tableRows(copy)).toEqual(rows);
    expect(await copy.locator('#q').inputValue()).toBe('session');
    await copy.close();
    await page.close();
  }, 180_000);

  it('filters everything to a clicked top-list row, heatmap cell and volume bar', async () => {
    const page = await newPage();
    await open(page, '?range=7d');
    // The top identifiers' first row (most frequent: the last factor, drawn on top).
    const top = await page.request.get(`${stack.dashboardUrl}/api/top?field=identifier&range=7d`);
    const first = ((await top.json()) as { rows: { value: string; total: number }[] }).rows[0]!;
    await clickPlot(page, 'top-identifier-plot', first.total / 2, first.value);
    await page.waitForFunction(SETTLED);
    expect(new URLSearchParams(new URL(page.url()).search).get('identifier')).toBe(first.value);
    expect((await expectTableAsApi(page)).length).toBeGreaterThan(0);

    // A heatmap cell: that host, that hour, err and worse.
    await open(page, '?range=7d');
    const heat = (await (await page.request.get(`${stack.dashboardUrl}/api/heatmap?range=7d`)).json()) as {
      cells: { host: string; hour: number; n: number }[];
    };
    const cell = heat.cells.find((c) => c.host === 'web-1') ?? heat.cells[0]!;
    await clickPlot(page, 'heatmap-plot', cell.hour + 1_800_000, cell.host);
    await page.waitForFunction(SETTLED);
    const params = new URLSearchParams(new URL(page.url()).search);
    expect(params.get('host')).toBe(cell.host);
    expect(params.get('priority')).toBe('0..3');
    expect(params.get('from')).toBe(new Date(cell.hour).toISOString().replace('.000Z', 'Z'));
    const rows = await expectTableAsApi(page);
    expect(rows.length).toBe(Math.min(cell.n, 100));

    // A bar of the volume chart: its hour.
    await open(page, '?range=7d');
    const volume = (await (await page.request.get(`${stack.dashboardUrl}/api/volume?range=7d`)).json()) as {
      x: number[];
      counts: Record<string, number[]>;
    };
    const i = volume.counts.info!.findIndex((n) => n > 0);
    await clickPlot(page, 'volume-plot', volume.x[i]! + 1_800_000, 0.5);
    await page.waitForFunction(SETTLED);
    expect(new URLSearchParams(new URL(page.url()).search).get('from')).toBe(
      new Date(volume.x[i]!).toISOString().replace('.000Z', 'Z'),
    );
    await expectTableAsApi(page);
    await page.close();
  }, 180_000);

  it('downloads the CSV of the current filter, equal to the API rows', async () => {
    const page = await newPage();
    await open(page, '?host=db-1&range=7d');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#export-csv').click(),
    ]);
    const stream = await download.createReadStream();
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const lines = Buffer.concat(chunks).toString('utf8').split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('ts,host,priority,syslogIdentifier,pid,unit,transport,machineId,message,truncated');
    const api: string[] = [];
    let before = '';
    for (let i = 0; i < 100; i++) {
      const page_ = (await (
        await page.request.get(`${stack.dashboardUrl}/api/entries?host=db-1&range=7d&limit=500${before}`)
      ).json()) as { entries: { ts: string }[]; next: string | null };
      api.push(...page_.entries.map((e) => e.ts));
      if (page_.next === null) break;
      before = `&before=${page_.next}`;
    }
    expect(api.length).toBeGreaterThan(500);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(api);
    await page.close();
  }, 60_000);

  it('shows hostile text inert in the table, the detail view, the top lists and every hover', async () => {
    const page = await newPage();
    await open(page, `?host=${encodeURIComponent(HOSTILE_HOST)}`);
    const rows = await tableRows(page);
    expect(rows.map((r) => r.message)).toEqual([BIDI, ANSI, SCRIPT, IMG]);
    for (const r of rows) expect(r.host).toBe(HOSTILE_HOST);
    await expect(page.getByText(IMG, { exact: true }).first().isVisible()).resolves.toBe(true);
    await expect(page.getByText(SCRIPT, { exact: true }).first().isVisible()).resolves.toBe(true);

    // The detail view of each row (a click on the row).
    const cells = page.locator('.bk-DataTable .slick-row');
    for (let i = 0; i < rows.length; i++) {
      await cells.nth(i).click();
      await page.waitForFunction(
        (want) =>
          (
            globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }
          ).document.getElementById('detail-message').textContent === want,
        rows[i]!.message,
      );
    }
    const detail = await page.locator('#detail').textContent();
    expect(detail).toContain(HOSTILE_HOST);
    expect(detail).toContain(SCRIPT);

    // Hovers: the top lists (identifier, unit) and the heatmap show the hostile values as text.
    await hoverShows(page, 'top-identifier-plot', 2, SCRIPT, SCRIPT);
    await hoverShows(page, 'top-unit-plot', 2, `${IMG}.service`, `${IMG}.service`);
    const heat = (await (
      await page.request.get(`${stack.dashboardUrl}/api/heatmap?host=${encodeURIComponent(HOSTILE_HOST)}`)
    ).json()) as { cells: { host: string; hour: number }[] };
    await hoverShows(page, 'heatmap-plot', heat.cells[0]!.hour + 1_800_000, HOSTILE_HOST, HOSTILE_HOST);
    await hoverShows(page, 'host-volume-plot', heat.cells[0]!.hour + 1_800_000, 1, HOSTILE_HOST);

    const { dangerous } = await pageText(page);
    expect(dangerous).toEqual([]);
    // The table's cells show each message as text (the invisible ESC aside).
    const cellTexts = (await page.locator('.bk-DataTable .slick-cell').allTextContents()).join('\n');
    for (const t of [IMG, SCRIPT, '[31mred alert', BIDI, HOSTILE_HOST, `${IMG}.service`])
      expect(cellTexts).toContain(t);
    expect(await page.evaluate(() => typeof (globalThis as unknown as BrowserGlobals).__xss)).toBe(
      'undefined',
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-hostile.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it('auto-refresh picks up a new collection', async () => {
    const page = await newPage();
    await open(page, '?host=db-1&refresh=5');
    const marker = `auto-refresh marker ${Date.now()}`;
    const db = stack.hosts.find((h) => h.name === 'db-1')!;
    const export_ = syslogToExport([`Nov 30 00:00:00 db-1 app[1]: ${marker}`], {
      hostname: 'db-1',
      seed: 'db-1/refresh',
      realtimeUs: () => Date.now() * 1000,
    });
    await makeJournalDir(export_, db.journalDir!, { file: 'refresh.journal' });
    const run = await stack.collect(['db-1']);
    expect(run.hosts[0]).toMatchObject({ inserted: 1, error: null });
    await stack.topology.waitForReplica();
    await page.waitForFunction(
      (want) => {
        const { Bokeh } = globalThis as unknown as BrowserGlobals;
        const table = Bokeh?.documents.map((d) => d.get_model_by_name('entries')).find(Boolean);
        return (table?.source?.data.message as string[] | undefined)?.[0] === want;
      },
      marker,
      { timeout: 30_000 },
    );
    await page.close();
  }, 90_000);

  it('showed no error in any console', () => {
    expect(errors).toEqual([]);
  });
});
