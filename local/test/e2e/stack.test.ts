import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/stack';
import type { CollectAnswer } from '../../src/stack/collect-run';
import { DATABASE_NAME } from '../../src/stack/database';
import { DEMO_HOSTS, generateJournal } from '../../src/stack/journals';
import { journalRows, storedRows } from './journal-truth';

/**
 * The whole pipeline on the local stack: real agents serving journal files → collect over HTTP
 * through the gateway → fetch-host → ingest → the primary → the replica.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    stateDir: await mkdtemp(join(tmpdir(), 'infralogs-e2e-')),
    gatewayPort: 0,
    // The machine's own journal grows while we compare; generated journals hold still.
    useMachineJournal: false,
    collectOnStart: false,
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
}, 120_000);

const perHost = (answer: CollectAnswer) => Object.fromEntries(answer.hosts.map((h) => [h.host, h]));

/** Rows on one server equal the journal's entries, host by host: same identities, same fields. */
async function expectStoredEqualsJournals(which: 'primary' | 'replica') {
  for (const host of stack.hosts) {
    const expected = await journalRows(host.journalDir!);
    const stored = await storedRows(stack.topology, which, DATABASE_NAME, host.name);
    expect(stored.length, `${host.name} on the ${which}`).toBe(expected.length);
    expect(stored, `${host.name} on the ${which}`).toEqual(expected);
  }
}

describe('the local stack end to end', () => {
  it('collects every journal exactly, replicates it, never twice, and picks up new entries', async () => {
    expect(stack.hosts.map((h) => h.name)).toEqual(DEMO_HOSTS.map((h) => h.host));

    const first = await stack.collect();
    expect(first.status).toBe('succeeded');
    for (const demo of DEMO_HOSTS) {
      expect(perHost(first)[demo.host]).toMatchObject({
        fetched: demo.entries,
        inserted: demo.entries,
        duplicates: 0,
        error: null,
      });
    }
    await expectStoredEqualsJournals('primary');

    await stack.topology.waitForReplica();
    await expectStoredEqualsJournals('replica');

    const second = await stack.collect();
    expect(second.status).toBe('succeeded');
    for (const h of second.hosts) expect(h).toMatchObject({ fetched: 0, inserted: 0, error: null });

    // The journal grows: journal-remote appends to the file the agent is serving.
    const web = stack.hosts.find((h) => h.name === 'web-1')!;
    const before = await journalRows(web.journalDir!);
    await generateJournal(web.journalDir!, {
      host: 'web-1',
      datasets: ['Linux_2k'],
      count: 250,
      endMs: Date.now() + 3_600_000,
      spanMs: 3_000_000,
    });
    const after = await journalRows(web.journalDir!);
    expect(after.length).toBe(before.length + 250);

    const third = await stack.collect();
    expect(perHost(third)['web-1']).toMatchObject({
      fetched: 250,
      inserted: 250,
      duplicates: 0,
      error: null,
    });
    expect(perHost(third)['db-1']).toMatchObject({ fetched: 0, inserted: 0 });
    expect(perHost(third)['edge-1']).toMatchObject({ fetched: 0, inserted: 0 });
    await expectStoredEqualsJournals('primary');
    await stack.topology.waitForReplica();
    await expectStoredEqualsJournals('replica');
  }, 300_000);
});
