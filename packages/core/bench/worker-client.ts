import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from '@infralogs/devkit';

/** The ingest worker's configuration, its first line in (ingest-worker.ts). */
export interface WorkerConfig {
  db: { host: string; port: number; user: string; password: string; database: string };
  total: number;
  batchSize: number;
  hosts: number;
  startUs: number;
  datasetsDir: string | null;
  concurrency: number;
}

/** The worker's answer to one round. */
export interface WorkerRound {
  ms: number;
  cpuMs: number;
  inserted: number;
  batches: number;
  /** The deadlocks and lock wait timeouts ingest rolled back, by ER_ code. */
  rollbacks: Record<string, number>;
}

export interface IngestWorker {
  child: ChildProcess;
  /** Ingests the next `entries` entries. */
  round(entries: number): Promise<WorkerRound>;
  /** Ends the input; the worker answers its peak RSS and exits. */
  finish(): Promise<{ peakRssMb: number }>;
}

/**
 * Bundles ingest-worker.ts into `dir` and starts it with plain node (as a function ships compiled
 * JavaScript), configured by its first line on stdin: the benchmark's and the load test's one way
 * to run ingest in a process of its own.
 */
export async function startIngestWorker(dir: string, config: WorkerConfig): Promise<IngestWorker> {
  const file = await bundleForNode(
    fileURLToPath(new URL('./ingest-worker.ts', import.meta.url)),
    join(dir, 'ingest-worker.mjs'),
  );
  const child = spawn(process.execPath, [file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async <T>(line?: object): Promise<T> => {
    if (line) child.stdin!.write(JSON.stringify(line) + '\n');
    else child.stdin!.end();
    const r = await replies.next();
    if (r.done) throw new Error('the ingest worker exited early');
    return JSON.parse(String(r.value)) as T;
  };
  child.stdin!.write(JSON.stringify(config) + '\n');
  return {
    child,
    round: (entries) => ask<WorkerRound>({ entries }),
    finish: () => ask<{ peakRssMb: number }>(),
  };
}
