import { setTimeout as sleepTimer } from 'node:timers/promises';
import {
  CredentialRotator,
  type CredentialAdapter,
  type LeaseInfo,
  type RotatorCoreOptions,
} from './core.js';
import { ConsumerFailedError, OptionsInvalidError, RotatorError } from './errors.js';
import type { DatabaseCredentials } from './vault-client.js';

/** Called when credentials are retired: resolve once nothing uses them any more. */
export type Drain = () => void | Promise<void>;

export interface CallbackRotatorOptions extends RotatorCoreOptions {
  /**
   * Puts new credentials to use (reconfigure a client, write a file, tell another process) and
   * returns how to retire them. It is called once at start and once per rotation, never twice at
   * the same time. Throwing rejects the credentials: their lease is revoked, the previous ones stay
   * in use, and the rotation is retried with backoff. The previous lease is revoked only after this
   * resolved and the previous drain function resolved.
   */
  onCredentials(credentials: DatabaseCredentials, lease: LeaseInfo): Drain | Promise<Drain>;
  /** What the credentials are for, in messages. Default `the callback`. */
  target?: string;
  /**
   * Failures of onCredentials that mean "not yet" (e.g. a user not yet replicated): retried with
   * backoff for up to connectTimeoutMs before the rotation fails. Default: none.
   */
  isRetryable?(err: unknown): boolean;
}

/** The generic adapter: the consumer is a callback that returns its drain function. */
export function callbackAdapter(options: CallbackRotatorOptions): CredentialAdapter<Drain> {
  if (typeof options.onCredentials !== 'function') throw new OptionsInvalidError('onCredentials is required');
  const target = options.target ?? 'the callback';
  const retryable = options.isRetryable ?? (() => false);
  return {
    target,
    async open(credentials, lease) {
      try {
        const drain = await options.onCredentials(credentials, lease);
        return typeof drain === 'function' ? drain : () => {};
      } catch (err) {
        if (err instanceof RotatorError || retryable(err)) throw err;
        throw new ConsumerFailedError(
          `${target} refused the credentials of ${lease.username}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    },
    async drain(drain, timeoutMs) {
      const finished = Promise.resolve().then(drain);
      const timeout = new AbortController();
      const timedOut = await Promise.race([
        finished.then(
          () => false,
          () => false,
        ),
        sleepTimer(timeoutMs, true, { signal: timeout.signal }).catch(() => false),
      ]);
      timeout.abort();
      return { timedOut, inFlightAtEnd: timedOut ? 1 : 0 };
    },
    isAccessDenied: retryable,
    isRetryable: retryable,
  };
}

/**
 * Keeps any consumer supplied with short-lived credentials from Vault: the lifecycle of the
 * database rotators (lease, renew at 2/3, replace before max_ttl, verify, swap, drain, revoke),
 * with a callback in place of a pool.
 */
export class CallbackRotator extends CredentialRotator<Drain> {
  constructor(options: CallbackRotatorOptions) {
    super(options, callbackAdapter(options));
  }
}

export function createCallbackRotator(options: CallbackRotatorOptions): CallbackRotator {
  return new CallbackRotator(options);
}
