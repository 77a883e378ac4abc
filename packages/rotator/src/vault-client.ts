import nodeVault from 'node-vault';
import {
  LeaseInvalidError,
  RotatorError,
  VaultDeniedError,
  VaultRequestError,
  VaultUnavailableError,
} from './errors.js';

/**
 * A thin layer over node-vault that (1) turns every failure into a coded RotatorError and
 * (2) works around node-vault's known problems, using only API that Vault and OpenBao share:
 * - `revoke()` rejects Vault's 202 (queued revocation) as "Status 202" and drops `sync`, so
 *   leases are revoked with a plain write of `{ sync: true }`, and 202 counts as success;
 * - `kubernetesLogin()` without `mount_point` posts to `/auth//login` (node-vault #300), so the
 *   mount is always passed;
 * - it has no default timeout, and picks up VAULT_TOKEN/VAULT_PREFIX from the environment, so
 *   both are set explicitly here.
 */
export interface VaultClientOptions {
  addr: string;
  token?: string;
  namespace?: string;
  /** Per-request timeout; Vault calls never hang longer than this. Default 10 s. */
  requestTimeoutMs?: number;
}

export interface VaultAuthInfo {
  clientToken: string;
  /** Seconds; 0 means the token does not expire (e.g. a root token). */
  leaseDuration: number;
  renewable: boolean;
}

export interface VaultLease<T> {
  leaseId: string;
  leaseDuration: number;
  renewable: boolean;
  data: T;
}

export interface DatabaseCredentials {
  username: string;
  password: string;
}

type RawClient = ReturnType<typeof nodeVault>;

export class VaultClient {
  private readonly raw: RawClient;

  constructor(readonly options: VaultClientOptions) {
    this.raw = nodeVault({
      apiVersion: 'v1',
      endpoint: options.addr,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      requestOptions: { timeout: options.requestTimeoutMs ?? 10_000 },
    });
    this.raw.token = options.token ?? '';
    (this.raw as { pathPrefix?: string }).pathPrefix = '';
  }

  get token(): string {
    return this.raw.token;
  }

  set token(token: string) {
    this.raw.token = token;
  }

  /** Generic calls, for paths the rotator has no helper for (bootstrap, KV). */
  read<T = Record<string, unknown>>(path: string): Promise<VaultBody<T>> {
    return this.call(`read ${path}`, () => this.raw.read(path));
  }

  /** Like read(), but a 404 (absent path) resolves to undefined. */
  async readIfExists<T = Record<string, unknown>>(path: string): Promise<VaultBody<T> | undefined> {
    try {
      return await this.read<T>(path);
    } catch (err) {
      if (err instanceof RotatorError && err.status === 404) return undefined;
      throw err;
    }
  }

  write<T = Record<string, unknown>>(path: string, data: unknown): Promise<VaultBody<T> | undefined> {
    return this.call(`write ${path}`, () => this.raw.write(path, data));
  }

  delete(path: string): Promise<unknown> {
    return this.call(`delete ${path}`, () => this.raw.delete(path));
  }

  async loginAppRole(mount: string, roleId: string, secretId: string): Promise<VaultAuthInfo> {
    const body = await this.call(`login ${mount}`, () =>
      this.raw.approleLogin({ role_id: roleId, secret_id: secretId, mount_point: mount }),
    );
    return authInfo(body);
  }

  async loginKubernetes(mount: string, role: string, jwt: string): Promise<VaultAuthInfo> {
    const body = await this.call(`login ${mount}`, () =>
      this.raw.kubernetesLogin({ role, jwt, mount_point: mount }),
    );
    return authInfo(body);
  }

  async lookupSelf(): Promise<{ ttl: number; renewable: boolean }> {
    const body = await this.call('token lookup-self', () => this.raw.tokenLookupSelf());
    const data = (body?.data ?? {}) as { ttl?: number; renewable?: boolean };
    return { ttl: Number(data.ttl ?? 0), renewable: Boolean(data.renewable) };
  }

  async renewSelf(incrementSeconds: number): Promise<VaultAuthInfo> {
    const body = await this.call('token renew-self', () =>
      this.raw.tokenRenewSelf({ increment: `${Math.max(1, Math.round(incrementSeconds))}s` }),
    );
    return authInfo(body);
  }

