import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { datasetsDir, startTopology, type Topology } from '@infralogs/devkit';
import { upsertHost } from '../src/store/hosts';
import { ingestBatch } from '../src/store/ingest';
import { migrate } from '../src/store/migrations';
import { loadStatement, LOGS_COLUMNS, sqlValues, toRow, tsvRow, type LogRow } from '../src/store/rows';
import { createStorePool } from '../src/store/sql';
import { benchBatches, benchHosts } from './entries';
import { startIngestWorker } from './worker-client';

/**
 * npm run bench:ingest — the same generated entries written three ways into the same schema
 * (same indexes, partitions and server settings) on one fresh private primary + replica:
 *   ingest        ingestBatch: validation, idempotent write, rollups, gaps, checkpoint, one
 *                 transaction per batch (in its own process, for its peak RSS)
 *   LOAD DATA     LOAD DATA LOCAL INFILE of the same rows from a file (the practical limit)
 *   single INSERT one autocommitted INSERT per row, like rsyslog's ommysql (a subset, rows/s scaled)
 * Each method gets its own fresh database, seeded with the same rows of another host. Ingest and
 * LOAD DATA alternate in rounds (and swap order every round) so that load from other processes on
 * the machine hits both alike; the replica is caught up after every phase (see --replica), so no
 * phase pays for another's replication. The catch-up reported is the worst after an ingest round.
 */
const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '500000' },
    rounds: { type: 'string', default: '5' },
    'batch-size': { type: 'string', default: '5000' },
    hosts: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1' },
    'single-rows': { type: 'string', default: '20000' },
    /**
     * paused (default): the replica's SQL thread waits while a method is timed and is then timed
     * catching up. Both servers share this machine's cores, and LOAD DATA (one transaction) would
     * never replicate during its own timing while ingest's batches would: pausing treats both
     * alike, as a replica on its own machine does. live: the replica applies as rows commit.
     */
    replica: { type: 'string', default: 'paused' },
    'buffer-pool': { type: 'string', default: '2G' },
  },
});
const TOTAL = Number(args.entries);
const ROUNDS = Number(args.rounds);
const BATCH = Number(args['batch-size']);
const HOSTS = Number(args.hosts);
const CONCURRENCY = Number(args.concurrency);
const SINGLE = Math.min(Number(args['single-rows']), TOTAL);
const PER_ROUND = TOTAL / ROUNDS;
const WARMUP = 5000;
const PAUSE_REPLICA = args.replica === 'paused';
if (!Number.isInteger(PER_ROUND / BATCH))
  throw new Error('entries / rounds must be a multiple of batch-size');
const START_US = Date.now() * 1000 - 36 * 3600 * 1_000_000; // spans yesterday and today
const DATASETS = datasetsDir();
const GENERATOR = { total: TOTAL, batchSize: BATCH, hosts: HOSTS, startUs: START_US, datasetsDir: DATASETS };

const say = (line: string) => process.stdout.write(line + '\n');
const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function freshDatabase(topo: Topology, name: string): Promise<Map<string, number>> {
  const admin = await topo.connect('primary');
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const pool = createStorePool({
    ...topo.admin,
    host: topo.primary.host,
    port: topo.primary.port,
    database: name,
  });
  await migrate(pool);
  const ids = new Map<string, number>();
  for (const h of benchHosts(HOSTS)) {
    ids.set(h, (await upsertHost(pool, { name: h, agentUrl: 'http://127.0.0.1:9' })).id);
  }
  // The same rows of another host in every database before timing: MariaDB bulk-loads into an
  // empty table (no undo log, sorted index build), which production tables never are.
  await upsertHost(pool, { name: 'warmup', agentUrl: 'http://127.0.0.1:9' });
  for (const b of benchBatches({ ...GENERATOR, total: WARMUP, batchSize: WARMUP, hosts: 1, seed: 7 })) {
    await ingestBatch(pool, { host: 'warmup', entries: b.entries });
  }
  await pool.end();
  return ids;
}

async function countRows(topo: Topology, db: string): Promise<number> {
  const c = await topo.connect('primary', db);
  const [rows] = await c.query(
    "SELECT COUNT(*) AS n FROM logs JOIN hosts h ON h.id = logs.host_id WHERE h.name <> 'warmup'",
  );
  await c.end();
  return Number((rows as { n: number }[])[0]!.n);
}

/** Every row of the benchmark, in batch order, as the ingest core maps it. */
function* allRows(ids: Map<string, number>): Generator<LogRow> {
  for (const b of benchBatches(GENERATOR)) for (const e of b.entries) yield toRow(ids.get(b.host)!, e);
}

function* take<T>(it: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const r = it.next();
    if (r.done) return;
    yield r.value;
  }
}

/** The ingest worker on a fresh database; `round(n)` ingests the next n entries. */
async function startBenchWorker(topo: Topology, dir: string) {
  const database = 'bench_ingest';
  await freshDatabase(topo, database);
  const worker = await startIngestWorker(dir, {
    ...GENERATOR,
    db: { ...topo.admin, host: topo.primary.host, port: topo.primary.port, database },
    concurrency: CONCURRENCY,
  });
  return { database, round: worker.round, finish: worker.finish };
}

