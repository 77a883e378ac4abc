import { createHash } from 'node:crypto';
import { entryFromFields, type Entry, type JournalFields } from '../src/entry';
import type { IngestBatch } from '../src/store/batch';
// The module itself, not the devkit index: the ingest worker bundle must not pull in esbuild.
import { datasetLines, seededRandom, syslogEntries, type ExportEntry } from '../../devkit/src/journals';

/**
 * Deterministic, realistic journal entries for the benchmark: syslog lines from the shared
 * datasets (or built-in ones) as journald would store them (devkit's syslogEntries), several hosts
 * with their own boot and seqnum ids, mostly short messages with some long ones, 1 % with invalid
 * UTF-8, mapped to entries by the entry model itself (entryFromFields). The same seed gives the
 * same entries in every process, so each method loads identical rows.
 */
const DATASETS = ['OpenSSH_2k', 'Linux_2k'] as const;

/** An export entry as the readers hand it over: every value as bytes. */
function journalFields(entry: ExportEntry): JournalFields {
  const fields: JournalFields = new Map();
  for (const [name, value] of Object.entries(entry)) {
    const values = Array.isArray(value) ? value : [value];
    fields.set(
      name,
      values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v)),
    );
  }
  return fields;
}

const hex = (s: string) => createHash('md5').update(s).digest('hex');

export const benchHosts = (n: number) =>
  Array.from({ length: n }, (_, i) => `bench-${String(i + 1).padStart(2, '0')}`);

/**
 * Yields `total` entries as batches of `batchSize`, cycling through `hosts` hosts (each batch is
 * one host's next entries in journal order), starting at `startUs`.
 */
export function* benchBatches(options: {
  total: number;
  batchSize: number;
  hosts: number;
  startUs: number;
  seed?: number;
  datasetsDir: string | null;
}): Generator<IngestBatch> {
  const lines = DATASETS.flatMap((name) => datasetLines(name, options.datasetsDir));
  const rnd = seededRandom(options.seed ?? 42);
  const names = benchHosts(options.hosts);
  const state = names.map((name) => ({
    name,
    bootId: hex(`boot-${name}`),
    seqnumId: hex(`seqnum-${name}`),
    seqnum: 1000,
    us: options.startUs,
  }));
  let made = 0;
  let turn = 0;
  while (made < options.total) {
    const h = state[turn++ % state.length]!;
    const n = Math.min(options.batchSize, options.total - made);
    const picked = Array.from({ length: n }, () => lines[Math.floor(rnd() * lines.length)]!);
    const journal = syslogEntries(picked, {
      hostname: h.name,
      seed: h.name,
      bootIds: [h.bootId],
      seqnumId: h.seqnumId,
      startSeqnum: h.seqnum + 1,
      realtimeUs: () => (h.us += 1 + Math.floor(rnd() * 20_000)),
    });
    const entries: Entry[] = [];
    for (const x of journal) {
      const message = String(x.MESSAGE);
      const r = rnd();
      if (r < 0.005) x.MESSAGE = `${message} ${'x'.repeat(4096 + Math.floor(rnd() * 12_000))}`;
      else if (r < 0.015) x.MESSAGE = Buffer.concat([Buffer.from(message), Buffer.from([0xff, 0xfe, 0x0d])]);
      entries.push(entryFromFields(journalFields(x)));
    }
    h.seqnum += n;
    made += n;
    yield { host: h.name, entries };
  }
}
