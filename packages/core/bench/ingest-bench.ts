import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { build } from 'esbuild';
import { startTopology, type Topology } from '@infralogs/devkit';
import { upsertHost } from '../src/store/hosts';
import { migrate } from '../src/store/migrations';
import { LOAD_COLUMNS, LOGS_COLUMNS, toRow, tsvRow, type LogRow } from '../src/store/rows';
import { createStorePool } from '../src/store/sql';
import { benchBatches, benchHosts, defaultDatasetsDir } from './entries';

/**
 * npm run bench:ingest — the same generated entries loaded three ways into the same schema on one
 * fresh private primary + replica:
 *   ingest        ingestBatch (idempotent insert, rollups, gaps, checkpoint; one transaction a batch)
 *   LOAD DATA     LOAD DATA LOCAL INFILE of the same rows (the practical limit)
 *   single INSERT one autocommitted INSERT per row, like rsyslog's ommysql (on a subset, scaled)
 * Every phase gets its own fresh database and waits for the replica before the next one starts.
 */
const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '500000' },
    'batch-size': { type: 'string', default: '5000' },
    hosts: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1' },
    'single-rows': { type: 'string', default: '20000' },
    'chunk-rows': { type: 'string' },
  },
});
const TOTAL = Number(args.entries);
const BATCH = Number(args['batch-size']);
const HOSTS = Number(args.hosts);
const CONCURRENCY = Number(args.concurrency);
const SINGLE = Math.min(Number(args['single-rows']), TOTAL);
const START_US = Date.now() * 1000 - 36 * 3600 * 1_000_000; // spans today and yesterday
const here = dirname(fileURLToPath(import.meta.url));
const DATASETS = defaultDatasetsDir();

const say = (line: string) => process.stdout.write(line + '\n');

async function freshDatabase(topo: Topology, name: string) {
  const admin = await topo.connect('primary');
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const pool = createStorePool({
    host: topo.primary.host,
    port: topo.primary.port,
    user: topo.admin.user,
    password: topo.admin.password,
    database: name,
  });
  await migrate(pool);
  const ids = new Map<string, number>();
  for (const h of benchHosts(HOSTS))
    ids.set(h, (await upsertHost(pool, { name: h, agentUrl: 'http://127.0.0.1:9' })).id);
  await pool.end();
  return ids;
}

async function countRows(topo: Topology, db: string): Promise<number> {
  const c = await topo.connect('primary', db);
  const [rows] = await c.query('SELECT COUNT(*) AS n FROM logs');
  await c.end();
  return Number((rows as { n: number }[])[0]!.n);
}

/** Every row of the benchmark, in batch order, as mapped by the ingest core. */
function* allRows(ids: Map<string, number>, limit = TOTAL): Generator<LogRow> {
  let n = 0;
  const options = { total: TOTAL, batchSize: BATCH, hosts: HOSTS, startUs: START_US, datasetsDir: DATASETS };
  for (const b of benchBatches(options)) {
    for (const e of b.entries) {
      if (n++ >= limit) return;
      yield toRow(ids.get(b.host)!, e);
    }
  }
}

