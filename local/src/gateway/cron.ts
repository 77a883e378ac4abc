/**
 * The cron-connector's part: every function with `topic: cron-function` and a `schedule`
 * annotation is called on that schedule (UTC) with `POST /function/NAME`, no body, and the headers
 * `X-Topic: cron-function` and `X-Connector: cron-connector`, through the gateway like the real
 * connector. Runs may overlap, as they do in CE: keeping them apart is the function's job.
 *
 * It also runs the cluster's CronJobs that are not functions (the store's daily retention,
 * deploy/k8s/jobs/store-retention.yaml) on their own schedules, in UTC like the CronJob's timeZone;
 * a job does not start while its previous run is still going (the CronJob's concurrencyPolicy Forbid).
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

/** A scheduled job other than a function: what a Kubernetes CronJob runs, done here by `run`. */
export interface CronJobEntry {
  job: string;
  schedule: string;
  run: () => Promise<void>;
}

export class CronScheduler {
  readonly entries: CronEntry[];
  readonly jobs: CronJobEntry[];
  /** Finished runs of each job (failed ones too), for tests and the stack's banner. */
  readonly jobRuns = new Map<string, { ok: boolean; finishedAt: Date }[]>();
  #stops: (() => void)[] = [];
  readonly #running = new Set<string>();
  /** The job runs going on now, which stop() waits for (a run holds a lease and a connection). */
  readonly #runs = new Set<Promise<unknown>>();
  readonly #gatewayUrl: () => string;
  readonly #log: Logger;

  constructor(entries: CronEntry[], gatewayUrl: () => string, log: Logger, jobs: CronJobEntry[] = []) {
    this.entries = entries;
    this.jobs = jobs;
    this.#gatewayUrl = gatewayUrl;
    this.#log = log;
  }

  #every(text: string, options: { seconds?: boolean }, tick: () => void) {
    const schedule = parseSchedule(text, options);
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

  /** `seconds` lets tests use six-field schedules; stack.yml itself only allows five. */
  start(options: { seconds?: boolean } = {}) {
    for (const entry of this.entries) {
      this.#every(entry.schedule, options, () => void this.fire(entry.function).catch(() => undefined));
    }
    for (const job of this.jobs) {
      this.#every(job.schedule, options, () => void this.runJob(job.job).catch(() => undefined));
    }
  }

  /** Runs a job now, as its next tick would; skipped (resolves false) while its last run is going. */
  async runJob(name: string): Promise<boolean> {
    const job = this.jobs.find((j) => j.job === name);
    if (!job) throw new Error(`no scheduled job ${name}`);
    if (this.#running.has(name)) {
      this.#log.warn('cron.job_skipped', { job: name, reason: 'the previous run is still going' });
      return false;
    }
    this.#running.add(name);
    const record = (ok: boolean) => {
      const runs = this.jobRuns.get(name) ?? [];
      runs.push({ ok, finishedAt: new Date() });
      this.jobRuns.set(name, runs);
    };
    const run = job.run();
    this.#runs.add(run);
    try {
      await run;
      record(true);
      this.#log.info('cron.job_finished', { job: name });
      return true;
    } catch (err) {
      record(false);
      this.#log.warn('cron.job_failed', { job: name, error: err });
      throw err;
    } finally {
      this.#running.delete(name);
      this.#runs.delete(run);
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

  /** No more ticks; resolves once the job runs going on have ended (their own clean-up included). */
  async stop(): Promise<void> {
    for (const stop of this.#stops.splice(0)) stop();
    await Promise.allSettled([...this.#runs]);
  }
}
