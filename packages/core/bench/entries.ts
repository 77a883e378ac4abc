import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Entry } from '../src/entry';
import type { IngestBatch } from '../src/store/batch';

/**
 * Deterministic, realistic journal entries for the benchmark: syslog lines from the shared
 * datasets (or built-in ones), several hosts with their own boot and seqnum ids, mostly short
 * messages with some long ones, 1 % with invalid UTF-8, priorities skewed towards info.
 * The same seed gives the same entries in every process, so each method loads identical rows.
 */
const here = dirname(fileURLToPath(import.meta.url));
const FALLBACK = [
  'Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4',
  'Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186',
  'Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)',
  'Jun 15 12:12:34 combo kernel: Linux version 2.6.5-1.358 (bhcompile@bugs.build.redhat.com)',
];

/** Where the shared syslog samples live: INFRALOGS_DATASETS, else ../shared/datasets next to the repo. */
export const defaultDatasetsDir = () =>
  process.env.INFRALOGS_DATASETS ?? resolve(here, '../../../../shared/datasets');

function datasetLines(dir: string): string[] {
  try {
    const lines = readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    return lines.length > 0 ? lines : FALLBACK;
  } catch {
    return FALLBACK;
  }
}

interface Template {
  identifier: string;
  pid: number | null;
  message: string;
}

/** "Mon DD HH:MM:SS host ident[pid]: text" → identifier, pid, text. */
function parseSyslog(line: string): Template {
  const m = /^\w{3}\s+\d+\s+[\d:]+\s+\S+\s+([^:[(\s]+)(?:\(([^)]*)\))?(?:\[(\d+)\])?:\s?(.*)$/.exec(line);
  if (!m) return { identifier: 'kernel', pid: null, message: line };
  return { identifier: m[1]!, pid: m[3] ? Number(m[3]) : null, message: m[4]! };
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
  datasetsDir?: string;
}): Generator<IngestBatch> {
  const templates = datasetLines(options.datasetsDir ?? defaultDatasetsDir()).map(parseSyslog);
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
      const t = templates[Math.floor(rnd() * templates.length)]!;
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
