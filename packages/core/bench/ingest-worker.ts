import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ingestBatch } from '../src/store/ingest';
import { createStorePool } from '../src/store/sql';
import { benchBatches } from './entries';

/**
 * The ingest side of the benchmark, in a process of its own so its peak RSS (VmHWM) is the ingest
 * path's alone. The benchmark bundles it with esbuild and runs it with plain node, as an OpenFaaS
 * function ships compiled JavaScript (tsx's loader alone adds ~40 MB). It generates the batches lazily (as fetch-host would hand them over) and times only
 * the ingestBatch calls. Settings arrive as JSON on stdin (the private server's throwaway password
 * stays out of argv and the environment). Prints one JSON line.
 */
interface WorkerConfig {
  db: { host: string; port: number; user: string; password: string; database: string };
  total: number;
  batchSize: number;
  hosts: number;
  startUs: number;
  datasetsDir: string;
  concurrency: number;
  maxChunkRows?: number;
  maxChunkBytes?: number;
}

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1048576;
}

const cfg = JSON.parse(readFileSync(0, 'utf8')) as WorkerConfig;
const pool = createStorePool({ ...cfg.db, connectionLimit: cfg.concurrency });
const batches = benchBatches(cfg);
let generateMs = 0;
let inserted = 0;
let received = 0;
let batchCount = 0;

function next() {
  const t = performance.now();
  const r = batches.next();
  generateMs += performance.now() - t;
  return r.done ? null : r.value;
}

async function lane() {
  for (let batch = next(); batch; batch = next()) {
    const r = await ingestBatch(pool, batch, {
      ...(cfg.maxChunkRows ? { maxChunkRows: cfg.maxChunkRows } : {}),
      ...(cfg.maxChunkBytes ? { maxChunkBytes: cfg.maxChunkBytes } : {}),
    });
    inserted += r.inserted;
    received += r.received;
    batchCount++;
  }
}

const start = performance.now();
await Promise.all(Array.from({ length: cfg.concurrency }, lane));
const wallMs = performance.now() - start;
await pool.end();
process.stdout.write(
  JSON.stringify({
    received,
    inserted,
    batches: batchCount,
    ingestMs: wallMs - generateMs,
    generateMs,
    peakRssMb: peakRssMb(),
  }) + '\n',
);
