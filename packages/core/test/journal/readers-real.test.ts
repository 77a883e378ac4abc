import { rm } from 'node:fs/promises';
import {
  EDGE_BOOT_IDS,
  edgeCaseEntries,
  feed,
  journalctl,
  JsonParser,
  makeJournalDir,
  MIB_LINES,
  MIB_TEXT,
  randomSizes,
  readAll,
  requiredDatasetLines,
  requiredDatasetPath,
  syslogToExport,
  VerboseParser,
  writeExport,
} from '@infralogs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryFromFields, entrySchema, parseCursor, type Entry, type JournalFields } from '../../src/entry';
import {
  EntryReader,
  ExportParser,
  NdjsonEncoder,
  type InvalidLine,
  type JournalReader,
  type ReaderHandlers,
} from '../../src/journal';

/**
 * The three readers on real journal files written by systemd-journal-remote and read back by
 * the real journalctl 252 (which prints no __SEQNUM lines: identity comes from the cursor).
 */
const dirs: string[] = [];
let edgeDir: string;

beforeAll(async () => {
  edgeDir = await makeJournalDir(writeExport(edgeCaseEntries()));
  dirs.push(edgeDir);
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const exportParser = (h: ReaderHandlers) => new ExportParser(h);
const msgId = (f: JournalFields) => f.get('MSG_ID')?.[0]?.toString();
/** Fields as comparable plain data: name → base64 of each value, names sorted. */
const plain = (f: JournalFields) =>
  Object.fromEntries(
    [...f].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.map((b) => b.toString('base64'))]),
  );

function entriesWithReader(bytes: Buffer, sizes?: number[]) {
  const entries: Entry[] = [];
  const invalid: InvalidLine[] = [];
  const reader = new EntryReader({ onEntry: (e) => entries.push(e), onInvalid: (p) => invalid.push(p) });
  feed(reader, bytes, sizes ?? [bytes.length || 1]);
  return { entries, invalid };
}

