/**
 * What the rotator tells the outside: typed events (to `onEvent` and `on()` listeners), one
 * structured log line per event, and counters. No event, log field or metric ever carries a
 * password, token or secret_id; lease ids and database user names are not secrets.
 */
export interface RotatorLogger {
  debug?(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/** One JSON object per line on stderr: the default when no logger is given. */
export function jsonLogger(base: Record<string, unknown> = { component: 'vault-rotator' }): RotatorLogger {
  const write = (level: string, event: string, fields?: Record<string, unknown>) =>
    process.stderr.write(
      JSON.stringify({ time: new Date().toISOString(), level, event, ...base, ...fields }) + '\n',
    );
  return {
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
  };
}

export const silentLogger: RotatorLogger = { info() {}, warn() {}, error() {} };

export type RotationReason =
  | 'start'
  | 'max-ttl'
  | 'not-renewable'
  | 'renewal-failed'
  | 'lease-invalid'
  | 'token-replaced'
  | 'connect-failed'
  | 'requested';

export type RotatorEvent =
  | { type: 'login'; method: string; tokenTtlSeconds: number; renewable: boolean }
  | { type: 'token-renewed'; tokenTtlSeconds: number }
  | { type: 'lease'; leaseId: string; username: string; leaseDurationSeconds: number; renewable: boolean }
  | { type: 'renewed'; leaseId: string; leaseDurationSeconds: number; capped: boolean }
  | { type: 'rotated'; reason: RotationReason; leaseId: string; previousLeaseId: string | undefined }
  | { type: 'drained'; leaseId: string; timedOut: boolean; inFlightAtEnd: number }
  | { type: 'revoked'; leaseId: string }
  | { type: 'error'; during: string; code: string; message: string; leaseId?: string; retryInMs?: number };

export type RotatorEventType = RotatorEvent['type'];

export interface RotatorMetrics {
  logins: number;
  tokenRenewals: number;
  leasesIssued: number;
  leaseRenewals: number;
  rotations: number;
  revocations: number;
  drains: number;
  drainTimeouts: number;
  errors: number;
  /** Connections retried on a fresh pool by query()/withConnection(). */
  connectRetries: number;
  /** Seconds left on the current lease (0 when there is none). */
  leaseTtlSeconds: number;
  /** Old pools still waiting for their in-flight work to finish. */
  poolsDraining: number;
}

const COUNTER_FOR: Partial<Record<RotatorEventType, keyof RotatorMetrics>> = {
  login: 'logins',
  'token-renewed': 'tokenRenewals',
  lease: 'leasesIssued',
  renewed: 'leaseRenewals',
  rotated: 'rotations',
  revoked: 'revocations',
  drained: 'drains',
  error: 'errors',
};

type Listener = (event: RotatorEvent) => void;

export class Reporter {
  readonly counters: Omit<RotatorMetrics, 'leaseTtlSeconds' | 'poolsDraining'> = {
    logins: 0,
    tokenRenewals: 0,
    leasesIssued: 0,
    leaseRenewals: 0,
    rotations: 0,
    revocations: 0,
    drains: 0,
    drainTimeouts: 0,
    errors: 0,
    connectRetries: 0,
  };
  private readonly listeners = new Map<RotatorEventType | '*', Set<Listener>>();

  constructor(
    readonly logger: RotatorLogger,
    onEvent?: Listener,
  ) {
    if (onEvent) this.on('*', onEvent);
  }

  on(type: RotatorEventType | '*', listener: Listener): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener);
    this.listeners.set(type, set);
    return () => set.delete(listener);
  }

  /** Reports a failure as an 'error' event (code and message only: messages carry no secrets). */
  failure(during: string, err: unknown, extra: { retryInMs?: number; leaseId?: string } = {}): void {
    const code = (err as { code?: unknown })?.code;
    this.emit({
      type: 'error',
      during,
      code: typeof code === 'string' ? code : 'INTERNAL',
      message: (err as Error)?.message ?? String(err),
      ...(extra.leaseId ? { leaseId: extra.leaseId } : {}),
      ...(extra.retryInMs === undefined ? {} : { retryInMs: Math.round(extra.retryInMs) }),
    });
  }

  emit(event: RotatorEvent): void {
    const counter = COUNTER_FOR[event.type];
    if (counter && counter in this.counters) this.counters[counter as keyof Reporter['counters']] += 1;
    if (event.type === 'drained' && event.timedOut) this.counters.drainTimeouts += 1;
    const { type, ...fields } = event;
    if (type === 'error') this.logger.warn(`rotator.${type}`, fields);
    else this.logger.info(`rotator.${type}`, fields);
    for (const key of [type, '*'] as const) {
      for (const listener of this.listeners.get(key) ?? []) {
        // A throwing listener must not break renewal or rotation.
        try {
          listener(event);
        } catch (err) {
          this.logger.error('rotator.listener_failed', { message: (err as Error).message });
        }
      }
    }
  }
}
