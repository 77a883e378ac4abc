import type { FieldPacket, Pool, PoolConnection, QueryResult, RowDataPacket } from 'mysql2/promise';
import { backoffDelay, sleep, type BackoffOptions } from './backoff';
import {
  DatabaseUnavailableError,
  LeaseInvalidError,
  OptionsInvalidError,
  RotatorStoppedError,
  VaultDeniedError,
  VaultUnavailableError,
  isTransient,
} from './errors';
import {
  busyConnections,
  createVerifiedPool,
  drainPool,
  isAccessDenied,
  isConnectFailure,
  type MysqlOptions,
} from './pool';
import {
  Reporter,
  jsonLogger,
  type RotationReason,
  type RotatorEvent,
  type RotatorEventType,
  type RotatorLogger,
  type RotatorMetrics,
} from './reporter';
import { VaultSession, type VaultOptions } from './session';

export interface RotatorOptions {
  /** How to reach and log in to Vault, or a session shared with other code (not stopped by us). */
  vault: VaultOptions | VaultSession;
  /** The path that issues credentials, e.g. `database/creds/my-role`. */
  credentialsPath: string;
  /** mysql2 pool options without user/password. */
  mysql: MysqlOptions;
  /** Renew a lease after this fraction of its duration. Default 2/3. */
  renewFraction?: number;
  /** How long an old pool may take to finish in-flight work before it is closed. Default 30 s. */
  drainTimeoutMs?: number;
  /** How long new credentials may take to work on the server (replication lag). Default 30 s. */
  connectTimeoutMs?: number;
  /** How long start() keeps retrying while Vault or MySQL is unavailable. Default 30 s. */
  startTimeoutMs?: number;
  /** Backoff for every retry loop. Default 250 ms doubling up to 10 s, full jitter. */
  retry?: BackoffOptions;
  /** Revoke the current lease on stop(). Default true. */
  revokeOnStop?: boolean;
  logger?: RotatorLogger;
  onEvent?: (event: RotatorEvent) => void;
}

/** What is known about the credentials in use (never the password). */
export interface LeaseInfo {
  leaseId: string;
  username: string;
  /** Epoch ms when the lease ends unless renewed. */
  expiresAt: number;
  renewable: boolean;
}

interface Generation extends LeaseInfo {
  pool: Pool;
  /** The duration Vault first granted: the increment asked for on renewal. */
  grantedSeconds: number;
}

/**
 * Keeps a mysql2 pool supplied with short-lived credentials from Vault's database secrets engine.
 * Lifecycle per lease: lease → verified pool → renew at renewFraction → when renewal is refused,
 * capped by max_ttl, or the lease disappears: lease again, build a new pool, swap, drain the old
 * pool, revoke the old lease. Vault outages are retried with backoff while the current pool keeps
 * serving until its lease runs out.
 */
export class Rotator {
  private readonly session: VaultSession;
  private readonly ownsSession: boolean;
  private readonly reporter: Reporter;
  private readonly renewFraction: number;
  private readonly abort = new AbortController();
  private readonly draining = new Set<Promise<void>>();
  private current: Generation | undefined;
  private rotation: Promise<Generation> | undefined;
  private recovering: Promise<void> | undefined;
  private lastError: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly unsubscribe: () => void;

  constructor(readonly options: RotatorOptions) {
    if (!options.credentialsPath) throw new OptionsInvalidError('credentialsPath is required');
    if (!options.mysql?.host) throw new OptionsInvalidError('mysql.host is required');
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

  /** Logs in, leases credentials and opens a verified pool; retries while Vault or MySQL is down. */
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

  /** The pool to use now. Take it per unit of work: after a rotation the old one is drained. */
  getPool(): Pool {
    if (this.stopped) throw new RotatorStoppedError();
    const gen = this.current;
    if (gen && Date.now() < gen.expiresAt) return gen.pool;
    const reason = this.lastError?.message ?? (gen ? 'the lease ran out' : 'start() has not succeeded');
    const message = `no usable MySQL credentials: ${reason}`;
    if (this.lastError instanceof DatabaseUnavailableError) throw new DatabaseUnavailableError(message);
    if (this.lastError instanceof VaultDeniedError) throw new VaultDeniedError(message);
    throw new VaultUnavailableError(message, { cause: this.lastError });
  }

  /**
   * Runs fn with a connection of the current pool and releases it afterwards. If the connection
   * cannot be opened because the credentials stopped working (revoked from outside), it leases new
   * ones and retries once.
   */
  async withConnection<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.acquire();
    try {
      return await fn(conn);
    } finally {
      conn.release();
    }
  }

  query<T extends QueryResult = RowDataPacket[]>(sql: string, values?: unknown): Promise<[T, FieldPacket[]]> {
    return this.withConnection((conn) => conn.query<T>(sql, values as never));
  }