describe('export on real journal files', () => {
  let exported: Buffer;
  let fields: JournalFields[];
  let byId: Map<string, { fields: JournalFields; entry: Entry }>;

  beforeAll(() => {
    exported = journalctl(edgeDir, '--all', '-o', 'export');
    const read = readAll(exportParser, exported);
    expect(read.invalid).toEqual([]);
    fields = read.entries;
    byId = new Map(fields.map((f) => [msgId(f)!, { fields: f, entry: entryFromFields(f) }]));
  });

  it('went through the binary form for newline, CR, invalid UTF-8 and 1 MiB of lines', () => {
    // journalctl chose the form, not us: these names appear as "MESSAGE\n" + length.
    const binaryMessages = exported.toString('latin1').split('\nMESSAGE\n').length - 1;
    expect(binaryMessages).toBe(7);
  });

  it('maps every hard case to the entry model', () => {
    const e = (id: string) => byId.get(id)!.entry;
    expect(e('plain')).toMatchObject({
      message: 'hello world',
      messageRaw: null,
      priority: 6,
      pid: 100,
      syslogIdentifier: 'app',
      comm: 'app',
      unit: 'app.service',
      hostname: 'edge-host',
    });
    expect(e('newline').message).toBe('line one\nline two\n  indented three');
    expect(e('carriage-return').message).toBe('carriage\rreturn');
    expect(e('escape').message).toBe('esc \u001b[31mred\u001b[0m');
    expect(e('c1-control').message).toBe('next\u0085line');
    expect(e('trailing-newline').message).toBe('ends with a newline\n');
    expect(e('unicode')).toMatchObject({ message: 'grüße ✓ 日本語 🙂', messageRaw: null });
    expect(e('invalid-utf8')).toMatchObject({
      message: 'f\uFFFDo\r',
      messageRaw: Buffer.from([0x66, 0xff, 0x6f, 0x0d]).toString('base64'),
    });
    expect(e('missing-priority-pid')).toMatchObject({ priority: null, pid: null, unit: null, comm: null });
    expect(e('empty')).toMatchObject({ message: '', priority: 0 });
    expect(e('value-4k').message).toBe('x'.repeat(4096));
    expect(byId.get('value-4k')!.fields.get('BIG_FIELD')![0]!.toString()).toBe('y'.repeat(5000));
    expect(e('mib-text').message).toBe(MIB_TEXT);
    expect(e('mib-lines').message).toBe(MIB_LINES);
    expect(byId.get('repeated')!.fields.get('TAG')!.map(String)).toEqual(['first-value', 'second-value']);
  });

  it('takes identity from the cursor and keeps the three boots', () => {
    const entries = fields.map(entryFromFields);
    expect(entries.map((e) => e.seqnum)).toEqual(entries.map((_, i) => i + 1));
    for (const e of entries) {
      const c = parseCursor(e.cursor);
      expect(e).toMatchObject({
        seqnumId: c.seqnumId,
        seqnum: c.seqnum,
        bootId: c.bootId,
        realtimeUs: c.realtimeUs,
      });
      expect(entrySchema.parse(e)).toEqual(e);
    }
    expect([...new Set(entries.map((e) => e.bootId))]).toEqual([...EDGE_BOOT_IDS]);
  });

  it('EntryReader gives exactly what ExportParser + entryFromFields give, whatever the chunking', () => {
    const reference = fields.map(entryFromFields);
    expect(entriesWithReader(exported)).toEqual({ entries: reference, invalid: [] });
    for (const seed of [1, 2, 3]) {
      expect(entriesWithReader(exported, randomSizes(seed, 500, 9000)).entries).toEqual(reference);
    }
  });

  it('NdjsonEncoder writes exactly JSON.stringify of those entries, whatever the chunking', () => {
    const expected = fields.map((f) => JSON.stringify(entryFromFields(f)) + '\n').join('');
    for (const sizes of [[exported.length], randomSizes(5, 500, 9000), randomSizes(6, 500, 300)]) {
      const encoder = new NdjsonEncoder();
      const out: Buffer[] = [];
      feed(
        {
          push: (c) => {
            encoder.push(c);
            const lines = encoder.take();
            if (lines) out.push(lines);
          },
          end: () => encoder.end(),
        },
        exported,
        sizes,
      );
      const last = encoder.take();
      if (last) out.push(last);
      expect(Buffer.concat(out).toString('utf8')).toBe(expected);
    }
  });

  it('json --all carries the same fields as export', () => {
    const json = readAll((h) => new JsonParser(h), journalctl(edgeDir, '--all', '-o', 'json'));
    expect(json.invalid).toEqual([]);
    expect(json.lost).toEqual([]);
    expect(json.entries.map(plain)).toEqual(fields.map(plain));
  });

  it('json without --all nulls values of 4 KiB and more; the entries are still read', () => {
    const json = readAll((h) => new JsonParser(h), journalctl(edgeDir, '-o', 'json'));
    expect(json.entries).toHaveLength(fields.length);
    expect(json.lost.map((l) => `${l.field}:${l.reason}`).sort()).toEqual([
      'BIG_FIELD:too-large',
      'MESSAGE:too-large',
      'MESSAGE:too-large',
      'MESSAGE:too-large',
    ]);
    const big = json.entries.find((f) => msgId(f) === 'value-4k')!;
    expect(entryFromFields(big).message).toBeNull();
  });

  it('verbose --all gives the same entries except the trailing newline it cannot show', () => {
    const read = readAll((h) => new VerboseParser(h), journalctl(edgeDir, '--all', '-o', 'verbose'));
    expect(read.invalid).toEqual([]);
    const verbose = read.entries.map(entryFromFields);
    const reference = fields.map(entryFromFields);
    expect(verbose.map((e) => e.message)).toEqual(
      reference.map((e) => (e.message === 'ends with a newline\n' ? 'ends with a newline' : e.message)),
    );
    const rest = (e: Entry) => ({ ...e, message: undefined });
    expect(verbose.map(rest)).toEqual(reference.map(rest));
  });

  it('verbose without --all loses every non-printable value as a blob', () => {
    const read = readAll((h) => new VerboseParser(h), journalctl(edgeDir, '-o', 'verbose'));
    expect(read.entries).toHaveLength(fields.length);
    const lostIds = read.lost.map((l) => {
      const entry = read.entries.find((f) => f.get('__CURSOR')![0]!.toString() === l.cursor)!;
      return `${msgId(entry)}:${l.field}`;
    });
    expect(lostIds).toEqual([
      'carriage-return:MESSAGE',
      'invalid-utf8:MESSAGE',
      'escape:MESSAGE',
      'c1-control:MESSAGE',
    ]);
  });

  it('json and verbose readers cope with any chunking', () => {
    const bytes = {
      json: journalctl(edgeDir, '--all', '-o', 'json'),
      verbose: journalctl(edgeDir, '--all', '-o', 'verbose'),
    };
    const make: Record<'json' | 'verbose', (h: ReaderHandlers) => JournalReader> = {
      json: (h) => new JsonParser(h),
      verbose: (h) => new VerboseParser(h),
    };
    for (const format of ['json', 'verbose'] as const) {
      const whole = readAll(make[format], bytes[format]).entries.map(plain);
      const chunked: JournalFields[] = [];
      const reader = make[format]({ onEntry: (f) => chunked.push(f) });
      feed(reader, bytes[format], randomSizes(7, 300, 5000));
      expect(chunked.map(plain)).toEqual(whole);
    }
  });
});

