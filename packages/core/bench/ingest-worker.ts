import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { ingestBatch } from '../src/store/ingest';
import { createStorePool } from '../src/store/sql';
import { benchBatches } from './entries';
import type { WorkerConfig } from './worker-client';

/**
 * The ingest side of the benchmark, in a process of its own so its peak RSS (VmHWM) is the ingest
 * path's alone. The benchmark bundles it with esbuild and runs it with plain node, as an OpenFaaS
 * function ships compiled JavaScript (tsx's loader alone adds ~40 MB). It generates the batches
 * lazily, as fetch-host would hand them over, and times only the ingestBatch calls.
 *
 * Protocol on stdin/stdout, one JSON object a line: the first line in is the configuration (the
 * private server's throwaway password stays out of argv and the environment); then each
 * `{"entries":N}` ingests the next N entries and answers `{"ms","inserted","batches","rollbacks"}`
 * (`rollbacks`: the deadlocks and lock wait timeouts ingest rolled back, by ER_ code); at the end
 * of input it answers `{"peakRssMb"}` and exits. The load test (test/store/ingest-load.test.ts)
 * runs it too, with several lanes, to count deadlocks between hosts.
 */

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1048576;
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const cfg = JSON.parse(String((await lines.next()).value)) as WorkerConfig;
const pool = createStorePool({ ...cfg.db, connectionLimit: cfg.concurrency });
const batches = benchBatches(cfg);
const reply = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

async function round(entries: number) {
  let left = entries;
  let generateMs = 0;
  let inserted = 0;
  let count = 0;
  const rollbacks: Record<string, number> = {};
  const onRollback = (code: string) => {
    rollbacks[code] = (rollbacks[code] ?? 0) + 1;
  };
  const next = () => {
    if (left <= 0) return null;
    const t = performance.now();
    const r = batches.next();
    generateMs += performance.now() - t;
    if (r.done) return null;
    left -= r.value.entries.length;
    return r.value;
  };
  const lane = async () => {
    for (let batch = next(); batch; batch = next()) {
      // Awaited first: `inserted += await …` would add to the value read before another lane's.
      const result = await ingestBatch(pool, batch, { onRollback });
      inserted += result.inserted;
      count++;
    }
  };
  const start = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: cfg.concurrency }, lane));
  const used = process.cpuUsage(cpu);
  // The worker's own CPU time (ingest and generation), to see how much of the wall time is client work.
  reply({
    ms: performance.now() - start - generateMs,
    cpuMs: (used.user + used.system) / 1000 - generateMs,
    inserted,
    batches: count,
    rollbacks,
  });
}

for (let line = await lines.next(); !line.done; line = await lines.next()) {
  await round((JSON.parse(String(line.value)) as { entries: number }).entries);
}
await pool.end();
reply({ peakRssMb: peakRssMb() });
