/**
 * A local stand-in for the OpenFaaS CE gateway, run from stack.yml: each function is its own
 * process hosting the node22-ts wrapper, reached through OpenFaaS's routes and semantics.
 *
 *   GET  /healthz, /_/health          the gateway is up
 *   GET  /system/functions             the deployed functions (like the gateway API; no basic auth here)
 *   ANY  /function/NAME[/path][?query] synchronous call, streamed both ways; 504 past exec_timeout
 *   POST /async-function/NAME[/path]   202 + X-Call-Id; queued, one at a time, result to X-Callback-Url
 *   cron                               functions with `topic: cron-function` + `schedule`, UTC
 *
 * NAME may carry the namespace suffix `.openfaas-fn`, as the cron-connector sends it. Like CE, there
 * is no authentication on function routes: functions check their callers' tokens themselves, and
 * cron calls (no token, `X-Connector: cron-connector`) come from inside, as they do in the cluster.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import express, { type Request, type Response } from 'express';
import {
  answerClientErrors,
  createLogger,
  InfralogsError,
  REQUEST_LIMITS,
  serverOptions,
  type Logger,
  type RequestLimits,
} from '@infralogs/core';
import { findHandlerFile } from '../../../templates/node22-ts/handler-file';
import { WATCHDOG_DEFAULTS } from '../../../templates/node22-ts/watchdog';
import { CE_LIMITS, CRON_TOPIC, type Stack, type StackFunction } from '../stack-file';
import { AsyncQueue, CE_ASYNC_MAX_BODY, type AsyncCall } from './async-queue';
import { CronScheduler, type CronJobEntry } from './cron';
import { parseDuration } from './duration';
import { sendError } from './errors';
import { FunctionProcess } from './function-process';
import { forward, invoke, type Reply } from './proxy';

export interface GatewayFunctionOptions {
  /** Overrides of the function's stack.yml environment (e.g. DB_HOST of the local MariaDB). */
  env?: Record<string, string>;
  /** Folder of secret files, mounted as /var/openfaas/secrets would be (SECRETS_DIR). */
  secretsDir?: string;
  /** Handler file; default: src/handler.ts (or handler.ts) in the stack's handler folder. */
  handlerFile?: string;
}

export interface StartGatewayOptions {
  stack: Stack;
  host?: string;
  /** 0 or absent: any free port. */
  port?: number;
  functions?: Record<string, GatewayFunctionOptions>;
  /** Start only these functions (default: all of the stack's). */
  only?: string[];
  /** Run cron schedules (default true). `{ seconds: true }` accepts six-field schedules, for tests. */
  cron?: boolean | { seconds?: boolean };
  /** The cluster's CronJobs that are not functions, run on their schedules with the cron ticks. */
  jobs?: CronJobEntry[];
  log?: Logger;
  /** What the gateway's own server bounds in a request (core's http-guard); default REQUEST_LIMITS. */
  requestLimits?: RequestLimits;
  /** Each line a function writes; default: copied to this process's stderr. */
  output?: (fn: string, line: string) => void;
  /**
   * Run each function as its image does: bundled into this folder (function-bundle.ts), under
   * plain node. Absent: under tsx, from the sources.
   */
  bundleDir?: string;
}

export type CallKind = 'sync' | 'async';

export interface CallRecord {
  callId: string;
  function: string;
  kind: CallKind;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  /** `cron-connector` when the call came from a cron tick. */
  connector?: string;
}

export interface FunctionInfo {
  name: string;
  port: number;
  /** The function's metrics listener on 127.0.0.1 (`GET /metrics`), never routed by the gateway. */
  metricsPort: number;
  pid: number | undefined;
  running: boolean;
  execTimeoutMs: number;
}

export interface Gateway {
  url: string;
  functions: () => FunctionInfo[];
  /** Finished calls, oldest first (the last 1000). */
  calls: CallRecord[];
  /** Fires a cron function now, as its next tick would; resolves with the function's answer. */
  fireCron: (name: string) => Promise<Reply>;
  /** Runs a scheduled job now, as its next tick would; false when its last run is still going. */
  runJob: (name: string) => Promise<boolean>;
  /** Resolves when the async queue is empty and idle. */
  asyncIdle: () => Promise<void>;
  stop: () => Promise<void>;
}

const MAX_CALL_RECORDS = 1000;

interface Hosted {
  fn: StackFunction;
  process: FunctionProcess;
  execTimeoutMs: number;
}

function execTimeout(name: string, env: Record<string, string>): number {
  const text = env.exec_timeout ?? WATCHDOG_DEFAULTS.exec_timeout;
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new InfralogsError('CONFIG_INVALID', `${name}: exec_timeout "${text}" is not a duration`);
  return ms;
}

function checkSecrets(name: string, fn: StackFunction, secretsDir: string | undefined) {
  const missing = (fn.secrets ?? []).filter((s) => !secretsDir || !existsSync(join(secretsDir, s)));
  if (missing.length) {
    // faas-netes refuses the deploy the same way: "Required secret ... not found".
    throw new InfralogsError(
      'CONFIG_INVALID',
      `${name}: required secret(s) ${missing.join(', ')} not found in ${secretsDir ?? '(no secretsDir given)'}`,
    );
  }
}