describe('the multiple-boots dataset (real Debian 12 entries with two stray syslog lines)', () => {
  const NAME = 'multiple-boots.export';
  /** The dataset is required: a missing file fails these tests instead of skipping them. */
  const dataset = () => requiredDatasetPath(NAME);

  it('reads the raw file: 6 entries over 3 boots, the 2 stray lines reported', async () => {
    const { readFile } = await import('node:fs/promises');
    const raw = await readFile(dataset());
    const { entries, invalid } = entriesWithReader(raw, [1]);
    expect(entries).toHaveLength(6);
    expect(new Set(entries.map((e) => e.bootId)).size).toBe(3);
    // The file has no __SEQNUM lines: the identity is the cursor's.
    expect(entries.map((e) => e.seqnum)).toEqual([0x1, 0x2, 0x22e3, 0x22e4, 0x451d, 0x451e]);
    expect(invalid.map((p) => p.line.toString())).toEqual([
      expect.stringMatching(/^Sep 17 11:26:36 Debian12 kernel: Linux version/),
      expect.stringMatching(/^Sep 17 11:26:36 Debian12 kernel: Command line:/),
    ]);
    expect(entries[1]).toMatchObject({
      priority: 6,
      pid: null,
      syslogIdentifier: 'kernel',
      hostname: 'Debian12',
    });
  });

  it('through systemd-journal-remote and journalctl, all three formats agree', async () => {
    const dir = await makeJournalDir([dataset()]);
    dirs.push(dir);
    const viaExport = entriesWithReader(journalctl(dir, '--all', '-o', 'export')).entries;
    const viaJson = readAll((h) => new JsonParser(h), journalctl(dir, '--all', '-o', 'json')).entries;
    const viaVerbose = readAll(
      (h) => new VerboseParser(h),
      journalctl(dir, '--all', '-o', 'verbose'),
    ).entries;
    expect(viaExport).toHaveLength(6);
    expect(viaJson.map(entryFromFields)).toEqual(viaExport);
    expect(viaVerbose.map(entryFromFields)).toEqual(viaExport);
    expect(new Set(viaExport.map((e) => e.bootId)).size).toBe(3);
  });
});

describe('a journal made from the loghub syslog datasets', () => {
  it('reads realistic entries with guessed priorities and three boots', async () => {
    const lines = [
      ...requiredDatasetLines('OpenSSH_2k').slice(0, 150),
      ...requiredDatasetLines('Linux_2k').slice(0, 150),
    ];
    const dir = await makeJournalDir(syslogToExport(lines, { hostname: 'loghub', boots: 3 }));
    dirs.push(dir);
    const exported = journalctl(dir, '--all', '-o', 'export');
    const { entries, invalid } = entriesWithReader(exported, randomSizes(3, 100, 3000));
    expect(invalid).toEqual([]);
    expect(entries).toEqual(readAll(exportParser, exported).entries.map(entryFromFields));
    expect(entries).toHaveLength(lines.length);
    expect(new Set(entries.map((e) => e.bootId)).size).toBe(3);
    expect(new Set(entries.map((e) => e.priority))).toEqual(new Set([3, 4, 6]));
    const sshd = entries.find((e) => e.syslogIdentifier === 'sshd')!;
    expect(sshd).toMatchObject({ comm: 'sshd', unit: 'sshd.service', hostname: 'loghub' });
    expect(sshd.pid).toBeGreaterThan(0);
  });
});
