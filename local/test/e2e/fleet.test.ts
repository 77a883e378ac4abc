import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@infralogs/core';
import { createTestCa, freePort, makeJournalDir, syslogToExport, datasetLines } from '@infralogs/devkit';
import { runHostsCli } from '@infralogs/vault';
import { startAgent, type RunningAgent } from '../../../agent/src/index';
import { startLocalStack, type LocalStack } from '../../src/stack';
import { DATABASE_NAME } from '../../src/stack/database';
import { DEMO_HOSTS, generateJournal } from '../../src/stack/journals';

/** `n` lines, cycling (the built-in sample is short when the datasets are not beside the clone). */
const cycled = (lines: string[], n: number) => Array.from({ length: n }, (_, i) => lines[i % lines.length]!);

/** Entries journalctl reads with these arguments (-D DIR or --file FILE). */
const journalCount = (args: string[]) =>
  execFileSync('journalctl', [...args, '--all', '-o', 'export'], { maxBuffer: 1 << 28 })
    .toString('latin1')
    .split('\n')
    .filter((l) => l.startsWith('__CURSOR=')).length;

/**
 * A fleet on the local stack, as an operator runs it: every agent over TLS with a certificate from
 * OpenBao PKI; a VM's agent added with `hosts add --issue-cert` is collected; one whose certificate
 * is from another CA fails alone with a coded error; and after stopping and starting the stack
 * again (startLocalStack is what `npm start` runs) every row is still there and the next
 * collection inserts only the entries written since.
 */
let work: string;
let stack: LocalStack | undefined;
const agents: RunningAgent[] = [];
let vmUrl = '';

const options = () => ({
  stateDir: join(work, 'stack'),
  gatewayPort: 0,
  useMachineJournal: false,
  collectOnStart: true,
});

async function rowsPerHost(s: LocalStack): Promise<Record<string, number>> {
  const c = await s.topology.connect('primary', DATABASE_NAME);
  try {
    const [rows] = await c.query(
      'SELECT h.name, COUNT(l.host_id) AS n FROM hosts h LEFT JOIN logs l ON l.host_id = h.id GROUP BY h.name',
    );
    return Object.fromEntries((rows as { name: string; n: number }[]).map((r) => [r.name, Number(r.n)]));
  } finally {
    await c.end();
  }
}

/** `npm run hosts -- …` against the stack, with the environment it writes for operators. */
async function hosts(s: LocalStack, ...argv: string[]) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const line of (await readFile(s.hostsEnvFile, 'utf8')).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const out: string[] = [];
  const code = await runHostsCli(argv, env, { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, out: out.join('\n') };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'infralogs-fleet-'));
  stack = await startLocalStack(options());
}, 240_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await stack?.stop();
  await rm(work, { recursive: true, force: true });
}, 120_000);