  execute<T extends QueryResult = RowDataPacket[]>(
    sql: string,
    values?: unknown,
  ): Promise<[T, FieldPacket[]]> {
    return this.withConnection((conn) => conn.execute<T>(sql, values as never));
  }

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

  /** Connections of the current pool in use right now. */
  inFlight(): number {
    return this.current ? busyConnections(this.current.pool) : 0;
  }

  /**
   * Stops renewing, waits for in-flight work (up to drainTimeoutMs), closes every pool, revokes
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

  private async acquire(): Promise<PoolConnection> {
    const pool = this.getPool();
    try {
      return await pool.getConnection();
    } catch (err) {
      if (!isConnectFailure(err)) throw err;
      this.reporter.counters.connectRetries += 1;
      if (pool === this.current?.pool && isAccessDenied(err)) await this.rotate('connect-failed');
      else await this.rotation?.catch(() => {});
      return this.getPool().getConnection();
    }
  }

  /** One rotation at a time; concurrent requests share it. */
  private rotate(reason: RotationReason): Promise<Generation> {
    this.rotation ??= this.replaceCredentials(reason).finally(() => {
      this.rotation = undefined;
    });
    return this.rotation;
  }

  private async replaceCredentials(reason: RotationReason): Promise<Generation> {
    if (this.stopped) throw new RotatorStoppedError();
    const lease = await this.session.withClient((c) => c.readCredentials(this.options.credentialsPath));
    this.reporter.emit({
      type: 'lease',
      leaseId: lease.leaseId,
      username: lease.data.username,
      leaseDurationSeconds: lease.leaseDuration,
      renewable: lease.renewable,
    });
    let pool: Pool;
    try {
      pool = await createVerifiedPool(this.options.mysql, lease.data, {
        timeoutMs: this.options.connectTimeoutMs ?? 30_000,
        signal: this.abort.signal,
        ...(this.options.retry ? { retry: this.options.retry } : {}),
        onRetry: (err) =>
          this.reporter.logger.info('rotator.waiting_for_user', {
            leaseId: lease.leaseId,
            username: lease.data.username,
            errno: (err as { errno?: unknown }).errno,
          }),
      });
    } catch (err) {
      void this.revoke(lease.leaseId);
      throw err;
    }
    if (this.stopped) {
      await pool.end().catch(() => {});
      await this.revoke(lease.leaseId);
      throw new RotatorStoppedError();
    }
    const gen: Generation = {
      pool,
      leaseId: lease.leaseId,
      username: lease.data.username,
      renewable: lease.renewable,
      grantedSeconds: lease.leaseDuration,
      // A lease without a duration does not expire (nothing to renew or replace).
      expiresAt: lease.leaseDuration > 0 ? Date.now() + lease.leaseDuration * 1000 : Infinity,
    };
    const previous = this.current;
    this.current = gen;
    this.lastError = undefined;
    this.reporter.emit({ type: 'rotated', reason, leaseId: gen.leaseId, previousLeaseId: previous?.leaseId });
    this.scheduleNext(gen, lease.leaseDuration, lease.renewable, false);
    if (previous) this.retire(previous);
    return gen;
  }

  /**
   * After a grant or renewal of `seconds`: renew at renewFraction of it, unless the lease cannot
   * grow any more (not renewable, or capped by max_ttl), in which case lease new credentials at
   * that point so they are in place well before the old ones end.
   */
  private scheduleNext(gen: Generation, seconds: number, renewable: boolean, capped: boolean) {
    const delay = seconds * 1000 * this.renewFraction;
    clearTimeout(this.timer);
    if (this.stopped || seconds <= 0) return;
    const task =
      renewable && !capped ? () => this.renew(gen) : () => this.recover(capped ? 'max-ttl' : 'not-renewable');
    this.timer = setTimeout(() => void task(), delay);
    this.timer.unref();
  }

  private async renew(gen: Generation) {
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

  /** Rotates in the background, retrying with backoff until it works; the current pool stays meanwhile. */
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

  /** Drains an old pool in the background, then revokes its lease. */
  private retire(gen: Generation) {
    const task: Promise<void> = (async () => {
      await this.drain(gen);
      await this.revoke(gen.leaseId);
    })()
      .catch((err) => void this.fail('retire', err, undefined, gen.leaseId))
      .finally(() => this.draining.delete(task));
    this.draining.add(task);
  }

  private async drain(gen: Generation) {
    const result = await drainPool(gen.pool, this.options.drainTimeoutMs ?? 30_000);
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

function leaseInfo(gen: Generation): LeaseInfo {
  return { leaseId: gen.leaseId, username: gen.username, expiresAt: gen.expiresAt, renewable: gen.renewable };
}

export function createRotator(options: RotatorOptions): Rotator {
  return new Rotator(options);
}
