/**
 * `/async-function/` as OpenFaaS CE runs it: an in-memory queue (CE's NATS Streaming runs with
 * `--store memory`) worked one call at a time (the CE queue-worker's max_inflight is 1), no
 * retries, and the result POSTed to `X-Callback-Url` with X-Call-Id, X-Duration-Seconds,
 * X-Function-Status and X-Function-Name.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '@infralogs/core';
import { endToEnd, exchange, type Reply } from './proxy';

/** nats-queue-worker: "request body too large for OpenFaaS CE". */
export const CE_ASYNC_MAX_BODY = 256_000;

export interface AsyncCall {
  callId: string;
  function: string;
  /** Path after /async-function/NAME, with the query. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  callbackUrl?: string;
}

export interface AsyncResult {
  call: AsyncCall;
  reply: Reply;
  durationSeconds: number;
}

export class AsyncQueue {
  #pending: AsyncCall[] = [];
  #working = false;
  #stopped = false;
  #idle: (() => void)[] = [];
  readonly #run: (call: AsyncCall) => Promise<Reply>;
  readonly #log: Logger;
  readonly #done: (result: AsyncResult) => void;

  constructor(run: (call: AsyncCall) => Promise<Reply>, log: Logger, done: (result: AsyncResult) => void) {
    this.#run = run;
    this.#log = log;
    this.#done = done;
  }

  get length(): number {
    return this.#pending.length + (this.#working ? 1 : 0);
  }

  push(call: AsyncCall) {
    if (this.#stopped) return;
    this.#pending.push(call);
    void this.#work();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Drops what is queued (lost, as CE's in-memory queue loses it on restart). */
  stop() {
    this.#stopped = true;
    this.#pending = [];
  }

  async #work() {
    if (this.#working) return;
    this.#working = true;
    for (let call = this.#pending.shift(); call && !this.#stopped; call = this.#pending.shift()) {
      const startedAt = performance.now();
      const reply = await this.#run(call).catch((err: unknown) => {
        this.#log.error('gateway.async_failed', { function: call.function, callId: call.callId, error: err });
        return { status: 500, headers: {}, body: Buffer.alloc(0) };
      });
      const durationSeconds = (performance.now() - startedAt) / 1000;
      this.#done({ call, reply, durationSeconds });
      if (call.callbackUrl) await this.#callback(call, reply, durationSeconds);
    }
    this.#working = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #callback(call: AsyncCall, reply: Reply, durationSeconds: number) {
    const url = call.callbackUrl as string;
    try {
      const answer = await exchange(url, {
        method: 'POST',
        headers: {
          ...endToEnd(reply.headers, ['content-length', 'date']),
          'content-length': String(reply.body.length),
          'x-call-id': call.callId,
          'x-duration-seconds': durationSeconds.toFixed(6),
          'x-function-status': String(reply.status),
          'x-function-name': call.function,
        },
        body: reply.body,
        timeoutMs: 30_000,
      });
      this.#log.info('gateway.callback', {
        function: call.function,
        callId: call.callId,
        status: answer.status,
      });
    } catch (err) {
      this.#log.warn('gateway.callback_failed', { function: call.function, callId: call.callId, error: err });
    }
  }
}
