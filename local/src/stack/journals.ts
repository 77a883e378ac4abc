import { hostname as machineHostname } from 'node:os';
import { join } from 'node:path';
import {
  datasetLines,
  edgeCaseEntries,
  makeJournalDir,
  run,
  syslogToExport,
  writeExport,
  type Dataset,
  type ExportEntry,
} from '@infralogs/devkit';

/** One host's journal as an agent serves it. `dir` null = the machine's own journal. */
export interface JournalSource {
  host: string;
  dir: string | null;
  generated: boolean;
}

/** The three demo hosts and what their generated journals hold. */
export const DEMO_HOSTS: { host: string; datasets: Dataset[]; entries: number }[] = [
  { host: 'web-1', datasets: ['OpenSSH_2k'], entries: 3000 },
  { host: 'db-1', datasets: ['Linux_2k'], entries: 2000 },
  { host: 'edge-1', datasets: ['OpenSSH_2k', 'Linux_2k'], entries: 4000 },
];

/** The demo host whose journal gets the edge-case entries when they are asked for. */
export const EDGE_CASES_HOST = 'edge-1';

/**
 * The hard cases for the whole pipeline: devkit's edgeCaseEntries (binary MESSAGE, invalid UTF-8,
 * \n and \r, 1 MiB messages, values of 4 KiB and more, a repeated field, no PRIORITY or _PID…)
 * plus 1 MiB of invalid UTF-8, which the agent sends as base64 and lossy text (~4.5 MB of JSON).
 */
export function edgeCaseJournalEntries(hostname = EDGE_CASES_HOST): ExportEntry[] {
  const cases = edgeCaseEntries(hostname);
  const last = cases.at(-1)!;
  const invalid = Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => 0x80 + (i % 128)));
  return [
    ...cases,
    {
      ...last,
      __REALTIME_TIMESTAMP: String(Number(last.__REALTIME_TIMESTAMP) + 1_000_000),
      __MONOTONIC_TIMESTAMP: String(Number(last.__MONOTONIC_TIMESTAMP) + 1_000_000),
      MSG_ID: 'mib-invalid-utf8',
      MESSAGE: invalid,
      PRIORITY: '5',
      _PID: '113',
    },
  ];
}

/** True when this machine has a journal we may read with entries in it. */
export async function machineJournalReadable(): Promise<boolean> {
  try {
    const { stdout } = await run('journalctl', ['-n', '1', '-o', 'export', '--all', '-q']);
    return stdout.startsWith('__CURSOR=');
  } catch {
    return false;
  }
}

/**
 * Writes a host's journal from the loghub datasets (or devkit's built-in sample lines when the
 * datasets are not beside the clone): `count` entries cycling the lines, spread evenly over the
 * `spanMs` before `endMs` so the dashboard shows recent days, cut into three boots.
 */
export async function generateJournal(
  dir: string,
  options: {
    host: string;
    datasets: Dataset[];
    count: number;
    endMs: number;
    spanMs: number;
    startSeqnum?: number;
  },
): Promise<string> {
  const lines = options.datasets.flatMap((d) => datasetLines(d));
  const all = Array.from({ length: options.count }, (_, i) => lines[i % lines.length]!);
  const stepUs = Math.max(1, Math.floor((options.spanMs * 1000) / options.count));
  const startUs = (options.endMs - options.spanMs) * 1000;
  const data = syslogToExport(all, {
    hostname: options.host,
    boots: 3,
    seed: options.host,
    startSeqnum: options.startSeqnum ?? 1,
    realtimeUs: (i) => startUs + i * stepUs,
  });
  return makeJournalDir(data, dir, { file: 'system.journal' });
}

/**
 * The journals the stack's agents serve: the first agent serves the machine's own journal when it
 * is readable and not empty (named after this machine); the others, or all three, serve journals
 * generated under `<stateDir>/journals/<host>/`. With `edgeCases`, EDGE_CASES_HOST's directory
 * also holds edgeCaseJournalEntries, in a journal file of their own.
 */
export async function prepareJournals(
  stateDir: string,
  options: { useMachineJournal: boolean; edgeCases?: boolean; now?: number },
): Promise<JournalSource[]> {
  const now = options.now ?? Date.now();
  const machine = options.useMachineJournal && (await machineJournalReadable());
  const sources: JournalSource[] = [];
  for (const [i, demo] of DEMO_HOSTS.entries()) {
    if (i === 0 && machine) {
      sources.push({ host: machineHostname(), dir: null, generated: false });
      continue;
    }
    const dir = join(stateDir, 'journals', demo.host);
    await generateJournal(dir, {
      host: demo.host,
      datasets: demo.datasets,
      count: demo.entries,
      endMs: now,
      spanMs: 3 * 24 * 3600_000,
    });
    if (options.edgeCases && demo.host === EDGE_CASES_HOST) {
      await makeJournalDir(writeExport(edgeCaseJournalEntries(demo.host)), dir, {
        file: 'edge-cases.journal',
      });
    }
    sources.push({ host: demo.host, dir, generated: true });
  }
  return sources;
}
