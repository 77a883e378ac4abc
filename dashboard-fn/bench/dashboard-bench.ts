import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import {
  createLogger,
  createStorePool,
  ensurePartitions,
  hashPassword,
  loadStatement,
  migrate,
  toRow,
  tsvRow,
  ROLLUP_FIELDS,
  upsertHost,
  type Entry,
  type LogRow,
} from '@infralogs/core';
import { datasetLines, datasetsDir, parseSyslogLine, seededRandom, startTopology } from '@infralogs/devkit';
import { createApp } from '../../templates/node22-ts/index';
import { createAuth } from '../src/auth';
import { createDashboardHandler } from '../src/dashboard';

/**
 * npm run bench:dashboard — the dashboard at fleet scale on a private MariaDB primary + replica:
 *  1. loads `--rows` entries (default 10 million: 10 hosts, 30 days, identifiers and messages from
 *     the loghub datasets plus common daemons, priorities skewed towards info) into the primary with
 *     LOAD DATA LOCAL, computes the rollups with SQL (as ingest would have kept them), and waits for
 *     the replica;
 *  2. serves the function (the template's wrapper) on loopback, reading the replica as a SELECT-only
 *     user, and times every API endpoint over HTTP for 24 h and 7 d, with and without filters
 *     (p50/p95 of `--repeat` calls each), the budgeted search (rows searched per second), and the
 *     page fully drawn in Chromium (every Bokeh document idle).
 * Ends with RESULT dashboard_p95_ms_24h, _7d (the slowest endpoint), dashboard_search_p95_ms and
 * dashboard_page_ms. Export streams up to 100,000 rows by design and is timed apart.
 *
 * `--data-dir DIR` keeps both servers' data in DIR and, on the next run with the same DIR, starts on
 * it instead of loading again (loading 10 M rows is most of the run): the newest migrations are
 * applied, rollup tables they add are filled, and the API's clock is the load's own (the data ends
 * where the load was made). A load cut short is noticed (no `bench_dataset` row) and redone.
 * `--parts api,search,export,page` times only those (all by default); `--page-loads N` (10) page
 * loads are timed after one warm-up, each printed with where its time went; `--page-profile FILE`
 * writes Chromium's CPU profile of the last load there (open it in DevTools' Performance panel).
 */
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    hosts: { type: 'string', default: '10' },
    days: { type: 'string', default: '30' },
    repeat: { type: 'string', default: '20' },
    'buffer-pool': { type: 'string', default: '2G' },
    'data-dir': { type: 'string' },
    parts: { type: 'string', default: 'api,search,export,page' },
    'page-loads': { type: 'string', default: '10' },
    'page-profile': { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const HOSTS = Number(args.hosts);
const DAYS = Number(args.days);
const REPEAT = Number(args.repeat);
const PARTS = new Set(args.parts.split(','));
const PAGE_LOADS = Number(args['page-loads']);
const DB = 'infralogs_bench';
const READER = 'bench_reader';
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

const hex = (s: string) => createHash('md5').update(s).digest('hex');

/** What a fleet's journal holds: the datasets' lines and the daemons every host runs. */
function templates() {
  const dir = datasetsDir();
  const fromData = (['OpenSSH_2k', 'Linux_2k'] as const)
    .flatMap((d) => datasetLines(d, dir))
    .map((line) => parseSyslogLine(line, 2026))
    .map((l) => ({ identifier: l.identifier ?? 'kernel', message: l.message }));
  const daemons = [
    ['systemd', 'Started Session 42 of user deploy.'],
    ['systemd', 'Reloading.'],
    ['CRON', '(root) CMD (run-parts --report /etc/cron.hourly)'],
    ['nginx', '10.0.0.12 - - "GET /api/v1/health HTTP/1.1" 200 17'],
    ['dockerd', 'level=info msg="ignoring event" container=3f2a module=libcontainerd'],
    ['containerd', 'shim disconnected id=3f2a namespace=moby'],
    ['kernel', 'EXT4-fs (vda1): re-mounted. Opts: errors=remount-ro'],
    ['postgres', 'LOG:  checkpoint complete: wrote 112 buffers (0.7%)'],
    ['systemd-journald', 'Journal started'],
    ['sudo', 'deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart app'],
  ].map(([identifier, message]) => ({ identifier: identifier!, message: message! }));
  return [...fromData, ...daemons, ...daemons, ...daemons];
}
const UNIT_OF: Record<string, string | null> = {
  kernel: null,
  CRON: 'cron.service',
  nginx: 'nginx.service',
  dockerd: 'docker.service',
  containerd: 'containerd.service',
  postgres: 'postgresql.service',
  systemd: 'init.scope',
  'systemd-journald': 'systemd-journald.service',
  sudo: null,
};
const PRIORITIES = [6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 4, 3, 7, 7, 2, null];

/** One host's rows, oldest first, spread evenly (with jitter) over the window, as LOAD DATA text. */
function* hostRows(
  hostId: number,
  name: string,
  n: number,
  startMs: number,
  spanMs: number,
): Generator<LogRow> {
  const lines = templates();
  const rnd = seededRandom(hostId * 7919);
  const bootId = hex(`boot-${name}`);
  const seqnumId = hex(`seqnum-${name}`);
  const stepUs = (spanMs * 1000) / n;
  for (let i = 0; i < n; i++) {
    const t = lines[Math.floor(rnd() * lines.length)]!;
    const us = Math.floor(startMs * 1000 + i * stepUs + rnd() * stepUs * 0.9);
    const identifier = t.identifier.replace(/\(.*$/, '');
    const e: Entry = {
      cursor: `s=${seqnumId};i=${(i + 1).toString(16)};b=${bootId};m=${i.toString(16)};t=${us.toString(16)};x=${i.toString(16)}`,
      bootId,
      seqnumId,
      seqnum: i + 1,
      realtimeUs: us,
      message: t.message,
      messageRaw: null,
      hostname: name,
      comm: identifier.slice(0, 15),
      pid: 100 + Math.floor(rnd() * 30_000),
      priority: PRIORITIES[Math.floor(rnd() * PRIORITIES.length)]!,
      syslogIdentifier: t.identifier,
      unit: identifier in UNIT_OF ? UNIT_OF[identifier]! : `${identifier}.service`,
      machineId: hex(`machine-${name}`),
      transport: 'syslog',
    };
    yield toRow(hostId, e);
  }
}

function* tsvPieces(rows: Generator<LogRow>): Generator<Buffer> {
  let text = '';
  for (const r of rows) {
    text += tsvRow(r);
    if (text.length >= 256 * 1024) {
      yield Buffer.from(text, 'utf8');
      text = '';
    }
  }
  if (text) yield Buffer.from(text, 'utf8');
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const ms = (x: number) => x.toFixed(1);

/**
 * The rollups as ingest would have kept them, computed with SQL. Each host's rows are read in
 * slices of its primary key (its one seqnum id, seqnum ranges: the rows are stored in that order),
 * so each slice's groups fit an in-memory temporary table and every slice is read from disk once
 * for all four tables. Tables that hold rows already are left alone (a kept dataset).
 */
async function fillRollups(pool: ReturnType<typeof createStorePool>) {
  const conn = await pool.getConnection();
  try {
    const empty = async (table: string) =>
      ((await conn.query(`SELECT 1 FROM ${table} LIMIT 1`)) as unknown as [unknown[]])[0].length === 0;
    await conn.query(`SET SESSION tmp_table_size = 268435456, max_heap_table_size = 268435456`);
    const hour = `DATE_FORMAT(ts, '%Y-%m-%d %H:00:00')`;
    const upsert = 'ON DUPLICATE KEY UPDATE n = n + VALUES(n)';
    const statements: string[] = [];
    if (await empty('log_counts_hourly'))
      statements.push(`INSERT INTO log_counts_hourly (host_id, hour, priority, n)
        SELECT host_id, ${hour}, COALESCE(priority, 255), COUNT(*) FROM logs WHERE %SLICE% GROUP BY 1, 2, 3 ${upsert}`);
    if (await empty('log_field_counts_hourly'))
      for (const f of Object.values(ROLLUP_FIELDS))
        statements.push(`INSERT INTO log_field_counts_hourly (field, hour, host_id, value, priority, n)
          SELECT ${f.id}, ${hour}, host_id, COALESCE(${f.column}, ''), COALESCE(priority, 255), COUNT(*)
            FROM logs WHERE %SLICE% GROUP BY 2, 3, 4, 5 ${upsert}`);
    const [hosts] = (await conn.query('SELECT id, name FROM hosts ORDER BY id')) as unknown as [
      { id: number; name: string }[],
    ];
    const perHost = Math.floor(ROWS / HOSTS);
    const SLICE = 100_000;
    for (const h of hosts) {
      const t0 = performance.now();
      for (let from = 0; from < perHost && statements.length > 0; from += SLICE) {
        const slice = `host_id = ${h.id} AND seqnum_id = UNHEX('${hex(`seqnum-${h.name}`)}')
          AND seqnum > ${from} AND seqnum <= ${from + SLICE}`;
        for (const sql of statements) await conn.query(sql.replace('%SLICE%', slice));
      }
      if (statements.length > 0)
        log(`rollups of ${h.name} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    if (await empty('log_field_counts_daily'))
      await conn.query(`INSERT INTO log_field_counts_daily (field, day, host_id, value, priority, n)
        SELECT field, DATE(hour), host_id, value, priority, SUM(n) FROM log_field_counts_hourly GROUP BY 1, 2, 3, 4, 5`);
    if (await empty('host_activity'))
      await conn.query(`INSERT INTO host_activity (host_id, newest_ts, beat_at)
        SELECT host_id, MAX(ts), UTC_TIMESTAMP(6) FROM logs GROUP BY host_id`);
  } finally {
    conn.release();
  }
}

/**
 * Loads the dataset into the primary (or finds it loaded by an earlier run with --data-dir) and
 * waits for the replica. Returns the time the data ends at (the API's "now").
 */
async function prepareDataset(topology: Awaited<ReturnType<typeof startTopology>>): Promise<number> {
  const admin = await topology.connect('primary');
  const [found] = (await admin.query(
    `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`,
    [DB],
  )) as unknown as [unknown[]];
  let loadedAt: number | null = null;
  let resumed = false;
  if (found.length > 0) {
    const [rows] = (await admin
      .query(`SELECT \`rows\`, hosts, days, loaded_at AS loadedAt FROM ${DB}.bench_dataset`)
      .catch(() => [[]])) as unknown as [{ rows: number; hosts: number; days: number; loadedAt: Date }[]];
    const d = rows[0];
    if (d && Number(d.rows) === ROWS && Number(d.hosts) === HOSTS && Number(d.days) === DAYS)
      loadedAt = d.loadedAt.getTime();
    else if (!d && (await loadedButNotRolledUp(admin))) {
      // Stopped during its rollups: the rows and indexes are all there, the rollups start over.
      log('the kept dataset has its rows and indexes but not all rollups: computing them again');
      for (const t of [
        'log_counts_hourly',
        'log_field_counts_hourly',
        'log_field_counts_daily',
        'host_activity',
      ])
        await admin.query(`TRUNCATE TABLE ${DB}.${t}`);
      const [[newest]] = (await admin.query(
        `SELECT MAX(t) AS t FROM (SELECT (SELECT MAX(ts) FROM ${DB}.logs FORCE INDEX (ix_logs_host_ts) WHERE host_id = h.id) AS t FROM ${DB}.hosts h) x`,
      )) as unknown as [[{ t: Date }]];
      loadedAt = newest.t.getTime() + 1000;
      resumed = true;
    } else {
      log(
        d
          ? `the kept dataset is ${d.rows} rows, ${d.hosts} hosts, ${d.days} days: loading anew`
          : 'the kept dataset is incomplete: loading anew',
      );
      await admin.query(`DROP DATABASE ${DB}`);
    }
  }
  if (loadedAt === null) await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  const pool = createStorePool({
    host: topology.primary.host,
    port: topology.primary.port,
    user: topology.admin.user,
    password: topology.admin.password,
    database: DB,
    connectionLimit: 4,
  });
  try {
    if (loadedAt !== null) {
      log(`reusing the kept dataset loaded at ${new Date(loadedAt).toISOString()}`);
      const { applied } = await migrate(pool, { now: new Date(loadedAt) });
      if (applied.length > 0) log(`applied ${applied.join(', ')}`);
      const t0 = performance.now();
      await fillRollups(pool);
      log(`rollups checked in ${((performance.now() - t0) / 1000).toFixed(1)} s; waiting for the replica…`);
      if (resumed) await markLoaded(pool, loadedAt);
    } else loadedAt = await loadDataset(topology, pool);
    await pool.query(`CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY 'bench-reader-pw'`, [READER]);
    await pool.query(`GRANT SELECT ON ${DB}.* TO ?@'%'`, [READER]);
    const waited = await topology.waitForReplica(3_600_000);
    log(`replica caught up after ${(waited / 1000).toFixed(1)} s`);
    return loadedAt;
  } finally {
    await pool.end();
  }
}

/** Rows of every host there, and every secondary index of `logs` (built after the load). */
async function loadedButNotRolledUp(admin: import('mysql2/promise').Connection): Promise<boolean> {
  const [[indexes]] = (await admin.query(
    `SELECT COUNT(DISTINCT INDEX_NAME) AS n FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'logs' AND INDEX_NAME <> 'PRIMARY'`,
    [DB],
  )) as unknown as [[{ n: number }]];
  if (Number(indexes.n) < 4) return false; // the migrations leave four
  const [[count]] = (await admin.query(
    `SELECT COUNT(*) AS n FROM ${DB}.logs FORCE INDEX (ix_logs_host_ts)`,
  )) as unknown as [[{ n: number }]];
  return Number(count.n) === Math.floor(ROWS / HOSTS) * HOSTS;
}

async function markLoaded(pool: ReturnType<typeof createStorePool>, at: number) {
  await pool.query(
    `CREATE TABLE bench_dataset (\`rows\` BIGINT NOT NULL, hosts INT NOT NULL, days INT NOT NULL, loaded_at DATETIME(3) NOT NULL)`,
  );
  await pool.query(`INSERT INTO bench_dataset VALUES (?, ?, ?, ?)`, [ROWS, HOSTS, DAYS, new Date(at)]);
}

async function loadDataset(
  topology: Awaited<ReturnType<typeof startTopology>>,
  pool: ReturnType<typeof createStorePool>,
): Promise<number> {
  const now = Date.now();
  const spanMs = DAYS * 86_400_000;
  const startMs = now - spanMs;
  await migrate(pool, { now: new Date(startMs) });
  // Day partitions for the whole window: migrate made a week around its `now`, this adds the rest.
  await ensurePartitions(pool, { now: new Date(now) });
  const names = Array.from({ length: HOSTS }, (_, i) => `host-${String(i + 1).padStart(2, '0')}`);
  for (const name of names) await upsertHost(pool, { name, agentUrl: `http://127.0.0.1:9/${name}` });
  const [hosts] = (await pool.query('SELECT id, name FROM hosts ORDER BY name')) as unknown as [
    { id: number; name: string }[],
  ];

  // 1. Rows, then rollups by SQL. The secondary indexes are dropped for the load and built after
  // it (sorted builds, far faster than 10 M random inserts), the replica applies afterwards; the
  // definitions are read back from the schema, so they stay the migrations' own.
  const [indexRows] = (await pool.query(
    `SELECT INDEX_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS columns
       FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'logs' AND INDEX_NAME <> 'PRIMARY'
      GROUP BY INDEX_NAME`,
  )) as unknown as [{ name: string; columns: string }[]];
  await pool.query(`ALTER TABLE logs ${indexRows.map((i) => `DROP INDEX ${i.name}`).join(', ')}`);
  const replicaAdmin = await topology.connect('replica');
  await replicaAdmin.query('STOP SLAVE SQL_THREAD');
  let started = performance.now();
  const perHost = Math.floor(ROWS / HOSTS);
  const conn = await pool.getConnection();
  try {
    for (const h of hosts) {
      const t0 = performance.now();
      await conn.query({
        sql: loadStatement('rows'),
        infileStreamFactory: () => Readable.from(tsvPieces(hostRows(h.id, h.name, perHost, startMs, spanMs))),
      });
      log(
        `loaded ${perHost.toLocaleString('en-US')} rows of ${h.name} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    conn.release();
  }
  const loadS = (performance.now() - started) / 1000;
  started = performance.now();
  await pool.query(
    `ALTER TABLE logs ${indexRows
      .map(
        (i) =>
          `ADD INDEX ${i.name} (${i.columns
            .split(',')
            .map((c) => `\`${c}\``)
            .join(', ')})`,
      )
      .join(', ')}`,
  );
  const indexS = (performance.now() - started) / 1000;
  log(`built ${indexRows.length} secondary indexes in ${indexS.toFixed(1)} s`);
  started = performance.now();
  await fillRollups(pool);
  const rollupS = (performance.now() - started) / 1000;
  log(
    `loaded ${(perHost * HOSTS).toLocaleString('en-US')} rows in ${loadS.toFixed(1)} s, rollups in ${rollupS.toFixed(1)} s; waiting for the replica…`,
  );
  // Last: a run cut short before this row loads anew next time.
  await markLoaded(pool, now);
  await replicaAdmin.query('START SLAVE SQL_THREAD');
  await replicaAdmin.end();
  return now;
}

async function main() {
  const dataDir = args['data-dir'];
  const topology = await startTopology({
    extraArgs: [`--innodb-buffer-pool-size=${args['buffer-pool']}`, '--innodb-flush-log-at-trx-commit=2'],
    log,
    ...(dataDir ? { baseDir: dataDir, keepData: true, reuseData: true } : {}),
  });
  let server: import('node:http').Server | undefined;
  try {
    const dataEndsAt = await prepareDataset(topology);
    // The API's clock runs from where the data ends (a kept dataset was loaded some time ago).
    const clockOffset = Date.now() - dataEndsAt;

    // 2. The function on loopback, reading the replica.
    const replicaPool = createStorePool({
      host: topology.replica.host,
      port: topology.replica.port,
      user: READER,
      password: 'bench-reader-pw',
      database: DB,
      connectionLimit: 10,
    });
    const users = new Map([['bench', await hashPassword('bench-password', { N: 1024, r: 8, p: 1 })]]);
    const handler = createDashboardHandler({
      getDatabase: async () => ({
        role: 'reader',
        getPool: () => replicaPool,
        close: () => replicaPool.end(),
      }),
      staticDir: new URL('../static', import.meta.url).pathname,
      basePath: '/',
      auth: createAuth({ path: '/', loadSecrets: async () => ({ users, key: Buffer.from('b'.repeat(40)) }) }),
      log: createLogger({ component: 'dashboard' }, { write: () => {} }),
      now: () => new Date(Date.now() - clockOffset),
    });
    const app = createApp({ handler, log: createLogger({}, { write: () => {} }) });
    server = await new Promise<import('node:http').Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const loginRes = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'bench', password: 'bench-password' }),
    });
    const cookie = loginRes.headers.get('set-cookie')!.split(';')[0]!;
    const get = async (path: string) => {
      const t0 = performance.now();
      const res = await fetch(`${base}${path}`, { headers: { cookie } });
      const body = await res.arrayBuffer();
      if (res.status !== 200)
        throw new Error(`${path}: HTTP ${res.status} ${Buffer.from(body).toString().slice(0, 300)}`);
      return { ms: performance.now() - t0, body: Buffer.from(body) };
    };

    const slowest: Record<string, number> = { '24h': 0, '7d': 0 };
    const search: number[] = [];
    const page_: number[] = [];
    if (PARTS.has('api')) {
      const entry = JSON.parse(String((await get('/api/entries?range=24h&limit=1')).body)) as {
        entries: { id: string }[];
      };
      const endpoints = [
        '/api/summary',
        '/api/volume',
        '/api/heatmap',
        '/api/top?field=identifier',
        '/api/top?field=comm',
        '/api/top?field=unit',
        '/api/entries',
        '/api/health',
      ];
      const filters: [string, string][] = [
        ['no filter', ''],
        ['host', 'host=host-03'],
        ['priority', 'priority=0..3'],
        ['hosts+priority', 'host=host-02,host-07&priority=0..3'],
        ['identifier', 'identifier=sshd'],
        ['unit', 'unit=nginx.service'],
      ];
      for (const range of ['24h', '7d']) {
        for (const endpoint of endpoints) {
          for (const [fname, f] of endpoint === '/api/health' ? [filters[0]!] : filters) {
            const sep = endpoint.includes('?') ? '&' : '?';
            const path = `${endpoint}${sep}range=${range}${f ? `&${f}` : ''}`;
            await get(path);
            const times: number[] = [];
            for (let i = 0; i < REPEAT; i++) times.push((await get(path)).ms);
            const p95 = pct(times, 95);
            slowest[range] = Math.max(slowest[range]!, p95);
            console.log(
              `${range.padEnd(4)} ${endpoint.padEnd(26)} ${fname.padEnd(15)} p50 ${ms(pct(times, 50)).padStart(7)} ms  p95 ${ms(p95).padStart(7)} ms`,
            );
          }
        }
      }
      const detail: number[] = [];
      for (let i = 0; i < REPEAT; i++) detail.push((await get(`/api/entry?id=${entry.entries[0]!.id}`)).ms);
      console.log(
        `     /api/entry                 by id           p50 ${ms(pct(detail, 50)).padStart(7)} ms  p95 ${ms(pct(detail, 95)).padStart(7)} ms`,
      );
      slowest['24h'] = Math.max(slowest['24h']!, pct(detail, 95));
    }

    if (PARTS.has('search')) {
      // Search: budgeted steps walked to the end of the range (or 30 steps).
      let scanned = 0;
      let searchMs = 0;
      for (const [range, q] of [
        ['24h', 'Failed password'],
        ['7d', 'Failed password'],
        ['24h', 'no such text anywhere'],
        ['7d', 'no such text anywhere'],
      ] as const) {
        let before = '';
        let matches = 0;
        let steps = 0;
        let rangeScanned = 0;
        for (; steps < 30; steps++) {
          const r = await get(`/api/entries?range=${range}&q=${encodeURIComponent(q)}${before}`);
          const body = JSON.parse(String(r.body)) as {
            entries: unknown[];
            next: string | null;
            search: { scanned: number };
          };
          search.push(r.ms);
          searchMs += r.ms;
          scanned += body.search.scanned;
          rangeScanned += body.search.scanned;
          matches += body.entries.length;
          if (body.next === null) break;
          before = `&before=${body.next}`;
        }
        console.log(
          `search ${range} "${q}": ${steps + 1} requests, ${matches} matches, about ${rangeScanned.toLocaleString('en-US')} rows searched`,
        );
      }
      const rowsPerS = scanned / (searchMs / 1000);
      console.log(
        `search: ${search.length} requests, p50 ${ms(pct(search, 50))} ms, p95 ${ms(pct(search, 95))} ms, about ${Math.round(rowsPerS).toLocaleString('en-US')} rows searched per second`,
      );
    }

    if (PARTS.has('export')) {
      const exportT0 = performance.now();
      const exported = await get('/api/export?range=24h&host=host-01&format=csv');
      console.log(
        `export 24h host-01 CSV: ${exported.body.toString().split('\r\n').length - 2} rows, ${(exported.body.length / 1e6).toFixed(1)} MB in ${ms(performance.now() - exportT0)} ms`,
      );
    }

    if (PARTS.has('page')) {
      // The page in Chromium: navigation until every Bokeh document is idle and the page says ready.
      const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      try {
        const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
        await context.addCookies([{ name: cookie.split('=')[0]!, value: cookie.split('=')[1]!, url: base }]);
        const page = await context.newPage();
        for (let i = 0; i <= PAGE_LOADS; i++) {
          const profiling = args['page-profile'] !== undefined && i === PAGE_LOADS;
          const cdp = profiling ? await context.newCDPSession(page) : null;
          if (cdp) {
            await cdp.send('Profiler.enable');
            await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
            await cdp.send('Profiler.start');
          }
          const t0 = performance.now();
          await page.goto(`${base}/?range=${i % 2 === 0 ? '24h' : '7d'}`);
          await page.waitForFunction(
            () => {
              const g = globalThis as unknown as {
                Bokeh?: { documents: { is_idle: boolean }[] };
                document: { body: { dataset: Record<string, string | undefined> } };
              };
              return (
                g.document.body.dataset.ready === 'true' &&
                g.Bokeh !== undefined &&
                g.Bokeh.documents.length > 0 &&
                g.Bokeh.documents.every((d) => d.is_idle)
              );
            },
            null,
            { timeout: 60_000 },
          );
          const t = performance.now() - t0;
          if (cdp) {
            const { profile } = await cdp.send('Profiler.stop');
            await writeFile(args['page-profile']!, JSON.stringify(profile));
            await cdp.detach();
          }
          if (i > 0) page_.push(t); // the first load warms the bundles' cache
          // Where the time went, by the page's own clock: bundles run, API answers in, drawn.
          // A string, not a function: tsx would wrap its inner functions in a helper the page lacks.
          const phases = (await page.evaluate(`(() => {
          const p = globalThis.performance;
          const nav = p.getEntriesByType('navigation')[0];
          const api = p.getEntriesByType('resource').filter((r) => r.name.includes('/api/'));
          return {
            bundles: nav.domContentLoadedEventEnd,
            requests: p.getEntriesByName('infralogs:requests').at(-1)?.startTime ?? NaN,
            answers: Math.max(...api.map((r) => r.responseEnd)),
            drawn: p.getEntriesByName('infralogs:drawn').at(-1)?.startTime ?? NaN,
            panels: p.getEntriesByType('measure').filter((m) => m.name.startsWith('infralogs:'))
              .map((m) => m.name.slice(10) + ' ' + Math.round(m.startTime) + '+' + Math.round(m.duration)).join(', '),
          };
        })()`)) as {
            bundles: number;
            requests: number;
            answers: number;
            drawn: number;
            panels: string;
          };
          console.log(
            `page ${i % 2 === 0 ? '24h' : '7d'} drawn in ${ms(t)} ms${i === 0 ? ' (warm-up)' : ''}: ` +
              `requests sent at ${ms(phases.requests)} ms, bundles run by ${ms(phases.bundles)} ms, ` +
              `answers in by ${ms(phases.answers)} ms, drawn at ${ms(phases.drawn)} ms (panels at+ms: ${phases.panels})`,
          );
        }
      } finally {
        await browser.close();
      }
    }
    await replicaPool.end();

    if (PARTS.has('api')) {
      console.log(`RESULT dashboard_p95_ms_24h=${ms(slowest['24h']!)}`);
      console.log(`RESULT dashboard_p95_ms_7d=${ms(slowest['7d']!)}`);
    }
    if (PARTS.has('search')) console.log(`RESULT dashboard_search_p95_ms=${ms(pct(search, 95))}`);
    if (PARTS.has('page')) console.log(`RESULT dashboard_page_ms=${ms(pct(page_, 95))}`);
  } finally {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await topology.stop();
  }
}

await main();
