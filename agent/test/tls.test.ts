import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createLogger } from '@infralogs/core';
import { createTestCa, makeJournalDir, syslogToExport, waitFor, type TestCa } from '@infralogs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../src/index';

/**
 * The agent over real TLS (certificates signed by an openssl CA): HTTPS with the certificate
 * files, a certificate replaced on disk taken without a restart, and client certificates (mTLS).
 */
const TOKEN = 'tls-test-token-0123456789';
let work: string;
let ca: TestCa;
let otherCa: TestCa;
let journalDir: string;
let tokensFile: string;
const agents: RunningAgent[] = [];
const log = createLogger({ component: 'agent-tls-test' }, { level: 'error' });

interface Answer {
  status: number;
  body: string;
  /** The serial number of the certificate the agent presented. */
  serial: string;
}

function get(
  url: string,
  options: { ca: string; cert?: string; key?: string; path?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${options.path ?? '/logs?limit=3'}`,
      {
        ca: options.ca,
        ...(options.cert ? { cert: options.cert, key: options.key } : {}),
        headers: { authorization: `Bearer ${TOKEN}` },
        agent: false,
      },
      (res) => {
        let body = '';
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body, serial }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'infralogs-agent-tls-'));
  ca = await createTestCa(join(work, 'ca'));
  otherCa = await createTestCa(join(work, 'other-ca'), 'Another CA');
  tokensFile = join(work, 'tokens');
  await writeFile(tokensFile, `${TOKEN}\n`);
  journalDir = await makeJournalDir(
    syslogToExport(['sshd[1]: one', 'sshd[2]: two', 'sshd[3]: three', 'sshd[4]: four'], {
      hostname: 'tls-host',
    }),
    join(work, 'journal'),
  );
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await rm(work, { recursive: true, force: true });
});

async function tlsAgent(certName: string, clientCaFile: string | null = null) {
  const leaf = await ca.issue(certName, { altNames: ['IP:127.0.0.1'] });
  const certFile = join(work, `${certName}-served.pem`);
  const keyFile = join(work, `${certName}-served.key`);
  await copyFile(leaf.certFile, certFile);
  await copyFile(leaf.keyFile, keyFile);
  const agent = await startAgent(
    { host: '127.0.0.1', port: 0, tokensFile, journalDir, tls: { certFile, keyFile, clientCaFile } },
    log,
  );
  agents.push(agent);
  return { agent, certFile, keyFile, leaf };
}

describe('agent HTTPS', () => {
  it('serves /logs over HTTPS with the certificate from its files', async () => {
    const { agent } = await tlsAgent('served');
    expect(agent.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const a = await get(agent.url, { ca: ca.certPem });
    expect(a.status).toBe(200);
    expect(a.body.trim().split('\n')).toHaveLength(3);
    // A client trusting another CA does not get through the handshake.
    await expect(get(agent.url, { ca: otherCa.certPem })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it('takes a replaced certificate for new connections without a restart', async () => {
    const { agent, certFile, keyFile } = await tlsAgent('rotated');
    const before = (await get(agent.url, { ca: ca.certPem, path: '/healthz' })).serial;
    const next = await otherCa.issue('rotated-next', { altNames: ['IP:127.0.0.1'] });
    // Key first, then the certificate: in between, the pair does not match and is not taken.
    await copyFile(next.keyFile, keyFile);
    await copyFile(next.certFile, certFile);
    await waitFor('the agent to present the new certificate', async () => {
      const a = await get(agent.url, { ca: otherCa.certPem, path: '/healthz' }).catch(() => null);
      return a !== null && a.status === 200 && a.serial !== before;
    });
    // The old CA no longer verifies it: the agent really switched.
    await expect(get(agent.url, { ca: ca.certPem, path: '/healthz' })).rejects.toThrow();
  });

  it('requires a client certificate from the client CA when one is configured (mTLS)', async () => {
    const clientCa = await createTestCa(join(work, 'client-ca'), 'Client CA');
    const { agent } = await tlsAgent('mtls', clientCa.certFile);
    const client = await clientCa.issue('fetch-host', { usage: 'client', altNames: ['DNS:fetch-host'] });
    const stranger = await otherCa.issue('stranger', { usage: 'client', altNames: ['DNS:stranger'] });
    const pair = async (c: { certFile: string; keyFile: string }) => ({
      cert: await readFile(c.certFile, 'utf8'),
      key: await readFile(c.keyFile, 'utf8'),
    });
    const ok = await get(agent.url, { ca: ca.certPem, ...(await pair(client)) });
    expect(ok.status).toBe(200);
    await expect(get(agent.url, { ca: ca.certPem })).rejects.toThrow();
    await expect(get(agent.url, { ca: ca.certPem, ...(await pair(stranger)) })).rejects.toThrow();
  });

  it('refuses to start with a key that does not match the certificate', async () => {
    const a = await ca.issue('pair-a');
    const b = await ca.issue('pair-b');
    await expect(
      startAgent(
        {
          host: '127.0.0.1',
          port: 0,
          tokensFile,
          journalDir,
          tls: { certFile: a.certFile, keyFile: b.keyFile, clientCaFile: null },
        },
        log,
      ),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