/** `name` or `name.openfaas-fn`; another namespace is not found, as in CE. */
function functionName(param: string): string | undefined {
  const [name, ns, ...rest] = param.split('.');
  if (rest.length || (ns !== undefined && ns !== CE_LIMITS.namespace)) return undefined;
  return name;
}

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** The finished calls, oldest first, capped; each is logged as it is recorded. */
function callRecorder(log: Logger) {
  const calls: CallRecord[] = [];
  const record = (call: CallRecord) => {
    calls.push(call);
    if (calls.length > MAX_CALL_RECORDS) calls.splice(0, calls.length - MAX_CALL_RECORDS);
    log.info('gateway.call', { ...call });
  };
  return { calls, record };
}

/** `/async-function/` calls run one at a time against the hosted function's process. */
function asyncQueue(hosted: Map<string, Hosted>, log: Logger, record: (call: CallRecord) => void) {
  return new AsyncQueue(
    (call: AsyncCall) => {
      const h = hosted.get(call.function) as Hosted;
      return invoke({ port: h.process.port, timeoutMs: h.execTimeoutMs }, call);
    },
    log,
    ({ call, reply, durationSeconds }) =>
      record({
        callId: call.callId,
        function: call.function,
        kind: 'async',
        method: 'POST',
        path: call.path,
        status: reply.status,
        durationMs: Math.round(durationSeconds * 1000),
      }),
  );
}

interface Routing {
  hosted: Map<string, Hosted>;
  calls: CallRecord[];
  record: (call: CallRecord) => void;
  queue: AsyncQueue;
}

/** The function a route names, or a 404 answered. */
function lookup(hosted: Map<string, Hosted>, req: Request, res: Response): [string, Hosted] | undefined {
  const name = functionName(String(req.params.name));
  const found = name === undefined ? undefined : hosted.get(name);
  if (name === undefined || !found) {
    sendError(res, 'NOT_FOUND', `function ${String(req.params.name)} not found`);
    return undefined;
  }
  return [name, found];
}

/** GET /system/functions, shaped like the gateway API's answer. */
function listFunctions({ hosted, calls }: Routing) {
  return (_req: Request, res: Response) => {
    res.json(
      [...hosted.entries()].map(([name, h]) => ({
        name,
        image: h.fn.image,
        namespace: CE_LIMITS.namespace,
        envProcess: h.fn.fprocess ?? 'node index.js',
        labels: h.fn.labels ?? {},
        annotations: h.fn.annotations ?? {},
        replicas: 1,
        availableReplicas: h.process.running ? 1 : 0,
        invocationCount: calls.filter((c) => c.function === name).length,
      })),
    );
  };
}

/** ANY /function/NAME[/path]: streamed to the function's process and back, then recorded. */
function syncCall({ hosted, record }: Routing) {
  return async (req: Request, res: Response) => {
    const target = lookup(hosted, req, res);
    if (!target) return;
    const [name, h] = target;
    const callId = header(req, 'x-call-id') ?? randomUUID();
    const startedAt = performance.now();
    const status = await forward(
      req,
      res,
      { port: h.process.port, timeoutMs: h.execTimeoutMs },
      req.url,
      callId,
    );
    const connector = header(req, 'x-connector');
    record({
      callId,
      function: name,
      kind: 'sync',
      method: req.method,
      path: req.path,
      status,
      durationMs: Math.round(performance.now() - startedAt),
      ...(connector ? { connector } : {}),
    });
  };
}

/** POST /async-function/NAME[/path]: the body read (CE's size cap), queued, 202 with the call id. */
function asyncCall({ hosted, queue }: Routing) {
  return (req: Request, res: Response) => {
    if (req.method !== 'POST') {
      sendError(res, 'METHOD_NOT_ALLOWED', 'async calls are POST only', { allow: 'POST' });
      return;
    }
    const target = lookup(hosted, req, res);
    if (!target) return;
    const [name] = target;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= CE_ASYNC_MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > CE_ASYNC_MAX_BODY) {
        sendError(res, 'PAYLOAD_TOO_LARGE', 'request body too large for OpenFaaS CE');
        return;
      }
      const callId = header(req, 'x-call-id') ?? randomUUID();
      const callbackUrl = header(req, 'x-callback-url');
      queue.push({
        callId,
        function: name,
        path: req.url,
        headers: { ...req.headers, 'x-call-id': callId },
        body: Buffer.concat(chunks),
        ...(callbackUrl ? { callbackUrl } : {}),
      });
      res.writeHead(202, { 'x-call-id': callId }).end();
    });
  };
}

/** The gateway's routes (see the top of this file). */
function gatewayApp(routing: Routing) {
  const app = express();
  app.disable('x-powered-by');
  const health = (_req: Request, res: Response) => void res.json({ status: 'ok' });
  app.get('/healthz', health);
  app.get('/_/health', health);
  app.get('/system/functions', listFunctions(routing));
  app.use('/function/:name', syncCall(routing));
  app.use('/async-function/:name', asyncCall(routing));
  app.use((req: Request, res: Response) => sendError(res, 'NOT_FOUND', `no route ${req.method} ${req.path}`));
  return app;
}

