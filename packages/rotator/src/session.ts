import { readFile } from 'node:fs/promises';
import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import { OptionsInvalidError, VaultDeniedError, VaultRequestError } from './errors.js';
import { Reporter, jsonLogger, type RotatorEvent, type RotatorLogger } from './reporter.js';
import { VaultClient, type VaultAuthInfo } from './vault-client.js';

/** A secret given as a value or read on demand (a file that an operator or kubelet rotates). */
export type SecretSource = string | (() => string | Promise<string>);

export type VaultAuth =
  | { method: 'token'; token: SecretSource }
  | { method: 'approle'; roleId: SecretSource; secretId: SecretSource; mount?: string }
  | { method: 'kubernetes'; role: string; jwtFile?: string; mount?: string };

export interface VaultOptions {
  addr: string;
  auth: VaultAuth;
  namespace?: string;
  requestTimeoutMs?: number;
  /** Renew the login token after this fraction of its TTL. Default 2/3. */
  renewFraction?: number;
  retry?: BackoffOptions;
}

export const DEFAULT_JWT_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

async function resolveSecret(source: SecretSource): Promise<string> {
  return (typeof source === 'function' ? await source() : source).trim();
}

/**
 * A logged-in Vault client that keeps its token alive: it renews the token at `renewFraction` of
 * its TTL and logs in again when renewal is refused or the token nears its max TTL. Because
 * leases die with the token that created them, every new token is announced to `onNewToken`
 * listeners (the rotator then leases new credentials under it).
 */
export class VaultSession {
  readonly client: VaultClient;
  readonly reporter: Reporter;
  private readonly renewFraction: number;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private loggedIn: Promise<void> | undefined;
  private token: VaultAuthInfo | undefined;
  private tokenExpiresAt = Infinity;
  private readonly newTokenListeners = new Set<() => void>();
  private stopped = false;

