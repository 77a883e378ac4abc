import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  datasetLines,
  requiredDatasetLines,
  generateLargeJournal,
  guessPriority,
  makeJournalDir,
  parseSyslogLine,
  SAMPLE_LINES,
  syslogEntries,
  syslogToExport,
  writeExport,
} from '../src/journals';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'infralogs-devkit-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

const exportOf = (dir: string, ...args: string[]) =>
  execFileSync('journalctl', ['-D', dir, '--all', '-o', 'export', ...args], { maxBuffer: 1 << 28 }).toString(
    'latin1',
  );

describe('writeExport', () => {
  it('writes printable strings as text and everything else in the binary form', () => {
    const bytes = writeExport([
      { A: 'plain', B: 'two\nlines', C: Buffer.from('forced'), D: ['x', 'y'], E: 'tab\tok', F: 'cr\r' },
    ]);
    const bin = (name: string, value: string) => {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(Buffer.byteLength(value)));
      return Buffer.concat([Buffer.from(`${name}\n`), length, Buffer.from(`${value}\n`)]);
    };
    expect(bytes).toEqual(
      Buffer.concat([
        Buffer.from('A=plain\n'),
        bin('B', 'two\nlines'),
        bin('C', 'forced'),
        Buffer.from('D=x\nD=y\nE=tab\tok\n'),
        bin('F', 'cr\r'),
        Buffer.from('\n'),
      ]),
    );
  });
});

describe('makeJournalDir', () => {
  it('writes a journal that journalctl reads back, appending to an existing file', async () => {
    const entry = (m: string, i: number) => ({
      __REALTIME_TIMESTAMP: String(1767225600000000 + i),
      __MONOTONIC_TIMESTAMP: String(1000 + i),
      _BOOT_ID: 'ab'.repeat(16),
      MESSAGE: m,
    });
    const dir = await makeJournalDir(writeExport([entry('one', 1)]), join(work, 'append'));
    await makeJournalDir([Buffer.from(writeExport([entry('two', 2)]))], dir);
    expect(exportOf(dir).match(/^MESSAGE=.*$/gm)).toEqual(['MESSAGE=one', 'MESSAGE=two']);
  });

  it('fails clearly on a bad file name or when systemd-journal-remote fails', async () => {
    await expect(makeJournalDir(Buffer.alloc(0), join(work, 'bad'), { file: 'x.txt' })).rejects.toThrow(
      /\.journal/,
    );
    const blocked = join(work, 'blocked');
    await mkdir(join(blocked, 'x.journal'), { recursive: true });
    await expect(makeJournalDir(writeExport([{ MESSAGE: 'm' }]), blocked)).rejects.toThrow(
      /systemd-journal-remote exited with/,
    );
  });
});

describe('syslog lines → journal entries', () => {
  it('splits name[pid]: and guesses a priority', () => {
    expect(
      parseSyslogLine('Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; x', 2024),
    ).toEqual({
      epochSeconds: Date.UTC(2024, 5, 14, 15, 16, 1) / 1000,
      host: 'combo',
      identifier: 'sshd(pam_unix)',
      pid: 19939,
      message: 'authentication failure; x',
    });
    expect(parseSyslogLine('Jun 15 04:06:19 combo logrotate: ALERT exited', 2024)).toMatchObject({
      identifier: 'logrotate',
      pid: null,
    });
    expect(parseSyslogLine('no syslog shape here', 2024)).toMatchObject({
      identifier: null,
      message: 'no syslog shape here',
    });
    expect([
      guessPriority('Authentication FAILURE'),
      guessPriority('Invalid user x'),
      guessPriority('session opened'),
    ]).toEqual([3, 4, 6]);
  });

  it('maps the datasets as documented: identifier, pid, comm, unit, boots, time never going back', () => {
    const lines = [
      ...requiredDatasetLines('Linux_2k').slice(0, 60),
      'not a syslog line',
      ...requiredDatasetLines('OpenSSH_2k').slice(0, 60),
    ];
    const entries = [
      ...syslogEntries(lines, { hostname: 'h', boots: 3, seqnumId: 'cd'.repeat(16), startSeqnum: 10 }),
    ];
    expect(entries).toHaveLength(lines.length);
    expect(new Set(entries.map((e) => e._BOOT_ID)).size).toBe(3);
    expect(entries.map((e) => Number(e.__SEQNUM))).toEqual(entries.map((_, i) => 10 + i));
    const times = entries.map((e) => Number(e.__REALTIME_TIMESTAMP));
    expect(times.every((t, i) => i === 0 || t > times[i - 1]!)).toBe(true);
    const withPid = entries.find((e) => e._PID !== undefined)!;
    expect(withPid._COMM).toBe(String(withPid.SYSLOG_IDENTIFIER).slice(0, 15));
    expect(withPid._SYSTEMD_UNIT).toMatch(/^[A-Za-z0-9_.-]+\.service$/);
    const odd = entries[60]!;
    expect(odd).toMatchObject({ MESSAGE: 'not a syslog line' });
    expect(odd.SYSLOG_IDENTIFIER).toBeUndefined();
    expect(odd._PID).toBeUndefined();
    const given = [...syslogEntries(lines.slice(0, 4), { bootIds: ['a'.repeat(32), 'b'.repeat(32)] })];
    expect(given.map((e) => String(e._BOOT_ID)[0])).toEqual(['a', 'a', 'b', 'b']);
    const kernel = entries.find((e) => e.SYSLOG_IDENTIFIER === 'kernel');
    if (kernel) expect(kernel).toMatchObject({ _TRANSPORT: 'kernel', SYSLOG_FACILITY: '0' });
    expect(String(entries[0]!.__CURSOR)).toMatch(
      /^s=(cd){16};i=a;b=[0-9a-f]{32};m=[0-9a-f]+;t=[0-9a-f]+;x=[0-9a-f]+$/,
    );
  });

  it('falls back to built-in sample lines when the datasets are missing', () => {
    expect(datasetLines('OpenSSH_2k', join(work, 'no-datasets-here'))).toBe(SAMPLE_LINES);
    expect(datasetLines('Linux_2k', null)).toBe(SAMPLE_LINES);
    expect(syslogToExport(SAMPLE_LINES).toString()).toContain('SYSLOG_IDENTIFIER=sshd');
  });
});

describe('generateLargeJournal', () => {
  it('generates n entries over three boots once, then reuses the cached journal', async () => {
    const dir = join(work, 'large');
    expect(await generateLargeJournal(3000, { dir })).toBe(dir);
    const text = exportOf(dir);
    expect(text.match(/^__CURSOR=/gm)).toHaveLength(3000);
    expect(new Set(text.match(/^_BOOT_ID=.*$/gm)).size).toBe(3);
    const before = (await stat(join(dir, 'system.journal'))).mtimeMs;
    await generateLargeJournal(3000, { dir });
    expect((await stat(join(dir, 'system.journal'))).mtimeMs).toBe(before);
  });
});