async function listen(app: express.Express, port: number, host: string, limits: RequestLimits, log: Logger) {
  const server: Server = createServer(serverOptions(limits), app);
  answerClientErrors(server, log);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${address.address}:${address.port}` };
}

/** The cron entries of the started functions: `topic: cron-function` with a `schedule`. */
function cronScheduler(stack: Stack, names: string[], url: string, log: Logger, jobs: CronJobEntry[]) {
  return new CronScheduler(
    names.flatMap((name) => {
      const annotations = stack.functions[name]?.annotations ?? {};
      const schedule = annotations.schedule;
      return annotations.topic === CRON_TOPIC && schedule ? [{ function: name, schedule }] : [];
    }),
    () => url,
    log,
    jobs,
  );
}

/**
 * One function of the stack, checked as faas-netes would check its deployment, with its process
 * defined (not started): stack.yml's environment, GATEWAY_URL pointed here, the caller's overrides.
 */
function hostFunction(
  name: string,
  options: StartGatewayOptions,
  url: string,
  log: Logger,
  output: (fn: string, line: string) => void,
): Hosted {
  const fn = options.stack.functions[name];
  if (!fn) throw new InfralogsError('CONFIG_INVALID', `function ${name} is not in the stack`);
  if (fn.environment_file?.length) {
    throw new InfralogsError(
      'CONFIG_INVALID',
      `${name}: environment_file is not supported by the local gateway`,
    );
  }
  const own = options.functions?.[name] ?? {};
  checkSecrets(name, fn, own.secretsDir);
  const functionDir = resolve(options.stack.dir ?? process.cwd(), fn.handler);
  // In the cluster GATEWAY_URL names the gateway; here that is this process.
  const stackEnv = fn.environment ?? {};
  const env = { ...stackEnv, ...('GATEWAY_URL' in stackEnv ? { GATEWAY_URL: url } : {}), ...own.env };
  const proc = new FunctionProcess({
    name,
    handlerFile: own.handlerFile ?? findHandlerFile(functionDir),
    functionDir,
    env,
    ...(own.secretsDir ? { secretsDir: own.secretsDir } : {}),
    ...(options.bundleDir ? { bundleDir: options.bundleDir } : {}),
    log,
    output,
  });
  return { fn, process: proc, execTimeoutMs: execTimeout(name, env) };
}

/** Starts every process; settles every start before failing, so none is left starting behind us. */
async function startFunctions(hosted: Map<string, Hosted>) {
  const started = await Promise.allSettled([...hosted.values()].map((h) => h.process.start()));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Starts the gateway: routes first (listening, so the functions' GATEWAY_URL can name it), then
 * one process per function, then the cron schedules. A failure stops whatever had started.
 */
export async function startGateway(options: StartGatewayOptions): Promise<Gateway> {
  const { stack } = options;
  const log = options.log ?? createLogger({ component: 'gateway' });
  const output = options.output ?? ((fn: string, line: string) => process.stderr.write(`[${fn}] ${line}\n`));
  const names = options.only ?? Object.keys(stack.functions);
  const hosted = new Map<string, Hosted>();
  const { calls, record } = callRecorder(log);
  const queue = asyncQueue(hosted, log, record);
  const { server, url } = await listen(
    gatewayApp({ hosted, calls, record, queue }),
    options.port ?? 0,
    options.host ?? '127.0.0.1',
    options.requestLimits ?? REQUEST_LIMITS,
    log,
  );
  const cron = cronScheduler(stack, names, url, log, options.jobs ?? []);

  const stop = async () => {
    await cron.stop();
    queue.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await Promise.all([...hosted.values()].map((h) => h.process.stop()));
  };

  try {
    for (const name of names) hosted.set(name, hostFunction(name, options, url, log, output));
    await startFunctions(hosted);
    if (options.cron !== false) cron.start(typeof options.cron === 'object' ? options.cron : {});
  } catch (err) {
    await stop();
    throw err;
  }
  log.info('gateway.listening', {
    url,
    functions: [...hosted.keys()],
    cron: cron.entries,
    jobs: cron.jobs.map(({ job, schedule }) => ({ job, schedule })),
  });

  return {
    url,
    functions: () =>
      [...hosted.entries()].map(([name, h]) => ({
        name,
        port: h.process.port,
        metricsPort: h.process.metricsPort,
        pid: h.process.pid,
        running: h.process.running,
        execTimeoutMs: h.execTimeoutMs,
      })),
    calls,
    fireCron: (name) => {
      if (!cron.entries.some((e) => e.function === name)) {
        return Promise.reject(new InfralogsError('NOT_FOUND', `${name} has no cron schedule`));
      }
      return cron.fire(name);
    },
    runJob: (name) => cron.runJob(name),
    asyncIdle: () => queue.idle(),
    stop,
  };
}
