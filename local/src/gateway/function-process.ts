/**
 * One function = one child process running the node22-ts wrapper, as of-watchdog runs
 * `node index.js` in the image: its own process.env, its own secrets folder, its own port. With a
 * `bundleDir` it runs what the image runs, the wrapper and handler bundled (function-bundle.ts)
 * under plain node; without, templates/node22-ts/main-local.ts under tsx, from the sources. A
 * crashed process is restarted with a growing delay, as the kubelet restarts a crashed pod.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '@infralogs/core';
import { freePort, portOpen, startProcess, waitFor, type Managed } from '@infralogs/devkit';
import { DRAIN_DEADLINE_MS } from '../../../templates/node22-ts/watchdog';
import { bundleFunction } from './function-bundle';

const MAIN_LOCAL = fileURLToPath(new URL('../../../templates/node22-ts/main-local.ts', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** What a child inherits from the gateway's environment; everything else comes from stack.yml. */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];

export interface FunctionProcessOptions {
  name: string;
  handlerFile: string;
  /** The function's folder: the working directory and FUNCTION_DIR (static files). */
  functionDir: string;
  /** stack.yml environment with the caller's overrides applied. */
  env: Record<string, string>;
  secretsDir?: string;
  log: Logger;
  /** Each line the function writes (its JSON logs). */
  output: (name: string, line: string) => void;
  readyTimeoutMs?: number;
  /** Bundle the function into this folder and run the bundle with plain node (as the image does). */
  bundleDir?: string;
}

export class FunctionProcess {
  readonly name: string;
  port = 0;
  /** Its metrics listener (METRICS_PORT), on loopback as the pod IP would be in the cluster. */
  metricsPort = 0;
  #proc: Managed | undefined;
  #stopping = false;
  #restarts = 0;
  #startedAt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** The node arguments that run it: built once, kept for restarts (a pod restarts its image). */
  #argv: string[] | undefined;
  readonly #options: FunctionProcessOptions;

  constructor(options: FunctionProcessOptions) {
    this.name = options.name;
    this.#options = options;
  }

  get running(): boolean {
    const child = this.#proc?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#proc?.child.pid;
  }

  /** Starts the process and resolves once it accepts connections; rejects with its output if it dies. */
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    if (!this.metricsPort) this.metricsPort = await freePort();
    const { env, secretsDir, handlerFile, functionDir } = this.#options;
    const inherited = Object.fromEntries(
      INHERITED.flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])),
    );
    this.#argv ??= this.#options.bundleDir
      ? [await bundleFunction(this.name, handlerFile, this.#options.bundleDir)]
      : ['--import', TSX_LOADER, MAIN_LOCAL];
    const proc = startProcess(process.execPath, this.#argv, {
      cwd: functionDir,
      env: {
        ...inherited,
        ...env,
        ...(secretsDir ? { SECRETS_DIR: secretsDir } : {}),
        FUNCTION_DIR: functionDir,
        HANDLER: handlerFile,
        // No watchdog in front here: the gateway itself stops routing to a function it stops, so
        // the wrapper need not keep accepting after SIGTERM (in the image: healthcheck_interval 5s).
        healthcheck_interval: env.healthcheck_interval ?? '0s',
        http_port: String(this.port),
        http_host: '127.0.0.1',
        METRICS_PORT: String(this.metricsPort),
        METRICS_HOST: '127.0.0.1',
      },
    });
    this.#proc = proc;
    this.#forwardOutput(proc);
    let died = false;
    void proc.exited.then(() => (died = true));
    try {
      await waitFor(
        `function ${this.name} on port ${this.port}`,
        async () => died || (await portOpen(this.port)),
        // Generous: five functions compiling at once on a loaded 2-core machine took over 30 s.
        this.#options.readyTimeoutMs ?? 120_000,
        50,
      );
      if (died) throw new Error(`function ${this.name} exited during start-up`);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw new Error(`${(err as Error).message}\n${proc.output().slice(-2000)}`);
    }
    this.#startedAt = Date.now();
    void proc.exited.then((code) => this.#exited(proc, code));
  }

  #forwardOutput(proc: Managed) {
    for (const stream of [proc.child.stdout, proc.child.stderr]) {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line) this.#options.output(this.name, line);
      });
    }
  }

  #exited(proc: Managed, code: number | null) {
    if (this.#stopping || proc !== this.#proc) return;
    // A process that ran a while before dying starts over with a short delay.
    if (Date.now() - this.#startedAt > 60_000) this.#restarts = 0;
    this.#scheduleRestart({ code });
  }

  #scheduleRestart(fields: Record<string, unknown>) {
    if (this.#stopping) return;
    const delayMs = Math.min(30_000, 1000 * 2 ** this.#restarts++);
    this.#options.log.error('function.exited', { function: this.name, ...fields, restartInMs: delayMs });
    this.#restartTimer = setTimeout(() => {
      this.start().catch((error: unknown) => this.#scheduleRestart({ error }));
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    // The wrapper's own drain ends by DRAIN_DEADLINE_MS; SIGKILL only past it, as the kubelet.
    await this.#proc?.stop('SIGTERM', DRAIN_DEADLINE_MS + 2000);
  }
}
