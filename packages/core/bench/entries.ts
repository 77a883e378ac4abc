import { createHash } from 'node:crypto';
import type { Entry } from '../src/entry';
import type { IngestBatch } from '../src/store/batch';
// The module itself, not the devkit index: the ingest worker bundle must not pull in esbuild.
import { datasetLines, parseSyslogLine } from '../../devkit/src/journals';

/**
 * Deterministic, realistic journal entries for the benchmark: syslog lines from the shared
 * datasets (or built-in ones), several hosts with their own boot and seqnum ids, mostly short
 * messages with some long ones, 1 % with invalid UTF-8, priorities skewed towards info.
 * The same seed gives the same entries in every process, so each method loads identical rows.
 */
interface Template {
  identifier: string;
  pid: number | null;
  message: string;
}

/** Both loghub datasets (devkit's reader: built-in sample lines when they are absent). */
function templates(dir: string | null): Template[] {
  return (['OpenSSH_2k', 'Linux_2k'] as const)
    .flatMap((name) => datasetLines(name, dir))
    .map((line) => {
      const l = parseSyslogLine(line, 2024);
      return { identifier: l.identifier ?? 'kernel', pid: l.pid, message: l.message };
    });
}

/** A small deterministic PRNG (mulberry32), so runs are comparable. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (s: string) => createHash('md5').update(s).digest('hex');
const UNITS = [
  'ssh.service',
  'cron.service',
  'nginx.service',
  'systemd-journald.service',
  'docker.service',
  null,
];
const PRIORITIES = [6, 6, 6, 6, 6, 5, 4, 3, 7, 2, null];

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
  const lines = templates(options.datasetsDir);
  const rnd = random(options.seed ?? 42);
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
    const entries: Entry[] = new Array(n);
    for (let i = 0; i < n; i++) {
      h.seqnum++;
      h.us += 1 + Math.floor(rnd() * 20_000);
      const t = lines[Math.floor(rnd() * lines.length)]!;
      let message = t.message;
      let messageRaw: string | null = null;
      const r = rnd();
      if (r < 0.005) message = `${message} ${'x'.repeat(4096 + Math.floor(rnd() * 12_000))}`;
      else if (r < 0.015) {
        const raw = Buffer.concat([Buffer.from(message), Buffer.from([0xff, 0xfe, 0x0d])]);
        message = raw.toString('utf8');
        messageRaw = raw.toString('base64');
      }
      entries[i] = {
        cursor: `s=${h.seqnumId};i=${h.seqnum.toString(16)};b=${h.bootId};m=${(h.us - options.startUs).toString(16)};t=${h.us.toString(16)};x=${(h.seqnum * 2654435761).toString(16)}`,
        bootId: h.bootId,
        seqnumId: h.seqnumId,
        seqnum: h.seqnum,
        realtimeUs: h.us,
        message,
        messageRaw,
        hostname: h.name,
        comm: t.identifier.slice(0, 15),
        pid: t.pid ?? 1 + Math.floor(rnd() * 30_000),
        priority: PRIORITIES[Math.floor(rnd() * PRIORITIES.length)]!,
        syslogIdentifier: t.identifier,
        unit: UNITS[Math.floor(rnd() * UNITS.length)]!,
      };
    }
    made += n;
    yield { host: h.name, entries };
  }
}
