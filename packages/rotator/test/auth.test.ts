import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createServer, type Server } from 'node:http';
import { generateKeyPairSync, createSign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName, waitFor } from '@infralogs/devkit';
import { createRotator, rotatorOptions, setupEngine, type Engine } from './helpers';
import { VaultSession, type RotatorEvent } from '../src';

const infra = inject('infra');

/** The least a rotator needs: read its creds path, renew (default policy), revoke its role's leases. */
function rotatorPolicy(engine: Engine) {
  return `
path "${engine.credentialsPath}" { capabilities = ["read"] }
path "sys/leases/revoke/${engine.credentialsPath}/*" { capabilities = ["update"] }
`;
}

describe('logging in', () => {
  let engine: Engine;
  const policy = uniqueName('pol');
  beforeAll(async () => {
    engine = await setupEngine(infra, { ttl: '1m', maxTtl: '5m' });
    await engine.vault(`sys/policies/acl/${policy}`, 'PUT', { policy: rotatorPolicy(engine) });
  });
  afterAll(async () => {
    await engine?.vault(`sys/policies/acl/${policy}`, 'DELETE').catch(() => {});
    await engine?.cleanup();
  });

  it('AppRole: renews its token, logs in again at max TTL and moves credentials to the new token', async () => {
    const mount = uniqueName('ar');
    await engine.vault(`sys/auth/${mount}`, 'POST', { type: 'approle' });
    try {
      // Token TTL 2 s, max 4 s: one renewal, then a new login about every 3 s.
      await engine.vault(`auth/${mount}/role/app`, 'POST', {
        token_policies: [policy],
        token_ttl: '2s',
        token_max_ttl: '4s',
      });
      const roleId = (await engine.vault(`auth/${mount}/role/app/role-id`)).body.data?.role_id as string;
      const secretId = (await engine.vault(`auth/${mount}/role/app/secret-id`, 'POST', {})).body.data
        ?.secret_id as string;
      const events: RotatorEvent[] = [];
      const logLines: string[] = [];
      const rotator = createRotator(
        rotatorOptions(infra, engine, {
          events,
          logLines,
          vault: {
            addr: infra.vault.addr,
            auth: { method: 'approle', roleId, secretId: () => secretId, mount },
          },
        }),
      );
      await rotator.start();
      const first = rotator.lease()!;
      await waitFor(
        'credentials moved to a new token',
        async () => events.some((e) => e.type === 'rotated' && e.reason === 'token-replaced'),
        12_000,
      );
      expect(events.filter((e) => e.type === 'login').length).toBeGreaterThanOrEqual(2);
      expect(events.some((e) => e.type === 'token-renewed')).toBe(true);
      expect(rotator.lease()!.leaseId).not.toBe(first.leaseId);
      const [rows] = await rotator.query('SELECT 1 AS one');
      expect(rows[0]?.one).toBe(1);
      const last = rotator.lease()!;
      await rotator.stop();
      // Old and last leases were revoked through the URL form that the policy allows.
      const revoked = events.flatMap((e) => (e.type === 'revoked' ? [e.leaseId] : []));
      expect(revoked).toEqual(expect.arrayContaining([first.leaseId, last.leaseId]));
      expect(events.filter((e) => e.type === 'error' && e.during === 'revoke')).toEqual([]);
      const log = logLines.join('\n');
      expect(log).not.toContain(secretId);
    } finally {
      await engine.vault(`sys/auth/${mount}`, 'DELETE').catch(() => {});
    }
  });

  describe('Kubernetes (against a stand-in TokenReview API: no cluster here)', () => {
    let server: Server;
    let dir: string;
    const reviews: { authorization: string | undefined; token: string }[] = [];
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rotator-k8s-'));
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const review = JSON.parse(body) as { spec: { token: string; audiences?: string[] } };
          reviews.push({ authorization: req.headers.authorization, token: review.spec.token });
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenReview',
              status: {
                authenticated: true,
                user: { username: 'system:serviceaccount:openfaas-fn:default', uid: 'sa-uid-1' },
                audiences: review.spec.audiences,
              },
            }),
          );
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    });
    afterAll(async () => {
      server?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('logs in with the service-account JWT file at a non-default mount and leases credentials', async () => {
      const mount = uniqueName('k8s');
      const port = (server.address() as { port: number }).port;
      await engine.vault(`sys/auth/${mount}`, 'POST', { type: 'kubernetes' });
      try {
        await engine.vault(`auth/${mount}/config`, 'POST', {
          kubernetes_host: `http://127.0.0.1:${port}`,
          kubernetes_ca_cert: await readFile(new URL('./fixtures/fake-k8s-ca.pem', import.meta.url), 'utf8'),
          disable_local_ca_jwt: true,
        });
        await engine.vault(`auth/${mount}/role/app`, 'POST', {
          bound_service_account_names: ['default'],
          bound_service_account_namespaces: ['openfaas-fn'],
          token_policies: [policy],
          token_ttl: '1m',
        });
        const jwtFile = join(dir, 'token');
        await writeFile(jwtFile, serviceAccountJwt() + '\n');
        const events: RotatorEvent[] = [];
        const rotator = createRotator(
          rotatorOptions(infra, engine, {
            events,
            vault: { addr: infra.vault.addr, auth: { method: 'kubernetes', role: 'app', jwtFile, mount } },
          }),
        );
        await rotator.start();
        // The JWT went from the file (trimmed) to OpenBao, which reviewed it with the API server.
        expect(reviews.at(-1)?.token).toBe((await readFile(jwtFile, 'utf8')).trim());
        expect(events.find((e) => e.type === 'login')).toMatchObject({
          method: 'kubernetes',
          tokenTtlSeconds: 60,
        });
        const [rows] = await rotator.query('SELECT CURRENT_USER() AS u');
        expect(rows[0]?.u).toBe(`${rotator.lease()!.username}@%`);
        await rotator.stop();
      } finally {
        await engine.vault(`sys/auth/${mount}`, 'DELETE').catch(() => {});
      }
    });

    it('reports a missing JWT file as a configuration error, not an outage', async () => {
      const session = new VaultSession({
        addr: infra.vault.addr,
        auth: { method: 'kubernetes', role: 'app', jwtFile: join(dir, 'missing') },
      });
      await expect(session.ensureLogin()).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
      await session.stop();
    });
  });
});

/** A service-account-shaped JWT (RS256, signed by a throwaway key: the stand-in API trusts it). */
function serviceAccountJwt(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = part({ alg: 'RS256', kid: 'test' });
  const claims = part({
    iss: 'kubernetes/serviceaccount',
    sub: 'system:serviceaccount:openfaas-fn:default',
    'kubernetes.io/serviceaccount/namespace': 'openfaas-fn',
    'kubernetes.io/serviceaccount/service-account.name': 'default',
    'kubernetes.io/serviceaccount/service-account.uid': 'sa-uid-1',
  });
  const signature = createSign('RSA-SHA256')
    .update(`${head}.${claims}`)
    .sign(privateKey)
    .toString('base64url');
  return `${head}.${claims}.${signature}`;
}
