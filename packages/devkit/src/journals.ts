import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { datasetsDir, repoRoot, requiredDatasetPath } from './datasets';

/**
 * Real journal files for tests, the agent benchmark and the local stack. Entries are written in
 * journal export format and turned into `.journal` files by systemd's own
 * `systemd-journal-remote`, so every reader is exercised against what journald really stores.
 */

const JOURNAL_REMOTE = process.env.JOURNAL_REMOTE ?? '/usr/lib/systemd/systemd-journal-remote';

export type ExportValue = string | Buffer;
/** One entry: field name → value, or several values for a repeated field. Key order is kept. */
export type ExportEntry = Record<string, ExportValue | ExportValue[]>;

/**
 * journald's rule for the text form (`utf8_is_printable_newline(…, false)`): no C0 controls but
 * tab, no DEL or C1 controls, and no newline.
 */
function isPrintable(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || (c >= 0x7f && c <= 0x9f)) return false;
  }
  return true;
}

/**
 * Export-format bytes for hand-specified entries. A string value is written as `NAME=value` when
 * journald would print it so, else in the binary form; a Buffer value is always written in the
 * binary form (`NAME\n` + u64 LE length + bytes + `\n`), printable or not.
 */
export function writeExport(entries: Iterable<ExportEntry>): Buffer {
  const parts: Buffer[] = [];
  let text = '';
  for (const entry of entries) {
    for (const [name, values] of Object.entries(entry)) {
      for (const value of Array.isArray(values) ? values : [values]) {
        if (typeof value === 'string' && isPrintable(value)) {
          text += `${name}=${value}\n`;
          continue;
        }
        const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
        const length = Buffer.alloc(8);
        length.writeBigUInt64LE(BigInt(bytes.length));
        parts.push(Buffer.from(`${text}${name}\n`, 'utf8'), length, bytes);
        text = '\n';
      }
    }
    text += '\n';
  }
  parts.push(Buffer.from(text, 'utf8'));
  return Buffer.concat(parts);
}

/** Export bytes in memory, export files on disk, or a stream of export chunks. */
export type ExportInput = Buffer | string[] | Iterable<Buffer> | AsyncIterable<Buffer>;

/**
 * Writes entries into `<dir>/<file>` with `systemd-journal-remote` and returns `dir`, ready for
 * `journalctl -D dir`. journal-remote appends when the file exists, and it assigns its own
 * `__SEQNUM`/`__SEQNUM_ID` (the file's), so cursors differ from any `__CURSOR` in the input.
 * Without `dir` a new temporary directory is made; the caller removes it.
 */
export async function makeJournalDir(
  input: ExportInput,
  dir?: string,
  options: { file?: string } = {},
): Promise<string> {
  const target = dir ?? (await mkdtemp(join(tmpdir(), 'infralogs-journal-')));
  await mkdir(target, { recursive: true });
  const file = options.file ?? 'x.journal';
  if (!file.endsWith('.journal')) throw new Error(`journal file name must end in .journal: ${file}`);
  const files = Array.isArray(input) && input.every((f) => typeof f === 'string') ? input : null;
  const args = [`--output=${join(target, file)}`, '--split-mode=none', ...(files ?? ['-'])];
  const child = spawn(JOURNAL_REMOTE, args, { stdio: [files ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-4000)));
  const exited = new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', res);
  });
  if (!files) {
    const source = Buffer.isBuffer(input) ? [input] : (input as Iterable<Buffer> | AsyncIterable<Buffer>);
    await pipeline(Readable.from(source, { objectMode: false }), child.stdin!).catch(() => {
      // A write error means journal-remote died; its exit code and stderr below say why.
    });
  }
  const code = await exited.catch((err: Error) => {
    throw new Error(`could not run ${JOURNAL_REMOTE} (run npm run setup): ${err.message}`);
  });
  if (code !== 0) throw new Error(`systemd-journal-remote exited with ${code}: ${stderr.trim()}`);
  return target;
}

// ---------------------------------------------------------------------------------------------
// The hard cases every reader must survive

