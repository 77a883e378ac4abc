/**
 * Slows down repeated authentication failures, per client (and, for the dashboard's login, per
 * user name too). The one description of the rule, used by the agent (bearer tokens), the function
 * wrapper (caller tokens) and the dashboard (login):
 * - each key's failures are remembered for MEMORY_MS after the last one; a success forgets them;
 * - an attempt under a key with n remembered failures is answered only after
 *   FIRST_DELAY_MS · 2^(n-1), at most MAX_DELAY_MS (the largest over all the attempt's keys);
 * - at most KEYS_KEPT keys are kept (the oldest are forgotten), so a flood of fresh addresses
 *   costs bounded memory.
 * The wait happens before the credential is checked, so a client that guesses cannot tell a
 * slowed-down wrong answer from a slowed-down right one sooner.
 */
export const FAILURE_LIMITS = {
  FIRST_DELAY_MS: 250,
  MAX_DELAY_MS: 8000,
  MEMORY_MS: 15 * 60_000,
  KEYS_KEPT: 10_000,
} as const;

export interface FailureLimiterOptions {
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; at: number }>();
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly firstDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: FailureLimiterOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms).unref()));
    this.firstDelayMs = options.firstDelayMs ?? FAILURE_LIMITS.FIRST_DELAY_MS;
    this.maxDelayMs = options.maxDelayMs ?? FAILURE_LIMITS.MAX_DELAY_MS;
  }

  /** How long an attempt under these keys waits now (0 without remembered failures). */
  delayFor(keys: readonly string[]): number {
    let count = 0;
    for (const k of keys) count = Math.max(count, this.remembered(k));
    return count === 0 ? 0 : Math.min(this.maxDelayMs, this.firstDelayMs * 2 ** (count - 1));
  }

  /** Waits as long as `delayFor` says. */
  async wait(keys: readonly string[]): Promise<void> {
    const ms = this.delayFor(keys);
    if (ms > 0) await this.sleep(ms);
  }

  failed(keys: readonly string[]): void {
    for (const k of keys) {
      const count = this.remembered(k) + 1;
      // Re-inserted, so the map's order stays oldest first.
      this.failures.delete(k);
      this.failures.set(k, { count, at: this.now() });
    }
    while (this.failures.size > FAILURE_LIMITS.KEYS_KEPT)
      this.failures.delete(this.failures.keys().next().value!);
  }

  succeeded(keys: readonly string[]): void {
    for (const k of keys) this.failures.delete(k);
  }

  private remembered(key: string): number {
    const f = this.failures.get(key);
    return f && this.now() - f.at < FAILURE_LIMITS.MEMORY_MS ? f.count : 0;
  }
}

/**
 * The client an HTTP request comes from: the last X-Forwarded-For address (the one the proxy in
 * front, the OpenFaaS or local gateway, saw) when there is one, else the socket's peer.
 */
export function clientAddress(
  headers: Record<string, string | string[] | undefined>,
  peer: string | undefined,
): string {
  const xff = headers['x-forwarded-for'];
  const value = Array.isArray(xff) ? xff.at(-1) : xff;
  const last = value?.split(',').at(-1)?.trim();
  return (last || peer || 'unknown').slice(0, 64);
}
