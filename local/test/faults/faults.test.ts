import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAULTS, runFaultMatrix, type FaultName, type FaultResult } from '../../src/faults/matrix';

/**
 * The fault matrix, small: 3 hosts, every fault of FAULTS once on one shared local stack (see
 * src/faults/matrix.ts for what each fault does and expects). OpenBao is stopped for 5 s instead of
 * the full matrix's 30 s: the functions behave the same either way (their database credentials
 * outlive the outage; only reads of agent tokens fail while it lasts). The full matrix is
 * `npm run faults` (docs/guarantees.md). FAULTS_ONLY=a,b runs some faults only.
 */
const only = process.env.FAULTS_ONLY?.split(',').filter(Boolean) as FaultName[] | undefined;
let work: string | undefined;
let results: FaultResult[] = [];

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the fault matrix (small)', () => {
  it('loses nothing, stores nothing twice, and records what happened, fault by fault', async () => {
    work = await mkdtemp(join(tmpdir(), 'infralogs-faults-'));
    const lines: string[] = [];
    results = await runFaultMatrix({
      hosts: 3,
      entries: 5500,
      faults: only ?? FAULTS,
      vaultOutageMs: 5000,
      batchEntries: 25,
      stateDir: join(work, 'stack'),
      progress: (line) => {
        lines.push(line);
        if (process.env.FAULTS_VERBOSE) console.error(line);
      },
    });
    const report = lines.join('\n');
    for (const r of results) {
      expect(r.problems, `${r.fault}\n${report}`).toEqual([]);
      expect(r.lost, r.fault).toBe(0);
      expect(r.duplicated, r.fault).toBe(0);
      expect(r.primary, r.fault).toBe(r.journal);
      expect(r.replica, r.fault).toBe(r.journal);
    }
    expect(results.map((r) => r.fault)).toEqual(['baseline', ...(only ?? FAULTS)]);
  }, 900_000);
});