export const EDGE_BOOT_IDS = [
  '6a1f0c6d2e8b4b37a1d5c0f2e9b8a701',
  '6a1f0c6d2e8b4b37a1d5c0f2e9b8a702',
  '6a1f0c6d2e8b4b37a1d5c0f2e9b8a703',
] as const;

/** 1 MiB of printable text (one line: journalctl prints it in the text form). */
export const MIB_TEXT = 'The quick brown fox jumps over the lazy dog. '.repeat(23302).slice(0, 1024 * 1024);
/** 1 MiB with a newline every 80 bytes (journalctl prints it in the binary form). */
export const MIB_LINES = Array.from({ length: 13108 }, (_, i) => `line ${i}`.padEnd(79, '.'))
  .join('\n')
  .slice(0, 1024 * 1024);

/**
 * Entries with every case the readers must get right, over three boots: a binary MESSAGE,
 * invalid UTF-8, embedded newline and carriage return, an escape sequence, a C1 control, a
 * trailing newline, 1 MiB messages in both forms, values of 4 KiB and more, a repeated field,
 * missing PRIORITY and _PID, an empty value, non-ASCII text. `MSG_ID` names each entry.
 */
export function edgeCaseEntries(hostname = 'edge-host'): ExportEntry[] {
  const base = 1767225600000000;
  const cases: Record<string, ExportValue | ExportValue[]>[] = [
    {
      MSG_ID: 'plain',
      MESSAGE: 'hello world',
      PRIORITY: '6',
      _PID: '100',
      SYSLOG_IDENTIFIER: 'app',
      _COMM: 'app',
      _SYSTEMD_UNIT: 'app.service',
    },
    { MSG_ID: 'newline', MESSAGE: 'line one\nline two\n  indented three', PRIORITY: '3', _PID: '101' },
    { MSG_ID: 'carriage-return', MESSAGE: 'carriage\rreturn', PRIORITY: '4', _PID: '102' },
    { MSG_ID: 'invalid-utf8', MESSAGE: Buffer.from([0x66, 0xff, 0x6f, 0x0d]), PRIORITY: '2', _PID: '103' },
    { MSG_ID: 'escape', MESSAGE: 'esc \u001b[31mred\u001b[0m', PRIORITY: '5', _PID: '104' },
    { MSG_ID: 'c1-control', MESSAGE: 'next\u0085line', PRIORITY: '6' },
    { MSG_ID: 'trailing-newline', MESSAGE: 'ends with a newline\n', PRIORITY: '6', _PID: '105' },
    { MSG_ID: 'unicode', MESSAGE: 'grüße ✓ 日本語 🙂', PRIORITY: '6', _PID: '106' },
    { MSG_ID: 'missing-priority-pid', MESSAGE: 'no priority and no pid' },
    {
      MSG_ID: 'repeated',
      MESSAGE: 'a repeated field',
      TAG: ['first-value', 'second-value'],
      PRIORITY: '7',
      _PID: '107',
    },
    { MSG_ID: 'empty', MESSAGE: '', PRIORITY: '0', _PID: '108', EMPTY_FIELD: '' },
    {
      MSG_ID: 'value-4k',
      MESSAGE: 'x'.repeat(4096),
      PRIORITY: '6',
      _PID: '109',
      BIG_FIELD: 'y'.repeat(5000),
    },
    { MSG_ID: 'mib-text', MESSAGE: MIB_TEXT, PRIORITY: '6', _PID: '110' },
    { MSG_ID: 'mib-lines', MESSAGE: MIB_LINES, PRIORITY: '6', _PID: '111' },
    { MSG_ID: 'tab', MESSAGE: 'tab\tseparated', PRIORITY: '1', _PID: '112' },
  ];
  return cases.map((fields, i) => {
    const boot = EDGE_BOOT_IDS[Math.floor((i * EDGE_BOOT_IDS.length) / cases.length)]!;
    return {
      __REALTIME_TIMESTAMP: String(base + i * 1_000_000),
      __MONOTONIC_TIMESTAMP: String(5_000_000 + i * 1_000_000),
      _BOOT_ID: boot,
      _TRANSPORT: 'journal',
      ...fields,
      _HOSTNAME: hostname,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Realistic entries from syslog text (the loghub datasets)

/** A few lines of each dataset, used when ../shared/datasets is not there. */
export const SAMPLE_LINES = [
  'Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!',
  'Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186',
  'Dec 10 06:55:46 LabSZ sshd[24200]: input_userauth_request: invalid user webmaster [preauth]',
  'Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): check pass; user unknown',
  'Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186',
  'Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2',
  'Dec 10 06:55:48 LabSZ sshd[24200]: Connection closed by 173.234.31.186 [preauth]',
  'Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4',
  'Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)',
  'Jun 15 04:06:19 combo logrotate: ALERT exited abnormally with [1]',
  'Jun 15 12:12:34 combo kernel: Linux version 2.6.5-1.358 (bhcompile@bugs.build.redhat.com) (gcc version 3.3.3 20040412 (Red Hat Linux 3.3.3-7)) #1 Sat May 8 09:04:50 EDT 2004',
  'Jun 15 12:12:34 combo kernel: BIOS-e820: 0000000000000000 - 00000000000a0000 (usable)',
];

export type Dataset = 'OpenSSH_2k' | 'Linux_2k';

/** The lines of a loghub dataset, or built-in sample lines when the datasets are not present. */
export function datasetLines(name: Dataset, dir: string | null = datasetsDir()): string[] {
  const path = dir === null ? null : join(dir, `${name}.log`);
  if (path === null || !existsSync(path)) return SAMPLE_LINES;
  return linesOf(path);
}

/** The lines of a loghub dataset, for a test whose figures need the real one (requiredDatasetPath). */
export function requiredDatasetLines(name: Dataset): string[] {
  return linesOf(requiredDatasetPath(`${name}.log`));
}

const linesOf = (path: string) =>
  readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');

export interface SyslogLine {
  /** Seconds since the epoch (UTC) of the line's timestamp in the given year. */
  epochSeconds: number | null;
  host: string | null;
  identifier: string | null;
  pid: number | null;
  message: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SYSLOG_LINE = /^(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\S+) ([^\s[:]+)(?:\[(\d+)\])?: ?(.*)$/;

/** Splits a classic syslog line `Mon dd hh:mm:ss host name[pid]: text`; unknown shapes keep the text. */
export function parseSyslogLine(line: string, year: number): SyslogLine {
  const m = SYSLOG_LINE.exec(line);
  if (!m) return { epochSeconds: null, host: null, identifier: null, pid: null, message: line };
  const month = MONTHS.indexOf(m[1]!);
  const epochSeconds =
    month < 0 ? null : Date.UTC(year, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) / 1000;
  return {
    epochSeconds,
    host: m[6]!,
    identifier: m[7]!,
    pid: m[8] === undefined ? null : Number(m[8]),
    message: m[9]!.trimEnd(),
  };
}

/** A priority guessed from the text: failures and errors → err (3), suspicious → warning (4), else info (6). */
export function guessPriority(message: string): number {
  if (/failure|error/i.test(message)) return 3;
  if (/invalid|break-in/i.test(message)) return 4;
  return 6;
}

/** A small deterministic PRNG (mulberry32): benchmarks generate the same entries on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable 128-bit id (32 hex digits) derived from a seed, so regenerated journals are identical. */
export function hexId(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 32);
}

export interface SyslogOptions {
  /** `_HOSTNAME`; default: the host named in each line. */
  hostname?: string;
  /** The lines are cut into this many consecutive boots, each with its own `_BOOT_ID` (default 3). */
  boots?: number;
  /** The boot ids to use, one per boot (overrides `boots`); default: derived from the seed. */
  bootIds?: string[];
  /** `__SEQNUM_ID` and cursor `s=` of the export text (journal-remote assigns its own). */
  seqnumId?: string;
  /** First `__SEQNUM` (default 1). */
  startSeqnum?: number;
  /** Syslog lines carry no year (default 2024). */
  year?: number;
  /** Seeds the boot, machine and invocation ids (default: the hostname). */
  seed?: string;
  /**
   * Realtime of each line in µs; default: the line's own timestamp. Realtime never goes back:
   * each entry is at least 1 µs after the previous one, as `--since` bisection expects.
   */
  realtimeUs?: (index: number, parsed: SyslogLine) => number;
}

/**
 * Journal entries from syslog lines, shaped like journald's syslog and kernel transports:
 * - `SYSLOG_IDENTIFIER` and `_PID`/`SYSLOG_PID` from `name[pid]:`; `_COMM` is the identifier cut
 *   to 15 characters (the kernel's limit); `_SYSTEMD_UNIT` is `<name before "(">.service`.
 * - identifier `kernel`: `_TRANSPORT=kernel`, no `_PID`, `_COMM` or unit (as journald does).
 * - a line of unknown shape keeps its whole text as `MESSAGE` and has no identifier or `_PID`.
 * - `PRIORITY` is guessed from the text (see guessPriority); `SYSLOG_FACILITY` is 10 (authpriv)
 *   for ssh/su/pam lines, 3 (daemon) otherwise, 0 for the kernel.
 * - `__CURSOR`, `__SEQNUM*` and `__MONOTONIC_TIMESTAMP` are written as a current journalctl would.
 */
export function* syslogEntries(lines: Iterable<string>, options: SyslogOptions = {}): Generator<ExportEntry> {
  const list = Array.isArray(lines) ? (lines as string[]) : [...lines];
  const year = options.year ?? 2024;
  const seed = options.seed ?? options.hostname ?? 'infralogs';
  const boots = Math.max(1, options.bootIds?.length ?? options.boots ?? 3);
  const perBoot = Math.ceil(list.length / boots);
  const seqnumId = options.seqnumId ?? hexId(`${seed}/seqnum`);
  const machineId = hexId(`${seed}/machine`);
  let seqnum = options.startSeqnum ?? 1;
  let lastUs = 0;
  let bootId = '';
  let bootStartUs = 0;
  for (let i = 0; i < list.length; i++) {
    const parsed = parseSyslogLine(list[i]!, year);
    const fromLine = parsed.epochSeconds === null ? lastUs : parsed.epochSeconds * 1e6;
    const realtimeUs = Math.max(options.realtimeUs?.(i, parsed) ?? fromLine, lastUs + 1);
    lastUs = realtimeUs;
    if (i % perBoot === 0) {
      bootId = options.bootIds?.[i / perBoot] ?? hexId(`${seed}/boot/${i / perBoot}`);
      bootStartUs = realtimeUs - 4_000_000;
    }
    const hostname = options.hostname ?? parsed.host ?? 'localhost';
    yield syslogEntry(parsed, { seqnumId, seqnum, bootId, machineId, hostname, realtimeUs, bootStartUs });
    seqnum++;
  }
}

interface EntryContext {
  seqnumId: string;
  seqnum: number;
  bootId: string;
  machineId: string;
  hostname: string;
  realtimeUs: number;
  bootStartUs: number;
}

function syslogEntry(line: SyslogLine, c: EntryContext): ExportEntry {
  const monotonicUs = c.realtimeUs - c.bootStartUs;
  const hex = (n: number) => n.toString(16);
  const xor = ((c.seqnum * 2654435761) >>> 0).toString(16) + hex(monotonicUs & 0xffffff);
  const entry: ExportEntry = {
    __CURSOR: `s=${c.seqnumId};i=${hex(c.seqnum)};b=${c.bootId};m=${hex(monotonicUs)};t=${hex(c.realtimeUs)};x=${xor}`,
    __REALTIME_TIMESTAMP: String(c.realtimeUs),
    __MONOTONIC_TIMESTAMP: String(monotonicUs),
    __SEQNUM: String(c.seqnum),
    __SEQNUM_ID: c.seqnumId,
    _BOOT_ID: c.bootId,
  };
  const ident = line.identifier;
  const kernel = ident === 'kernel';
  entry._TRANSPORT = kernel ? 'kernel' : 'syslog';
  entry.PRIORITY = String(guessPriority(line.message));
  entry.SYSLOG_FACILITY = kernel ? '0' : ident && /ssh|su|pam/.test(ident) ? '10' : '3';
  if (ident !== null) entry.SYSLOG_IDENTIFIER = ident;
  if (line.pid !== null) entry.SYSLOG_PID = String(line.pid);
  if (!kernel) entry.SYSLOG_TIMESTAMP = syslogTimestamp(c.realtimeUs);
  entry.MESSAGE = line.message;
  if (!kernel && ident !== null && line.pid !== null) {
    const base = ident.split('(')[0]!.replace(/[^A-Za-z0-9_.-]/g, '') || 'unknown';
    const unit = `${base}.service`;
    Object.assign(entry, {
      _PID: String(line.pid),
      _UID: '0',
      _GID: '0',
      _COMM: ident.slice(0, 15),
      _EXE: `/usr/sbin/${base}`,
      _CMDLINE: `/usr/sbin/${base} -D`,
      _CAP_EFFECTIVE: '1ffffffffff',
      _SYSTEMD_CGROUP: `/system.slice/${unit}`,
      _SYSTEMD_UNIT: unit,
      _SYSTEMD_SLICE: 'system.slice',
      _SYSTEMD_INVOCATION_ID: hexId(`${c.bootId}/${unit}`),
      _SOURCE_REALTIME_TIMESTAMP: String(c.realtimeUs - 7),
    });
  }
  entry._MACHINE_ID = c.machineId;
  entry._HOSTNAME = c.hostname;
  entry._RUNTIME_SCOPE = 'system';
  return entry;
}

/** `Mmm dd hh:mm:ss ` as syslog writes it (journald keeps the trailing space). */
function syslogTimestamp(realtimeUs: number): string {
  const d = new Date(realtimeUs / 1000);
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `${MONTHS[d.getUTCMonth()]} ${day} ${d.toISOString().slice(11, 19)} `;
}

/** Export bytes for syslog lines (see syslogEntries for the mapping). */
export function syslogToExport(lines: Iterable<string>, options: SyslogOptions = {}): Buffer {
  return writeExport(syslogEntries(lines, options));
}

// ---------------------------------------------------------------------------------------------
// The benchmark journal

const LARGE_VERSION = 1;

/**
 * A journal of `n` realistic entries cycling both datasets (three boots, one entry every 10 ms
 * from 2026-01-01 UTC), cached under `.work/bench/` so that reruns are instant. Returns the
 * directory for `journalctl -D`.
 */
export async function generateLargeJournal(
  n = 300_000,
  options: { dir?: string; hostname?: string; log?: (m: string) => void } = {},
): Promise<string> {
  const hostname = options.hostname ?? 'bench-host';
  const dir = options.dir ?? join(repoRoot, '.work/bench', `journal-${hostname}-${n}`);
  const marker = join(dir, 'complete.json');
  const wanted = JSON.stringify({ n, hostname, version: LARGE_VERSION });
  if (existsSync(marker) && (await readFile(marker, 'utf8')) === wanted) return dir;
  await rm(dir, { recursive: true, force: true });
  options.log?.(`generating a journal of ${n} entries in ${dir}`);
  const lines = [...datasetLines('OpenSSH_2k'), ...datasetLines('Linux_2k')];
  const start = Date.UTC(2026, 0, 1) * 1000;
  const all = Array.from({ length: n }, (_, i) => lines[i % lines.length]!);
  const entries = syslogEntries(all, { hostname, boots: 3, realtimeUs: (i) => start + i * 10_000 });
  function* chunks() {
    let batch: ExportEntry[] = [];
    for (const entry of entries) {
      batch.push(entry);
      if (batch.length === 5000) {
        yield writeExport(batch);
        batch = [];
      }
    }
    yield writeExport(batch);
  }
  await makeJournalDir(chunks(), dir, { file: 'system.journal' });
  await writeFile(marker, wanted);
  return dir;
}
