import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCheckpoint, getRun, upsertHost } from '@infralogs/core';
import { portOpen, waitFor } from '@infralogs/devkit';
import { startLocalStack, type LocalStack } from '../../src/stack';
import { DATABASE_NAME } from '../../src/stack/database';
import { DEMO_HOSTS } from '../../src/stack/journals';
import { journalRows, storedRows } from './journal-truth';

/**
 * A deploy in the middle of a collection, on the real local stack (MariaDB primary + replica,
 * OpenBao, agents serving journal files, the gateway running every function as its own process).
 * One agent is reached through a proxy that stops passing bytes partway through the host's
 * journal, so the run is reliably in the middle of that host when collect, fetch-host and ingest
 * all get SIGTERM, as a rolling deploy sends it. The drain hands the run back; the restarted
 * functions (the gateway restarts them, as the kubelet starts new pods) take the next call, which
 * marks the old run aborted and resumes every host from its checkpoint: every journal entry is
 * stored exactly once.
 */
const CUT_HOST = 'web-1';
/** After this many bytes of the agent's answer the proxy holds the rest back. */
const STALL_AFTER_BYTES = 200_000;
// In the image the watchdog accepts calls for 5 s after SIGTERM; 2 s is plenty on loopback.
const DRAINING = { healthcheck_interval: '2s' };

/**
 * A proxy to one agent that, until opened, passes only the first bytes of each answer. It stands in
 * for the network between fetch-host and the agent, so fetch-host reaches it over plain HTTP (the
 * host is marked insecure; TLS to agents is tested in fleet.test.ts) and it reaches the agent over
 * HTTPS, verifying its certificate against the stack's PKI CA.
 */
async function stallingProxy(target: string, ca: string) {
  const state = { open: false, stalled: false };
  const server: Server = createServer((req, res) => {
    // Uncompressed, so the byte count is the journal's.
    const { 'accept-encoding': _encoding, ...headers } = req.headers;
    const upstream = request(new URL(req.url ?? '/', target), { method: req.method, headers, ca });
    upstream.on('response', (answer) => {
      const { 'content-length': _length, ...answerHeaders } = answer.headers;
      res.writeHead(answer.statusCode ?? 502, answerHeaders);
      let passed = 0;
      answer.on('data', (chunk: Buffer) => {
        if (state.open) return void res.write(chunk);
        const room = STALL_AFTER_BYTES - passed;
        if (room > 0) res.write(chunk.subarray(0, room));
        passed += chunk.length;
        if (passed >= STALL_AFTER_BYTES) {
          state.stalled = true;
          answer.pause();
        }
      });
      answer.on('end', () => res.end());
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let stack: LocalStack;
let proxy: Awaited<ReturnType<typeof stallingProxy>>;

beforeAll(async () => {
  stack = await startLocalStack({
    stateDir: await mkdtemp(join(tmpdir(), 'infralogs-drain-')),
    gatewayPort: 0,
    useMachineJournal: false,
    collectOnStart: false,
    functionEnv: {
      // One host at a time, in name order: db-1, edge-1, then web-1 behind the proxy.
      collect: { ...DRAINING, COLLECT_CONCURRENCY: '1' },
      // Small batches, so the cut host has committed several before the proxy holds back.
      'fetch-host': { ...DRAINING, BATCH_MAX_BYTES: '16384' },
      ingest: DRAINING,
    },
  });
  const agent = stack.hosts.find((h) => h.name === CUT_HOST)!;
  proxy = await stallingProxy(agent.agentUrl, stack.agentCa);
  await upsertHost(stack.pool, { name: CUT_HOST, agentUrl: proxy.url, enabled: true, insecure: true });
}, 240_000);

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
  if (stack) await rm(stack.stateDir, { recursive: true, force: true });
}, 120_000);

const DEPLOYED = ['collect', 'fetch-host', 'ingest'];
const pids = () => Object.fromEntries(stack.functions().map((f) => [f.name, f.pid]));
const entriesOf = (host: string) => DEMO_HOSTS.find((d) => d.host === host)!.entries;

describe('a deploy during a collection', () => {
  it('drains on SIGTERM, hands the run back, and the next run marks it aborted and resumes from the checkpoints', async () => {
    const first = stack.collect().then(
      () => new Error('the cut run answered as if complete'),
      (err: Error) => err,
    );
    await waitFor(
      `${CUT_HOST} to commit batches, then stall`,
      async () => proxy.state.stalled && (await getCheckpoint(stack.pool, CUT_HOST)) !== null,
      120_000,
      50,
    );
    const before = pids();
    for (const name of DEPLOYED) process.kill(before[name]!, 'SIGTERM');

    // collect answers its caller: the run was handed back, not failed.
    const answer = (await first).message;
    expect(answer).toMatch(/SHUTTING_DOWN.*run \d+ was handed back/);
    const cutRunId = Number(/run (\d+) was handed back/.exec(answer)![1]);
    const cut = await getRun(stack.pool, cutRunId);
    expect(cut?.status).toBe('running');
    const cutHosts = Object.fromEntries(cut!.hosts.map((h) => [h.host, h]));
    expect(cutHosts['db-1']?.status).toBe('succeeded');
    expect(cutHosts['edge-1']?.status).toBe('succeeded');
    const storedBefore = (await storedRows(stack.topology, 'primary', DATABASE_NAME, CUT_HOST)).length;
    expect(storedBefore).toBeGreaterThan(0);
    expect(storedBefore).toBeLessThan(entriesOf(CUT_HOST));

    // The "new pods": every drained function is restarted by the gateway.
    await waitFor(
      'the functions to be restarted',
      async () => {
        const restarted = stack.functions().filter((f) => DEPLOYED.includes(f.name));
        if (!restarted.every((f) => f.running && f.pid !== before[f.name])) return false;
        return (await Promise.all(restarted.map((f) => portOpen(f.port)))).every(Boolean);
      },
      60_000,
      100,
    );
    proxy.state.open = true;
    const next = await stack.collect();
    expect(next.runId).not.toBe(cutRunId);
    expect(next.status).toBe('succeeded');
    expect((await getRun(stack.pool, cutRunId))?.status).toBe('aborted');
    const hosts = Object.fromEntries(next.hosts.map((h) => [h.host, h]));
    // Resumed from the checkpoints: the hosts already done bring nothing, the cut one its rest.
    expect(hosts['db-1']).toMatchObject({ inserted: 0, duplicates: 0 });
    expect(hosts['edge-1']).toMatchObject({ inserted: 0, duplicates: 0 });
    expect(hosts[CUT_HOST]).toMatchObject({
      inserted: entriesOf(CUT_HOST) - storedBefore,
      duplicates: 0,
      error: null,
    });
    for (const host of stack.hosts) {
      const expected = await journalRows(host.journalDir!);
      expect(await storedRows(stack.topology, 'primary', DATABASE_NAME, host.name), host.name).toEqual(
        expected,
      );
    }
  }, 300_000);
});