async function startLoadData(topo: Topology, dir: string) {
  const database = 'bench_load';
  const rows = allRows(await freshDatabase(topo, database));
  const file = join(dir, 'rows.tsv');
  return {
    database,
    /** Writes the next n rows to a file (not timed), then times LOAD DATA of that file. */
    async round(n: number): Promise<number> {
      const out = createWriteStream(file);
      for (const row of take(rows, n)) {
        if (!out.write(tsvRow(row))) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      const c = await topo.connect('primary', database);
      try {
        const t = performance.now();
        await c.query({
          sql: loadStatement('rows.tsv'),
          infileStreamFactory: () => createReadStream(file),
        });
        return performance.now() - t;
      } finally {
        await c.end();
      }
    },
  };
}

async function singleInserts(topo: Topology): Promise<number> {
  const database = 'bench_single';
  const rows = [...take(allRows(await freshDatabase(topo, database)), SINGLE)];
  const c = await topo.connect('primary', database);
  const columns = LOGS_COLUMNS.map((x) => `\`${x}\``).join(', ');
  const sql = `INSERT INTO logs (${columns}) VALUES (${LOGS_COLUMNS.map(() => '?').join(', ')})`;
  try {
    const t = performance.now();
    for (const row of rows) await c.query(sql, sqlValues(row));
    const ms = performance.now() - t;
    say(`single INSERT: ${rows.length} rows (a subset; rows/s applies to the full run) in ${seconds(ms)} s`);
    return rows.length / (ms / 1000);
  } finally {
    await c.end();
  }
}

async function replicaSql(topo: Topology, statement: 'STOP SLAVE SQL_THREAD' | 'START SLAVE SQL_THREAD') {
  if (!PAUSE_REPLICA) return;
  const c = await topo.connect('replica');
  await c.query(statement);
  await c.end();
}

/** Runs a timed phase (with the replica's SQL thread paused if asked), then times the replica's catch-up. */
async function phase<T>(topo: Topology, work: () => Promise<T>): Promise<{ result: T; catchUpMs: number }> {
  await replicaSql(topo, 'STOP SLAVE SQL_THREAD');
  const result = await work();
  const t = performance.now();
  await replicaSql(topo, 'START SLAVE SQL_THREAD');
  await topo.waitForReplica(600_000);
  return { result, catchUpMs: performance.now() - t };
}

const dir = await mkdtemp(join(tmpdir(), 'infralogs-bench-'));
// Same server settings for every method; a buffer pool that holds the three databases, as a
// production primary's would hold its hot partitions (the devkit default of 256M is for tests).
const topo = await startTopology({
  extraArgs: [`--innodb-buffer-pool-size=${args['buffer-pool']}`],
  log: (m) => say(`topology: ${m}`),
});
try {
  say(
    `entries=${TOTAL} rounds=${ROUNDS} batch_size=${BATCH} hosts=${HOSTS} concurrency=${CONCURRENCY} ` +
      `replica=${PAUSE_REPLICA ? 'paused during phases' : 'live'} buffer_pool=${args['buffer-pool']} ` +
      `(ingest and LOAD DATA alternate, ${PER_ROUND} entries a round)`,
  );
  const ingest = await startBenchWorker(topo, dir);
  const load = await startLoadData(topo, dir);
  let ingestMs = 0;
  let loadMs = 0;
  let catchUpMs = 0;
  const rollbacks: Record<string, number> = {};
  for (let k = 0; k < ROUNDS; k++) {
    const phases = [
      async () => {
        const { result, catchUpMs: lag } = await phase(topo, () => ingest.round(PER_ROUND));
        ingestMs += result.ms;
        catchUpMs = Math.max(catchUpMs, lag);
        for (const [code, n] of Object.entries(result.rollbacks))
          rollbacks[code] = (rollbacks[code] ?? 0) + n;
        return `ingest ${seconds(result.ms)} s (${result.batches} batches, client CPU ${seconds(result.cpuMs)} s, replica +${seconds(lag)} s)`;
      },
      async () => {
        const { result } = await phase(topo, () => load.round(PER_ROUND));
        loadMs += result;
        return `LOAD DATA ${seconds(result)} s`;
      },
    ];
    if (k % 2 === 1) phases.reverse();
    const parts: string[] = [];
    for (const phase of phases) parts.push(await phase());
    say(`round ${k + 1}/${ROUNDS}: ${parts.join(', ')}`);
  }
  const { peakRssMb } = await ingest.finish();
  for (const db of [ingest.database, load.database]) {
    const n = await countRows(topo, db);
    if (n !== TOTAL) throw new Error(`${db} holds ${n} rows, expected ${TOTAL}`);
  }
  const single = await singleInserts(topo);
  await topo.waitForReplica(600_000);
  const ingestRate = TOTAL / (ingestMs / 1000);
  const loadRate = TOTAL / (loadMs / 1000);
  const r = (n: number) => n.toFixed(0).padStart(8);
  say(`ingest    ${r(ingestRate)} rows/s  (${TOTAL} rows, ${seconds(ingestMs)} s in ingestBatch)`);
  say(`LOAD DATA ${r(loadRate)} rows/s  (${TOTAL} rows, ${seconds(loadMs)} s)`);
  say(`single    ${r(single)} rows/s`);
  say(
    `ingest peak RSS ${peakRssMb.toFixed(1)} MB (worker VmHWM); replica catch-up after ingest ${seconds(catchUpMs)} s (worst round)`,
  );
  // Deadlocks and lock wait timeouts ingest rolled back (and retried); none is expected.
  say(`ingest rollbacks: ${JSON.stringify(rollbacks)}`);
  say(`RESULT ingest_vs_load_data=${(ingestRate / loadRate).toFixed(3)}`);
  say(`RESULT ingest_vs_single_insert=${(ingestRate / single).toFixed(2)}`);
  say(`RESULT ingest_rss_mb=${peakRssMb.toFixed(1)}`);
  say(`RESULT replica_catchup_s=${seconds(catchUpMs)}`);
} finally {
  await topo.stop();
  await rm(dir, { recursive: true, force: true });
}
