/**
 * Process shutdown: resources that must be released on SIGTERM (leased database credentials to
 * revoke, Vault tokens to revoke) register here; the function wrapper runs them once its server has
 * finished its calls. They run newest first, so a database closes before the Vault session its
 * leases belong to. A failing hook does not stop the others.
 */
type Hook = () => Promise<void>;
const hooks: Hook[] = [];
const draining = new AbortController();

/**
 * Aborted when the process starts to drain (the wrapper got SIGTERM). Long handlers watch it: they
 * start no new work, and hand back what is in flight before the pod's grace period ends
 * (templates/node22-ts/watchdog.ts states the grace).
 */
export const shutdownSignal: AbortSignal = draining.signal;

/** Starts the drain: aborts `shutdownSignal`. Idempotent; the hooks still run later (runShutdown). */
export function beginShutdown(): void {
  draining.abort();
}

/** Registers `hook`; returns a function that unregisters it. */
export function onShutdown(hook: Hook): () => void {
  hooks.push(hook);
  return () => {
    const i = hooks.lastIndexOf(hook);
    if (i >= 0) hooks.splice(i, 1);
  };
}

/** Runs and clears every registered hook, newest first; returns the errors of those that failed. */
export async function runShutdown(): Promise<unknown[]> {
  const errors: unknown[] = [];
  while (hooks.length > 0) {
    const hook = hooks.pop()!;
    try {
      await hook();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}