async function runIngest(
  topo: Topology,
  dir: string,
): Promise<{ rowsPerS: number; rssMb: number; inserted: number }> {
  const database = 'bench_ingest';
  await freshDatabase(topo, database);
  const worker = join(dir, 'ingest-worker.mjs');
  await build({
    entryPoints: [join(here, 'ingest-worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: worker,
    logLevel: 'warning',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  const child = spawn(process.execPath, [worker], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(
    JSON.stringify({
      db: { ...topo.admin, host: topo.primary.host, port: topo.primary.port, database },
      total: TOTAL,
      batchSize: BATCH,
      hosts: HOSTS,
      startUs: START_US,
      datasetsDir: DATASETS,
      concurrency: CONCURRENCY,
      ...(args['chunk-rows'] ? { maxChunkRows: Number(args['chunk-rows']) } : {}),
    }),
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`ingest worker exited with ${code}`);
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
    inserted: number;
    batches: number;
    ingestMs: number;
    generateMs: number;
    peakRssMb: number;
  };
  say(
    `ingest: ${r.inserted} rows in ${r.batches} batches of ${BATCH} (concurrency ${CONCURRENCY}), ` +
      `${(r.ingestMs / 1000).toFixed(2)} s in ingestBatch (+${(r.generateMs / 1000).toFixed(2)} s generating, not counted)`,
  );
  return { rowsPerS: r.inserted / (r.ingestMs / 1000), rssMb: r.peakRssMb, inserted: r.inserted };
}

async function runLoadData(topo: Topology, dir: string): Promise<number> {
  const database = 'bench_load';
  const ids = await freshDatabase(topo, database);
  const file = join(dir, 'rows.tsv');
  const out = createWriteStream(file);
  for (const row of allRows(ids)) {
    if (!out.write(tsvRow(row))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  const c = await topo.connect('primary', database);
  try {
    const t = performance.now();
    await c.query({
      sql: `LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE logs CHARACTER SET utf8mb4
            FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'
            ${LOAD_COLUMNS}`,
      infileStreamFactory: () => createReadStream(file),
    });
    const s = (performance.now() - t) / 1000;
    const n = await countRows(topo, database);
    say(`LOAD DATA: ${n} rows in ${s.toFixed(2)} s`);
    if (n !== TOTAL) throw new Error(`LOAD DATA stored ${n} rows, expected ${TOTAL}`);
    return n / s;
  } finally {
    await c.end();
  }
}

async function runSingleInserts(topo: Topology): Promise<number> {
  const database = 'bench_single';
  const ids = await freshDatabase(topo, database);
  const c: Connection = await topo.connect('primary', database);
  const sql = `INSERT INTO logs (${LOGS_COLUMNS.map((x) => `\`${x}\``).join(', ')}) VALUES (${LOGS_COLUMNS.map(() => '?').join(', ')})`;
  try {
    const rows = [...allRows(ids, SINGLE)];
    const t = performance.now();
    for (const row of rows) await c.query(sql, row);
    const s = (performance.now() - t) / 1000;
    say(
      `single INSERT: ${rows.length} rows (a subset, autocommit) in ${s.toFixed(2)} s; rows/s scaled to the full run`,
    );
    return rows.length / s;
  } finally {
    await c.end();
  }
}

async function replicaCatchUp(topo: Topology): Promise<number> {
  const t = performance.now();
  await topo.waitForReplica(600_000);
  return (performance.now() - t) / 1000;
}

const dir = await mkdtemp(join(tmpdir(), 'infralogs-bench-'));
const topo = await startTopology({ log: (m) => say(`topology: ${m}`) });
try {
  say(`entries=${TOTAL} batch_size=${BATCH} hosts=${HOSTS} concurrency=${CONCURRENCY}`);
  const ingest = await runIngest(topo, dir);
  const catchUp = await replicaCatchUp(topo);
  say(`replica caught up ${catchUp.toFixed(2)} s after the ingest ended`);
  const ingestRows = await countRows(topo, 'bench_ingest');
  if (ingestRows !== TOTAL) throw new Error(`ingest stored ${ingestRows} rows, expected ${TOTAL}`);
  const load = await runLoadData(topo, dir);
  await topo.waitForReplica(600_000);
  const single = await runSingleInserts(topo);
  await topo.waitForReplica(600_000);
  const r = (n: number) => n.toFixed(0).padStart(9);
  say(`rows/s   ingest ${r(ingest.rowsPerS)}   LOAD DATA ${r(load)}   single INSERT ${r(single)}`);
  say(`ingest peak RSS ${ingest.rssMb.toFixed(1)} MB (worker process VmHWM)`);
  say(`RESULT ingest_vs_load_data=${(ingest.rowsPerS / load).toFixed(3)}`);
  say(`RESULT ingest_vs_single_insert=${(ingest.rowsPerS / single).toFixed(2)}`);
  say(`RESULT ingest_rss_mb=${ingest.rssMb.toFixed(1)}`);
  say(`RESULT replica_catchup_s=${catchUp.toFixed(2)}`);
} finally {
  await topo.stop();
  await rm(dir, { recursive: true, force: true });
}
