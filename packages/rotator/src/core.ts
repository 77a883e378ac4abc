import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import {
  ConsumerFailedError,
  DatabaseUnavailableError,
  LeaseInvalidError,
  OptionsInvalidError,
  RotatorError,
  RotatorStoppedError,
  VaultDeniedError,
  VaultUnavailableError,
  isTransient,
} from './errors.js';
import {
  Reporter,
  jsonLogger,
  type RotationReason,
  type RotatorEvent,
  type RotatorEventType,
  type RotatorLogger,
  type RotatorMetrics,
} from './reporter.js';
import { VaultSession, type VaultOptions } from './session.js';
import type { DatabaseCredentials } from './vault-client.js';

/** What is known about the credentials in use (never the password). */
export interface LeaseInfo {
  leaseId: string;
  username: string;
  /** Epoch ms when the lease ends unless renewed. */
  expiresAt: number;
  renewable: boolean;
}

export interface DrainResult {
  timedOut: boolean;
  inFlightAtEnd: number;
}

/**
 * What a consumer of credentials plugs into the lifecycle. The rotator core owns Vault (login,
 * lease, renew, replace, revoke); the adapter owns the thing that uses the credentials (a pool, a
 * file, a callback): it opens one for new credentials and proves they work, and later drains it.
 */
export interface CredentialAdapter<H> {
  /** What the credentials are for, in messages: e.g. `MySQL at db:3306`. */
  readonly target: string;
  /**
   * Builds what uses these credentials and proves they work (e.g. opens a connection and pings).
   * It cleans up after itself when it throws. Errors for which `isRetryable` is true are retried
   * with backoff for up to `connectTimeoutMs` (a user not yet replicated); others fail at once.
   */
  open(credentials: DatabaseCredentials, lease: LeaseInfo): Promise<H>;
  /** A newer handle has taken over: let in-flight work finish (up to timeoutMs), then close. */
  drain(handle: H, timeoutMs: number): Promise<DrainResult>;
  /** The credentials themselves were refused (revoked, or not yet on this server). */
  isAccessDenied(err: unknown): boolean;
  /**
   * The user's privileges are gone while its session lives on (its lease was revoked: the user
   * was dropped, and an open session is refused every table). Default: never.
   */
  isPrivilegeLost?(err: unknown): boolean;
  /** Worth retrying while verifying, or once on a fresh handle while serving. Default: isAccessDenied. */
  isRetryable?(err: unknown): boolean;
  /** Work in flight on a handle right now (checked-out connections). */
  busy?(handle: H): number;
}

export interface RotatorCoreOptions {
  /** How to reach and log in to Vault, or a session shared with other code (not stopped by us). */
  vault: VaultOptions | VaultSession;
  /** The path that issues credentials, e.g. `database/creds/my-role`. */
  credentialsPath: string;
  /** Renew a lease after this fraction of its duration. Default 2/3. */
  renewFraction?: number;
  /** How long an old handle may take to finish in-flight work before it is closed. Default 30 s. */
  drainTimeoutMs?: number;
  /** How long new credentials may take to work on the server (replication lag). Default 30 s. */
  connectTimeoutMs?: number;
  /** How long start() keeps retrying while Vault or the database is unavailable. Default 30 s. */
  startTimeoutMs?: number;
  /** Backoff for every retry loop. Default 250 ms doubling up to 10 s, full jitter. */
  retry?: BackoffOptions;
  /** Revoke the current lease on stop(). Default true. */
  revokeOnStop?: boolean;
  logger?: RotatorLogger;
  onEvent?: (event: RotatorEvent) => void;
}

/** At most one rotation this often for credentials refused (credentialsRefused). */
const REFUSAL_ROTATION_MS = 5000;

interface Generation<H> extends LeaseInfo {
  handle: H;
  /** The duration Vault first granted: the increment asked for on renewal. */
  grantedSeconds: number;
}

/**
 * The credential lifecycle, written once for every adapter. Per lease: lease → open and verify a
 * handle → renew at renewFraction → when renewal is refused, capped by max_ttl, or the lease
 * disappears: lease again, open a new handle, swap, drain the old handle, revoke the old lease.
 * Vault outages are retried with backoff while the current handle keeps serving until its lease
 * runs out. The old lease is revoked only after the new handle is verified and the old one drained.
 */
