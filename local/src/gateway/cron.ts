/**
 * The cron-connector's part: every function with `topic: cron-function` and a `schedule`
 * annotation is called on that schedule (UTC) with `POST /function/NAME`, no body, and the headers
 * `X-Topic: cron-function` and `X-Connector: cron-connector`, through the gateway like the real
 * connector. Runs may overlap, as they do in CE: keeping them apart is the function's job.
 */
import { Cron } from 'croner';
import type { Logger } from '@infralogs/core';
import { exchange, type Reply } from './proxy';
import { parseSchedule } from './schedule';

export const CRON_HEADERS = { 'x-topic': 'cron-function', 'x-connector': 'cron-connector' } as const;

export interface CronEntry {
  function: string;
  schedule: string;
}

export class CronScheduler {
  readonly entries: CronEntry[];
  #stops: (() => void)[] = [];
  readonly #gatewayUrl: () => string;
  readonly #log: Logger;

  constructor(entries: CronEntry[], gatewayUrl: () => string, log: Logger) {
    this.entries = entries;
    this.#gatewayUrl = gatewayUrl;
    this.#log = log;
  }

  /** `seconds` lets tests use six-field schedules; stack.yml itself only allows five. */
  start(options: { seconds?: boolean } = {}) {
    for (const entry of this.entries) {
      const schedule = parseSchedule(entry.schedule, options);
      const tick = () => void this.fire(entry.function).catch(() => undefined);
      if (schedule.kind === 'every') {
        const timer = setInterval(tick, schedule.ms);
        this.#stops.push(() => clearInterval(timer));
      } else {
        const job = new Cron(
          schedule.pattern,
          { timezone: 'UTC', mode: options.seconds ? '5-or-6-parts' : '5-part' },
          tick,
        );
        this.#stops.push(() => job.stop());
      }
    }
  }

  /** Calls the function now, as a tick would; resolves with its answer (the connector only logs it). */
  async fire(name: string): Promise<Reply> {
    const url = `${this.#gatewayUrl()}/function/${encodeURIComponent(name)}`;
    try {
      // No timeout: the connector's client has none; the gateway's exec_timeout bounds the call.
      const reply = await exchange(url, { method: 'POST', headers: { ...CRON_HEADERS } });
      this.#log.info('cron.fired', { function: name, status: reply.status });
      return reply;
    } catch (err) {
      this.#log.warn('cron.failed', { function: name, error: err });
      throw err;
    }
  }

  stop() {
    for (const stop of this.#stops.splice(0)) stop();
  }
}
