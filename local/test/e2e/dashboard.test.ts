import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJournalDir, syslogToExport } from '@infralogs/devkit';
import { startLocalStack, type LocalStack } from '../../src/stack';
import { DATABASE_NAME } from '../../src/stack/database';
import { journalRows } from './journal-truth';

/**
 * The dashboard on the local stack in a real Chromium: the page at the URL `npm start` prints, its
 * BokehJS charts and entries table drawn from the replica through the reader credentials, and a
 * hostile log line shown as text.
 */

const HOSTILE = '<img src=x onerror="window.__xss=1">';
/**
 * The browser's globals, for functions Playwright runs in the page (this project's TypeScript has
 * no DOM types). Functions, not strings: the page's CSP forbids eval, which string predicates use.
 */
interface BrowserGlobals {
  Bokeh?: { documents: { get_model_by_name(name: string): unknown }[] };
  __xss?: unknown;
  document: { body: { dataset: Record<string, string | undefined> } };
}
// app.js sets body[data-ready] to 'false' while it loads and draws, then to 'true' (or 'error').
const READY = () => {
  const g = globalThis as unknown as BrowserGlobals;
  return g.Bokeh !== undefined && g.document.body.dataset.ready !== 'false';
};
const READY_STATE = () => (globalThis as unknown as BrowserGlobals).document.body.dataset.ready;

let stack: LocalStack;
let browser: Browser | undefined;
/** Rows the collections inserted, per host. */
const inserted = new Map<string, number>();

beforeAll(async () => {
  stack = await startLocalStack({
    stateDir: await mkdtemp(join(tmpdir(), 'infralogs-dashboard-e2e-')),
    gatewayPort: 0,
    useMachineJournal: false,
  });
  for (const h of stack.firstRun!.hosts) inserted.set(h.host, h.inserted);

  // An attacker-controlled line, newest of all, appended to web-1's journal and collected.
  const web = stack.hosts.find((h) => h.name === 'web-1')!;
  const line = `Nov 30 00:00:00 web-1 sshd[4242]: ${HOSTILE}`;
  const export_ = syslogToExport([line], {
    hostname: 'web-1',
    seed: 'web-1/hostile',
    realtimeUs: () => Date.now() * 1000,
  });
  await makeJournalDir(export_, web.journalDir!, { file: 'system.journal' });
  const run = await stack.collect(['web-1']);
  expect(run.hosts[0]).toMatchObject({ host: 'web-1', inserted: 1, error: null });
  inserted.set('web-1', inserted.get('web-1')! + 1);
  await stack.topology.waitForReplica();

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  // The stack keeps its data on stop (npm start resumes from it); this test's is thrown away.
  if (stack) await rm(stack.stateDir, { recursive: true, force: true });
}, 120_000);

/** Opens the dashboard and waits for app.js to say it has drawn; collects every error the page shows. */
async function openDashboard(url: string) {
  const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  const response = await page.goto(url);
  expect(response?.status()).toBe(200);
  await page.waitForFunction(READY, null, { timeout: 60_000 });
  return { page, errors };
}

/** Every `img` element on the page, inside Bokeh's shadow roots too. */
function imagesOnPage(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    interface Node_ {
      tagName: string;
      outerHTML: string;
      shadowRoot: Root | null;
    }
    interface Root {
      querySelectorAll(selector: string): Iterable<Node_>;
    }
    const found: string[] = [];
    const walk = (root: Root) => {
      for (const node of root.querySelectorAll('*')) {
        if (node.tagName === 'IMG') found.push(node.outerHTML);
        if (node.shadowRoot) walk(node.shadowRoot);
      }
    };
    walk((globalThis as unknown as { document: Root }).document);
    return found;
  });
}