export class CredentialRotator<H> {
  private readonly session: VaultSession;
  private readonly ownsSession: boolean;
  protected readonly reporter: Reporter;
  private readonly renewFraction: number;
  private readonly abort = new AbortController();
  private readonly draining = new Set<Promise<void>>();
  private current: Generation<H> | undefined;
  private rotation: Promise<Generation<H>> | undefined;
  private recovering: Promise<void> | undefined;
  private lastError: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    readonly options: RotatorCoreOptions,
    protected readonly adapter: CredentialAdapter<H>,
  ) {
    if (!options.credentialsPath) throw new OptionsInvalidError('credentialsPath is required');
    this.renewFraction = options.renewFraction ?? 2 / 3;
    if (!(this.renewFraction > 0 && this.renewFraction < 1)) {
      throw new OptionsInvalidError('renewFraction must be between 0 and 1');
    }
    this.reporter = new Reporter(options.logger ?? jsonLogger(), options.onEvent);
    if (options.vault instanceof VaultSession) {
      this.session = options.vault;
      this.ownsSession = false;
    } else {
      this.session = new VaultSession(
        {
          renewFraction: this.renewFraction,
          ...(options.retry ? { retry: options.retry } : {}),
          ...options.vault,
        },
        this.reporter,
      );
      this.ownsSession = true;
    }
    // Leases die with the token that created them: a new token means new credentials.
    this.unsubscribe = this.session.onNewToken(() => void this.recover('token-replaced'));
  }

  /** Logs in, leases credentials and opens a verified handle; retries while Vault or the database is down. */
  async start(): Promise<void> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new RotatorStoppedError();
      try {
        await this.rotate('start');
        return;
      } catch (err) {
        const wait = backoffDelay(attempt, this.options.retry);
        const error = this.fail('start', err, wait);
        if (!isTransient(error) || Date.now() + wait > deadline) throw error;
        await sleep(wait, this.abort.signal);
      }
    }
  }

  /** The handle to use now. Take it per unit of work: after a rotation the old one is drained. */
  protected handle(): H {
    if (this.stopped) throw new RotatorStoppedError();
    const gen = this.current;
    if (gen && Date.now() < gen.expiresAt) return gen.handle;
    const reason = this.lastError?.message ?? (gen ? 'the lease ran out' : 'start() has not succeeded');
    const message = `no usable credentials for ${this.adapter.target}: ${reason}`;
    if (this.lastError instanceof DatabaseUnavailableError) throw new DatabaseUnavailableError(message);
    if (this.lastError instanceof ConsumerFailedError) throw new ConsumerFailedError(message);
    if (this.lastError instanceof VaultDeniedError) throw new VaultDeniedError(message);
    throw new VaultUnavailableError(message, { cause: this.lastError });
  }

  /**
   * Runs `use` on the current handle. If it fails because the credentials stopped working
   * (revoked from outside), it leases new ones and retries once on the new handle.
   */
  protected async withRetryOnDenied<T>(use: (handle: H) => Promise<T>): Promise<T> {
    const handle = this.handle();
    try {
      return await use(handle);
    } catch (err) {
      if (!this.retryable(err)) throw err;
      this.reporter.counters.connectRetries += 1;
      if (handle === this.current?.handle && this.adapter.isAccessDenied(err))
        await this.rotate('connect-failed');
      else await this.rotation?.catch(() => {});
      return use(this.handle());
    }
  }

  /**
   * Tells the rotator that the server refused `handle`'s credentials (revoked from outside: a
   * lease revoked in Vault drops the user). For consumers that take the handle and use it
   * themselves (getPool()) instead of through withRetryOnDenied. When `err` is an access denial
   * and `handle` is still the current one, new credentials are leased in the background (one
   * rotation at a time, shared) and true is returned; the caller retries on the next handle.
   */
  credentialsRefused(handle: H, err: unknown): boolean {
    if (this.stopped || handle !== this.current?.handle) return false;
    if (!this.adapter.isAccessDenied(err) && !this.adapter.isPrivilegeLost?.(err)) return false;
    // A grant that is really missing would be refused on every new lease too: one rotation per
    // REFUSAL_ROTATION_MS at most, so a misconfiguration does not churn leases.
    if (Date.now() - this.lastRefusalRotation < REFUSAL_ROTATION_MS) return false;
    this.lastRefusalRotation = Date.now();
    this.reporter.counters.connectRetries += 1;
    this.rotate('connect-failed').catch(() => {});
    return true;
  }
  private lastRefusalRotation = 0;

  /** Replaces the credentials now (e.g. after a suspected leak). */
  async rotateNow(): Promise<LeaseInfo> {
    return leaseInfo(await this.rotate('requested'));
  }

  lease(): LeaseInfo | undefined {
    return this.current ? leaseInfo(this.current) : undefined;
  }

  on(type: RotatorEventType | '*', listener: (event: RotatorEvent) => void): () => void {
    return this.reporter.on(type, listener);
  }

  metrics(): RotatorMetrics {
    const gen = this.current;
    return {
      ...this.reporter.counters,
      leaseTtlSeconds: gen ? Math.max(0, Math.round((gen.expiresAt - Date.now()) / 1000)) : 0,
      poolsDraining: this.draining.size,
    };
  }

  /** Work in flight on the current handle right now. */
  inFlight(): number {
    return this.current && this.adapter.busy ? this.adapter.busy(this.current.handle) : 0;
  }

  /**
   * Stops renewing, waits for in-flight work (up to drainTimeoutMs), closes every handle, revokes
   * the current lease (synchronously: the user is dropped) and, if it logged in itself, its token.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown() {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.timer);
    this.unsubscribe();
    await this.rotation?.catch(() => {});
    const gen = this.current;
    this.current = undefined;
    if (gen) await this.drain(gen);
    await Promise.all(this.draining);
    if (gen && this.options.revokeOnStop !== false) await this.revoke(gen.leaseId);
    if (this.ownsSession) await this.session.stop();
  }

  private retryable(err: unknown): boolean {
    return this.adapter.isRetryable ? this.adapter.isRetryable(err) : this.adapter.isAccessDenied(err);
  }

  /** One rotation at a time; concurrent requests share it. */
  private rotate(reason: RotationReason): Promise<Generation<H>> {
    this.rotation ??= this.replaceCredentials(reason).finally(() => {
      this.rotation = undefined;
    });
    return this.rotation;
  }

  private async replaceCredentials(reason: RotationReason): Promise<Generation<H>> {
    if (this.stopped) throw new RotatorStoppedError();
    const lease = await this.session.withClient((c) => c.readCredentials(this.options.credentialsPath));
    this.reporter.emit({
      type: 'lease',
      leaseId: lease.leaseId,
      username: lease.data.username,
      leaseDurationSeconds: lease.leaseDuration,
      renewable: lease.renewable,
    });
    const info: LeaseInfo = {
      leaseId: lease.leaseId,
      username: lease.data.username,
      renewable: lease.renewable,
      // A lease without a duration does not expire (nothing to renew or replace).
      expiresAt: lease.leaseDuration > 0 ? Date.now() + lease.leaseDuration * 1000 : Infinity,
    };
    let handle: H;
    try {
      handle = await this.openVerified(lease.data, info);
    } catch (err) {
      void this.revoke(lease.leaseId);
      throw err;
    }
    if (this.stopped) {
      await this.adapter.drain(handle, 0).catch(() => {});
      await this.revoke(lease.leaseId);
      throw new RotatorStoppedError();
    }
    const gen: Generation<H> = { ...info, handle, grantedSeconds: lease.leaseDuration };
    const previous = this.current;
    this.current = gen;
    this.lastError = undefined;
    this.reporter.emit({ type: 'rotated', reason, leaseId: gen.leaseId, previousLeaseId: previous?.leaseId });
    this.scheduleNext(gen, lease.leaseDuration, lease.renewable, false);
    if (previous) this.retire(previous);
    return gen;
  }

  /**
   * Opens a handle for fresh credentials and proves it works before anyone uses it. Refusals are
   * retried with backoff until connectTimeoutMs, because users are created on the primary and reach
   * a replica only when replication applies them: a handle must not go live before its user exists.
   */
  private async openVerified(credentials: DatabaseCredentials, lease: LeaseInfo): Promise<H> {
    const deadline = Date.now() + (this.options.connectTimeoutMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.adapter.open(credentials, lease);
      } catch (err) {
        const delay = backoffDelay(attempt, this.options.retry);
        if (!this.retryable(err) || Date.now() + delay > deadline || this.abort.signal.aborted) {
          if (err instanceof RotatorError) throw err;
          const hint = this.adapter.isAccessDenied(err)
            ? ' (the user may not have replicated to this server yet, or was revoked)'
            : '';
          throw new DatabaseUnavailableError(
            `cannot connect to ${this.adapter.target} as ${credentials.username}${hint}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        this.reporter.logger.info('rotator.waiting_for_user', {
          leaseId: lease.leaseId,
          username: credentials.username,
          errno: (err as { errno?: unknown }).errno ?? (err as { code?: unknown }).code,
        });
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /**
   * After a grant or renewal of `seconds`: renew at renewFraction of it. A lease that cannot be
   * renewed is replaced at that point instead. A renewal capped by max_ttl (its end is now fixed)
   * is replaced at once: all of the old lease's remaining time is then the overlap in which its
   * handle drains, before Vault itself revokes it at max_ttl (a replacement at renewFraction of
   * the rest left only a third of it, which in-flight work could outlast).
   */
  private scheduleNext(gen: Generation<H>, seconds: number, renewable: boolean, capped: boolean) {
    const delay = capped ? 0 : seconds * 1000 * this.renewFraction;
    clearTimeout(this.timer);
    if (this.stopped || seconds <= 0) return;
    const task =
      renewable && !capped ? () => this.renew(gen) : () => this.recover(capped ? 'max-ttl' : 'not-renewable');
    this.timer = setTimeout(() => void task(), delay);
    this.timer.unref();
  }

  private async renew(gen: Generation<H>) {
    if (gen !== this.current || this.stopped) return;
    try {
      const r = await this.session.withClient((c) => c.renewLease(gen.leaseId, gen.grantedSeconds));
      gen.expiresAt = Date.now() + r.leaseDuration * 1000;
      gen.renewable = r.renewable;
      const capped = r.leaseDuration < gen.grantedSeconds;
      this.reporter.emit({
        type: 'renewed',
        leaseId: gen.leaseId,
        leaseDurationSeconds: r.leaseDuration,
        capped,
      });
      if (gen !== this.current) return;
      // Nothing left to renew: the lease ends now, so replace it now.
      if (r.leaseDuration <= 0) await this.recover('max-ttl');
      else this.scheduleNext(gen, r.leaseDuration, r.renewable, capped);
    } catch (err) {
      this.fail('renew', err, undefined, gen.leaseId);
      await this.recover(err instanceof LeaseInvalidError ? 'lease-invalid' : 'renewal-failed');
    }
  }

  /** Rotates in the background, retrying with backoff until it works; the current handle stays meanwhile. */
  private recover(reason: RotationReason): Promise<void> {
    this.recovering ??= (async () => {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          await this.rotate(reason);
          return;
        } catch (err) {
          if (this.stopped) return;
          const wait = backoffDelay(attempt, this.options.retry);
          this.fail('rotate', err, wait);
          if (!(await sleep(wait, this.abort.signal, false))) return;
        }
      }
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  /** Drains an old handle in the background, then revokes its lease. */
  private retire(gen: Generation<H>) {
    const task: Promise<void> = (async () => {
      await this.drain(gen);
      await this.revoke(gen.leaseId);
    })()
      .catch((err) => void this.fail('retire', err, undefined, gen.leaseId))
      .finally(() => this.draining.delete(task));
    this.draining.add(task);
  }

  private async drain(gen: Generation<H>) {
    const result = await this.adapter.drain(gen.handle, this.options.drainTimeoutMs ?? 30_000);
    this.reporter.emit({ type: 'drained', leaseId: gen.leaseId, ...result });
  }

  private async revoke(leaseId: string) {
    try {
      await this.session.withClient((c) => c.revokeLease(leaseId));
      this.reporter.emit({ type: 'revoked', leaseId });
    } catch (err) {
      // The lease then simply runs out at its TTL.
      this.fail('revoke', err, undefined, leaseId);
    }
  }

  /**
   * Records and reports a failure and returns it unchanged: errors from the caller's own code
   * (e.g. a secret source that throws) keep their type and code.
   */
  private fail(during: string, err: unknown, retryInMs?: number, leaseId?: string): Error {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!(error instanceof RotatorStoppedError)) {
      if (during !== 'revoke' && during !== 'retire') this.lastError = error;
      this.reporter.failure(during, error, { retryInMs, leaseId });
    }
    return error;
  }
}

function leaseInfo(gen: LeaseInfo): LeaseInfo {
  return { leaseId: gen.leaseId, username: gen.username, expiresAt: gen.expiresAt, renewable: gen.renewable };
}
