import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/stack';
import type { CollectAnswer } from '../../src/stack/collect-run';
import { DATABASE_NAME } from '../../src/stack/database';
import { EDGE_BOOT_IDS, MIB_LINES, MIB_TEXT } from '@infralogs/devkit';
import {
  DEMO_HOSTS,
  EDGE_CASES_HOST,
  edgeCaseJournalEntries,
  generateJournal,
} from '../../src/stack/journals';
import { journalRows, storedRows } from './journal-truth';

/**
 * The whole pipeline on the local stack: real agents serving journal files → collect over HTTP
 * through the gateway → fetch-host → ingest → the primary → the replica. edge-1's journal also
 * holds the hard cases (binary and invalid UTF-8 messages, 1 MiB messages, …): they must arrive
 * exactly, MESSAGE byte for byte.
 */
const EDGE_CASES = edgeCaseJournalEntries();
const expectedEntries = (host: string) =>
  DEMO_HOSTS.find((d) => d.host === host)!.entries + (host === EDGE_CASES_HOST ? EDGE_CASES.length : 0);
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    stateDir: await mkdtemp(join(tmpdir(), 'infralogs-e2e-')),
    gatewayPort: 0,
    // The machine's own journal grows while we compare; generated journals hold still.
    useMachineJournal: false,
    edgeCases: true,
    collectOnStart: false,
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  // The stack keeps its data on stop (npm start resumes from it); this test's is thrown away.
  if (stack) await rm(stack.stateDir, { recursive: true, force: true });
}, 120_000);

const perHost = (answer: CollectAnswer) => Object.fromEntries(answer.hosts.map((h) => [h.host, h]));

/** Rows on one server equal the journal's entries, host by host: same identities, same fields. */
async function expectStoredEqualsJournals(which: 'primary' | 'replica') {
  for (const host of stack.hosts) {
    const expected = await journalRows(host.journalDir!);
    const stored = await storedRows(stack.topology, which, DATABASE_NAME, host.name);
    expect(stored.length, `${host.name} on the ${which}`).toBe(expected.length);
    expect(stored, `${host.name} on the ${which}`).toEqual(expected);
    // toEqual compares Buffers by content; say it outright for MESSAGE, byte for byte.
    for (const [i, row] of stored.entries()) {
      const want = expected[i]!.messageBytes;
      expect(row.messageBytes === null ? want === null : want !== null && row.messageBytes.equals(want)).toBe(
        true,
      );
    }
  }
}

/** The edge cases are really in edge-1's journal, and really hard: binary, invalid, 1 MiB. */
async function expectEdgeCasesInJournal(dir: string) {
  const rows = (await journalRows(dir)).filter((r) => EDGE_BOOT_IDS.some((b) => r.identity.startsWith(b)));
  expect(rows).toHaveLength(EDGE_CASES.length);
  const withMessage = (bytes: Buffer) => rows.filter((r) => r.messageBytes?.equals(bytes));
  for (const entry of EDGE_CASES) {
    const message = entry.MESSAGE as string | Buffer;
    expect(withMessage(Buffer.isBuffer(message) ? message : Buffer.from(message)).length).toBeGreaterThan(0);
  }
  expect(withMessage(Buffer.from(MIB_TEXT))).toHaveLength(1);
  expect(withMessage(Buffer.from(MIB_LINES))).toHaveLength(1);
  // Invalid UTF-8 (the 4-byte case and 1 MiB) travels as raw bytes next to its lossy text.
  expect(rows.filter((r) => r.messageRaw !== null).map((r) => r.messageBytes!.length)).toEqual([
    4,
    1024 * 1024,
  ]);
  expect(rows.filter((r) => r.priority === null && r.pid === null)).toHaveLength(1);
}

describe('the local stack end to end', () => {
  it('collects every journal exactly, replicates it, never twice, and picks up new entries', async () => {
    expect(stack.hosts.map((h) => h.name)).toEqual(DEMO_HOSTS.map((h) => h.host));
    await expectEdgeCasesInJournal(stack.hosts.find((h) => h.name === EDGE_CASES_HOST)!.journalDir!);

    const first = await stack.collect();
    expect(first.status).toBe('succeeded');
    for (const demo of DEMO_HOSTS) {
      expect(perHost(first)[demo.host]).toMatchObject({
        fetched: expectedEntries(demo.host),
        inserted: expectedEntries(demo.host),
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
  }, 600_000);
});
