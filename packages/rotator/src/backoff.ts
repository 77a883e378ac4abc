import { setTimeout as sleepTimer } from 'node:timers/promises';

/** Exponential backoff with full jitter: attempt n waits a random time in [0, min(max, initial·2ⁿ)]. */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 10_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  // Never zero, so a tight failure loop still yields to the event loop and the server.
  return Math.max(initial / 4, Math.random() * ceiling);
}

/**
 * Sleeps, or resolves false early when the signal aborts (so stop() never waits on a backoff).
 * Background loops pass ref=false so a forgotten rotator does not keep the process alive.
 */
export async function sleep(ms: number, signal?: AbortSignal, ref = true): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await sleepTimer(ms, undefined, { signal, ref });
    return true;
  } catch {
    return false;
  }
}