  constructor(
    readonly options: VaultOptions,
    reporter?: Reporter,
  ) {
    if (!options.addr) throw new OptionsInvalidError('vault.addr is required');
    this.renewFraction = options.renewFraction ?? 2 / 3;
    if (!(this.renewFraction > 0 && this.renewFraction < 1)) {
      throw new OptionsInvalidError('vault.renewFraction must be between 0 and 1');
    }
    this.client = new VaultClient({
      addr: options.addr,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
    this.reporter = reporter ?? new Reporter(jsonLogger());
  }

  get logger(): RotatorLogger {
    return this.reporter.logger;
  }

  /** Logs in once (concurrent callers share the attempt); a failed attempt is retried next call. */
  ensureLogin(): Promise<void> {
    if (this.stopped) return Promise.reject(new VaultRequestError('the Vault session has been stopped'));
    if (!this.loggedIn) {
      this.loggedIn = this.login().catch((err) => {
        this.loggedIn = undefined;
        throw err;
      });
    }
    return this.loggedIn;
  }

  /**
   * Calls fn with a logged-in client. On 403 it checks whether the token itself is dead (expired
   * or revoked from outside); if so it logs in again and retries once, else the denial stands.
   */
  async withClient<T>(fn: (client: VaultClient) => Promise<T>): Promise<T> {
    await this.ensureLogin();
    try {
      return await fn(this.client);
    } catch (err) {
      if (!(err instanceof VaultDeniedError) || !this.canLogInAgain()) throw err;
      const tokenAlive = await this.client.lookupSelf().then(
        () => true,
        () => false,
      );
      if (tokenAlive) throw err;
      this.loggedIn = undefined;
      await this.ensureLogin();
      return fn(this.client);
    }
  }

  private canLogInAgain(): boolean {
    const auth = this.options.auth;
    return auth.method !== 'token' || typeof auth.token === 'function';
  }

  onNewToken(listener: () => void): () => void {
    this.newTokenListeners.add(listener);
    return () => this.newTokenListeners.delete(listener);
  }

  /** Seconds the current token has left (Infinity for a non-expiring token). */
  tokenTtlSeconds(): number {
    return this.tokenExpiresAt === Infinity
      ? Infinity
      : Math.max(0, (this.tokenExpiresAt - Date.now()) / 1000);
  }

  private emit(event: RotatorEvent) {
    this.reporter.emit(event);
  }

  private async login(): Promise<void> {
    const auth = this.options.auth;
    const first = this.token === undefined;
    let info: VaultAuthInfo;
    if (auth.method === 'token') {
      this.client.token = await resolveSecret(auth.token);
      const self = await this.client.lookupSelf();
      info = { clientToken: this.client.token, leaseDuration: self.ttl, renewable: self.renewable };
    } else if (auth.method === 'approle') {
      const [roleId, secretId] = await Promise.all([
        resolveSecret(auth.roleId),
        resolveSecret(auth.secretId),
      ]);
      info = await this.client.loginAppRole(auth.mount ?? 'approle', roleId, secretId);
    } else {
      const file = auth.jwtFile ?? DEFAULT_JWT_FILE;
      // Projected service-account tokens are rotated by the kubelet: read the file on every login.
      const jwt = (
        await readFile(file, 'utf8').catch((cause) => {
          throw new OptionsInvalidError(
            `cannot read the service-account token file ${file}: ${(cause as Error).message}`,
          );
        })
      ).trim();
      info = await this.client.loginKubernetes(auth.mount ?? 'kubernetes', auth.role, jwt);
    }
    this.client.token = info.clientToken;
    this.token = info;
    this.tokenExpiresAt = info.leaseDuration > 0 ? Date.now() + info.leaseDuration * 1000 : Infinity;
    this.emit({
      type: 'login',
      method: auth.method,
      tokenTtlSeconds: info.leaseDuration,
      renewable: info.renewable,
    });
    this.scheduleTokenRenewal(info.leaseDuration, info.renewable, info.leaseDuration);
    if (!first) for (const listener of this.newTokenListeners) listener();
  }

  private schedule(ms: number, task: () => Promise<void>) {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void task(), Math.max(0, ms));
    this.timer.unref();
  }

  /**
   * Renews at renewFraction of the TTL. A renewal that comes back shorter than asked means the
   * token is capped by its max TTL: log in again before it ends rather than renew it to death.
   */
  private scheduleTokenRenewal(ttlSeconds: number, renewable: boolean, increment: number) {
    if (ttlSeconds <= 0) return; // non-expiring token
    const delay = ttlSeconds * 1000 * this.renewFraction;
    if (!renewable) {
      this.schedule(delay, () => this.relogin());
      return;
    }
    this.schedule(delay, async () => {
      try {
        const info = await this.client.renewSelf(increment);
        this.tokenExpiresAt = Date.now() + info.leaseDuration * 1000;
        this.emit({ type: 'token-renewed', tokenTtlSeconds: info.leaseDuration });
        if (info.leaseDuration < increment)
          this.schedule(info.leaseDuration * 1000 * this.renewFraction, () => this.relogin());
        else this.scheduleTokenRenewal(info.leaseDuration, info.renewable, increment);
      } catch (err) {
        this.reporter.failure('token-renewal', err);
        await this.relogin();
      }
    });
  }

  /** Logs in again, retrying with backoff until it works or the session stops. */
  private async relogin(): Promise<void> {
    // A fixed token cannot be replaced; callers see VAULT_DENIED once it expires.
    if (!this.canLogInAgain()) return;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        this.loggedIn = this.login();
        await this.loggedIn;
        return;
      } catch (err) {
        this.loggedIn = undefined;
        const wait = backoffDelay(attempt, this.options.retry);
        this.reporter.failure('login', err, { retryInMs: wait });
        if (!(await sleep(wait, this.abort.signal, false))) return;
      }
    }
  }

  /** Stops renewing; revokes the token when this session created it by logging in. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.timer);
    if (this.token && this.options.auth.method !== 'token') {
      await this.client.revokeSelf().catch((err) => this.reporter.failure('token-revoke', err));
    }
  }
}