describe('the dashboard in Chromium', () => {
  it('draws the volume chart, the hosts and the latest entries from the replica, log text as text', async () => {
    // The URL without a trailing slash, as `npm start` prints it.
    const { page, errors } = await openDashboard(stack.dashboardUrl);
    expect(await page.evaluate(READY_STATE)).toBe('true');
    expect(await page.title()).toBe('Infralogs dashboard');
    await page.locator('.bk-Figure').first().waitFor({ state: 'visible' });
    await page.locator('.bk-Canvas').first().waitFor({ state: 'visible' });
    await page.locator('.bk-DataTable').first().waitFor({ state: 'visible' });

    // The stacked chart has one bar renderer per level present.
    const renderers = await page.evaluate(() => {
      const { Bokeh } = globalThis as unknown as BrowserGlobals;
      const levels = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug', 'none'];
      return levels.filter((l) => Bokeh!.documents.some((d) => d.get_model_by_name(l) !== null));
    });
    expect(renderers).toEqual(expect.arrayContaining(['err', 'warning', 'info']));

    // The newest entries of the generated journals are in the table, and the hostile one as text.
    const rows = (await Promise.all(stack.hosts.map((h) => journalRows(h.journalDir!)))).flat();
    rows.sort((a, b) => (a.ts < b.ts ? 1 : -1));
    expect(rows[0]!.message).toBe(HOSTILE);
    for (const r of rows.slice(0, 4))
      await expect(page.getByText(r.message!, { exact: true }).first().isVisible()).resolves.toBe(true);
    expect(await page.evaluate(() => typeof (globalThis as unknown as BrowserGlobals).__xss)).toBe(
      'undefined',
    );
    expect(await imagesOnPage(page)).toEqual([]);

    // Hosts table and selector, filled from /api/summary.
    const hostCells = await page.locator('#hosts tbody tr td:first-child').allTextContents();
    expect(hostCells).toEqual([...stack.hosts.map((h) => h.name)].sort());
    const options = await page.locator('#host option').allTextContents();
    expect(options).toEqual(['all hosts', ...[...stack.hosts.map((h) => h.name)].sort()]);

    await page.screenshot({ path: '/tmp/dashboard.png', fullPage: true });

    // Choosing a host redraws for that host only.
    await page.locator('#host').selectOption('db-1');
    await page.waitForFunction(READY);
    expect(await page.evaluate(READY_STATE)).toBe('true');
    await expect(page.getByText(HOSTILE, { exact: true }).count()).resolves.toBe(0);

    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('answers the API from the replica through the reader: counts equal the rows collected', async () => {
    const page = await browser!.newPage();
    const summary = (await (
      await page.request.get(`${stack.dashboardUrl}/api/summary?hours=168`)
    ).json()) as {
      total: number;
      hosts: { name: string; total: number; enabled: boolean; lastEntryAt: string | null }[];
    };
    await page.close();
    const expected = [...inserted.values()].reduce((s, n) => s + n, 0);
    expect(summary.total).toBe(expected);
    for (const h of summary.hosts) {
      expect(h.total, h.name).toBe(inserted.get(h.name));
      expect(h.enabled).toBe(true);
      expect(h.lastEntryAt).not.toBeNull();
    }

    // The dashboard's connections on the replica belong to a user that may only SELECT.
    const replica = await stack.topology.connect('replica');
    try {
      const [sessions] = (await replica.query(
        `SELECT DISTINCT USER AS user FROM information_schema.PROCESSLIST WHERE DB = ? AND USER NOT IN (?, 'system user')`,
        [DATABASE_NAME, stack.topology.admin.user],
      )) as unknown as [{ user: string }[]];
      expect(sessions.length).toBeGreaterThan(0);
      for (const { user } of sessions) {
        const [grants] = (await replica.query('SHOW GRANTS FOR ?@?', [user, '%'])) as unknown as [
          Record<string, string>[],
        ];
        const text = grants.map((g) => Object.values(g)[0]).join('\n');
        expect(text).toContain(`GRANT SELECT ON \`${DATABASE_NAME}\`.*`);
        expect(text).not.toMatch(/INSERT|UPDATE|DELETE|ALL PRIVILEGES/);
      }
    } finally {
      await replica.end();
    }
  }, 60_000);
});