  async revokeSelf(): Promise<void> {
    await this.call('token revoke-self', () => this.raw.tokenRevokeSelf());
  }

  async readCredentials(path: string): Promise<VaultLease<DatabaseCredentials>> {
    const body = await this.read<DatabaseCredentials>(path);
    const data = body.data;
    if (!body.lease_id || typeof data?.username !== 'string' || typeof data.password !== 'string') {
      throw new VaultRequestError(`${path} did not return leased credentials (is it a database creds path?)`);
    }
    return {
      leaseId: body.lease_id,
      leaseDuration: Number(body.lease_duration ?? 0),
      renewable: Boolean(body.renewable),
      data: { username: data.username, password: data.password },
    };
  }

  /**
   * Renews a lease; a lease that no longer exists fails with LeaseInvalidError. Like revocation it
   * uses the URL form (a policy can then allow one role's leases only) and falls back to the body
   * form that Vault's default policy allows.
   */
  async renewLease(
    leaseId: string,
    incrementSeconds: number,
  ): Promise<{ leaseDuration: number; renewable: boolean }> {
    const increment = Math.max(1, Math.round(incrementSeconds));
    try {
      const body = await this.write(`sys/leases/renew/${leaseId}`, { increment }).catch((err: unknown) => {
        if (!(err instanceof VaultDeniedError)) throw err;
        return this.call(`renew ${leaseId}`, () => this.raw.renew({ lease_id: leaseId, increment }));
      });
      return { leaseDuration: Number(body?.lease_duration ?? 0), renewable: Boolean(body?.renewable) };
    } catch (err) {
      // Vault answers 400 "lease not found" / "past the max TTL" for leases that cannot go on.
      if (err instanceof VaultRequestError && err.status === 400) {
        throw new LeaseInvalidError(`lease ${leaseId} can no longer be renewed: ${err.message}`, {
          cause: err,
          status: 400,
        });
      }
      throw err;
    }
  }

  /**
   * Revokes a lease synchronously (the database user is dropped when this returns). Uses the URL
   * form `sys/leases/revoke/<lease_id>` so a policy can limit revocation to one role's leases, and
   * falls back to the body form for policies written for `sys/leases/revoke`. A lease that is
   * already gone counts as revoked.
   */
  async revokeLease(leaseId: string): Promise<void> {
    try {
      await this.revokeAccepting202(`sys/leases/revoke/${leaseId}`, { sync: true });
    } catch (err) {
      if (!(err instanceof VaultDeniedError)) throw err;
      await this.revokeAccepting202('sys/leases/revoke', { lease_id: leaseId, sync: true });
    }
  }

  private async revokeAccepting202(path: string, body: Record<string, unknown>) {
    try {
      await this.write(path, body);
    } catch (err) {
      if (err instanceof RotatorError && err.status === 202) return;
      throw err;
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classify(what, err);
    }
  }
}

/** The envelope every Vault answer shares. */
export interface VaultBody<T> {
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data?: T;
  auth?: { client_token?: string; lease_duration?: number; renewable?: boolean } | null;
  warnings?: string[] | null;
}

function authInfo(body: VaultBody<unknown> | undefined): VaultAuthInfo {
  const auth = body?.auth;
  if (!auth?.client_token) throw new VaultRequestError('the login answer carried no token');
  return {
    clientToken: auth.client_token,
    leaseDuration: Number(auth.lease_duration ?? 0),
    renewable: Boolean(auth.renewable),
  };
}

/** Maps node-vault/axios failures onto coded errors; the message names the call, never a secret. */
export function classify(what: string, err: unknown): RotatorError {
  if (err instanceof RotatorError) return err;
  const status = (err as { response?: { statusCode?: unknown } }).response?.statusCode;
  if (typeof status === 'number') {
    const first = String((err as Error).message ?? '')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 200);
    const message = `Vault ${what}: ${status} ${first}`;
    if (status === 403) return new VaultDeniedError(message, { status });
    if (status === 429 || status >= 500) return new VaultUnavailableError(message, { status });
    return new VaultRequestError(message, { status });
  }
  // No HTTP answer: refused, reset, DNS or timeout (axios codes ECONNREFUSED, ECONNABORTED, ...).
  const code = (err as { code?: unknown }).code;
  return new VaultUnavailableError(
    `Vault ${what}: unreachable (${typeof code === 'string' ? code : (err as Error).message})`,
  );
}