describe('a fleet on the local stack', () => {
  it('collects every demo agent over TLS with a certificate from OpenBao PKI', () => {
    expect(stack!.firstRun?.status).toBe('succeeded');
    for (const h of stack!.hosts) expect(h.agentUrl).toMatch(/^https:\/\/127\.0\.0\.\d:\d+$/);
    const inserted = Object.fromEntries(stack!.firstRun!.hosts.map((h) => [h.host, h.inserted]));
    expect(inserted).toEqual(Object.fromEntries(DEMO_HOSTS.map((d) => [d.host, d.entries])));
  });

  it('collects a host added with `hosts add --issue-cert`, and fails a host with a wrong CA alone', async () => {
    const s = stack!;
    const log = createLogger({ component: 'fleet-test' }, { level: 'error' });
    const vmJournal = await generateJournal(join(work, 'vm-1', 'journal'), {
      host: 'vm-1',
      datasets: ['OpenSSH_2k'],
      count: 50,
      endMs: Date.now(),
      spanMs: 3600_000,
    });
    expect(journalCount(['-D', vmJournal])).toBe(50);
    // vm-1: the operator's path, certificate and token written by `hosts add`.
    const vmPort = await freePort('127.0.0.5');
    vmUrl = `https://127.0.0.5:${vmPort}`;
    const vm = {
      tokens: join(work, 'vm-1', 'tokens'),
      cert: join(work, 'vm-1', 'tls.crt'),
      key: join(work, 'vm-1', 'tls.key'),
    };
    const added = await hosts(
      s, 'add', 'vm-1', vmUrl, '--tokens-file', vm.tokens,
      '--issue-cert', '--cert-file', vm.cert, '--key-file', vm.key,
    ); // prettier-ignore
    expect(added.code, added.out).toBe(0);
    agents.push(
      await startAgent(
        {
          host: '127.0.0.5',
          port: vmPort,
          tokensFile: vm.tokens,
          journalDir: vmJournal,
          tls: { certFile: vm.cert, keyFile: vm.key, clientCaFile: null },
        },
        log,
      ),
    );
    // rogue-1: a valid certificate, but from a CA fetch-host does not trust.
    const rogueCa = await createTestCa(join(work, 'rogue-ca'), 'Rogue CA');
    const rogueCert = await rogueCa.issue('rogue-1', { altNames: ['IP:127.0.0.6'] });
    const roguePort = await freePort('127.0.0.6');
    const rogueTokens = join(work, 'rogue-1', 'tokens');
    expect(
      (await hosts(s, 'add', 'rogue-1', `https://127.0.0.6:${roguePort}`, '--tokens-file', rogueTokens)).code,
    ).toBe(0);
    agents.push(
      await startAgent(
        {
          host: '127.0.0.6',
          port: roguePort,
          tokensFile: rogueTokens,
          journalDir: vmJournal,
          tls: { certFile: rogueCert.certFile, keyFile: rogueCert.keyFile, clientCaFile: null },
        },
        log,
      ),
    );

    const run = await s.collect();
    const byHost = Object.fromEntries(run.hosts.map((h) => [h.host, h]));
    expect(run.status).toBe('partial');
    expect(byHost['vm-1']).toMatchObject({ inserted: 50, error: null });
    expect(byHost['rogue-1']!.error?.code).toBe('AGENT_TLS_UNTRUSTED');
    for (const d of DEMO_HOSTS) expect(byHost[d.host]).toMatchObject({ inserted: 0, error: null });

    const list = await hosts(s, 'list');
    expect(list.out).toMatch(
      /rogue-1 .* failed \(run \d+\) +AGENT_TLS_UNTRUSTED: the agent's certificate at 127\.0\.0\.6:\d+ is not signed/,
    );
    expect((await hosts(s, 'disable', 'rogue-1')).code).toBe(0);
  }, 180_000);

  it('keeps every row across a restart; the next collection inserts only new entries', async () => {
    const before = await rowsPerHost(stack!);
    expect(before['vm-1']).toBe(50);
    await stack!.stop();
    stack = undefined;

    // While the stack is down, web-1's VM writes 40 more entries.
    const web = DEMO_HOSTS[0]!;
    const webDir = join(work, 'stack', 'journals', web.host);
    const startUs = Date.now() * 1000;
    await makeJournalDir(
      syslogToExport(cycled(datasetLines('OpenSSH_2k'), 40), {
        hostname: web.host,
        seed: web.host,
        boots: 1,
        startSeqnum: web.entries + 1,
        realtimeUs: (i) => startUs + i * 1000,
      }),
      webDir,
      { file: 'later.journal' },
    );
    const added = journalCount(['--file', join(webDir, 'later.journal')]);
    expect(added).toBeGreaterThan(0);

    // This time vm-1 also comes from an inventory (INFRALOGS_INVENTORY), as npm start reads it.
    const inventory = join(work, 'hosts.yml');
    await writeFile(inventory, `hosts:\n  - name: vm-1\n    url: ${vmUrl}\n`);
    stack = await startLocalStack({ ...options(), collectOnStart: false, inventory });
    expect(stack.resumed).toBe(true);
    expect(stack.hosts.find((h) => h.name === 'vm-1')).toMatchObject({ agentUrl: vmUrl, certFile: null });
    // Its token (already in KV) is written for its VM's agent.
    expect((await readFile(join(work, 'stack', 'inventory', 'vm-1', 'tokens'), 'utf8')).trim()).toBe(
      (await readFile(join(work, 'vm-1', 'tokens'), 'utf8')).trim(),
    );
    expect(await rowsPerHost(stack)).toEqual(before);
    const run = await stack.collect();
    const inserted = Object.fromEntries(run.hosts.map((h) => [h.host, h.inserted]));
    expect(inserted).toEqual({ 'web-1': added, 'db-1': 0, 'edge-1': 0, 'vm-1': 0 });
    expect(run.status).toBe('succeeded');
    expect(await rowsPerHost(stack)).toEqual({ ...before, 'web-1': before['web-1']! + added });
  }, 400_000);
});
