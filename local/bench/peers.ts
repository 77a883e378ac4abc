import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { copyFile, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createStorePool,
  EntryReader,
  loadStatement,
  migrate,
  toRow,
  tsvRow,
  upsertHost,
  type Entry,
} from '@infralogs/core';
import { startProcess, type Managed, type Topology } from '@infralogs/devkit';

/** One host's journal as the benchmark generated it. */
export interface BenchJournal {
  host: string;
  /** The directory for `journalctl -D`. */
  dir: string;
  /** Its one journal file. */
  file: string;
  entries: number;
}

/**
 * Every entry of a journal directory as the agent reads it (`journalctl --all -o export` through
 * core's EntryReader), handed over chunk by chunk so that a caller can apply backpressure.
 */
export async function readJournalEntries(dir: string, onEntries: (entries: Entry[]) => Promise<void>) {
  const child = spawn('journalctl', ['-D', dir, '--all', '-o', 'export'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let pending: Entry[] = [];
  const reader = new EntryReader({ onEntry: (e) => pending.push(e) });
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    reader.push(chunk);
    if (pending.length > 0) {
      const batch = pending;
      pending = [];
      await onEntries(batch);
    }
  }
  reader.end();
  if (pending.length > 0) await onEntries(pending);
  const code = await exited;
  if (code !== 0) throw new Error(`journalctl -D ${dir} exited with ${code}: ${stderr.slice(-500)}`);
}

const write = (out: WriteStream, text: string) =>
  out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve()));

/**
 * The practical limit: the same rows as ingest maps them (core's toRow), one TSV file per host
 * written beforehand (not timed), then `LOAD DATA LOCAL INFILE` of each file in turn into a fresh
 * database with the same schema. The table is not empty when timing starts (MariaDB bulk-loads
 * an empty table differently, as the ingest benchmark notes): one warm-up host is loaded first.
 */
export async function prepareLoadData(topo: Topology, journals: BenchJournal[], workDir: string) {
  const database = 'bench_load_data';
  const admin = await topo.connect('primary');
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
  await admin.end();
  const pool = createStorePool({
    host: topo.primary.host,
    port: topo.primary.port,
    user: topo.admin.user,
    password: topo.admin.password,
    database,
  });
  const files: { host: string; file: string; rows: number }[] = [];
  try {
    await migrate(pool);
    for (const j of [{ ...journals[0]!, host: 'warmup' }, ...journals]) {
      const { id } = await upsertHost(pool, { name: j.host, agentUrl: 'http://127.0.0.1:9' });
      const file = join(workDir, `${j.host}.tsv`);
      const out = createWriteStream(file);
      let rows = 0;
      await readJournalEntries(j.dir, async (entries) => {
        rows += entries.length;
        await write(out, entries.map((e) => tsvRow(toRow(id, e))).join(''));
      });
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      files.push({ host: j.host, file, rows });
    }
  } finally {
    await pool.end();
  }
  const load = async (file: string) => {
    const c = await topo.connect('primary', database);
    try {
      await c.query({
        sql: loadStatement('rows.tsv'),
        infileStreamFactory: () => createReadStream(file),
      });
    } finally {
      await c.end();
    }
  };
  await load(files[0]!.file);
  return {
    database,
    /** Loads every host's file, one after the other (the timed part). */
    run: async () => {
      for (const f of files.slice(1)) await load(f.file);
    },
    rows: files.slice(1).reduce((n, f) => n + f.rows, 0),
  };
}

/**
 * The classic path: Debian's rsyslog, imjournal → ommysql, as a private process with its own
 * configuration, work directory and pid file, into the same MariaDB primary (database Syslog,
 * rsyslog-mysql's own SystemEvents schema).
 *
 * imjournal has no option for a journal directory: it opens the machine's journal with
 * sd_journal_open(), which reads /var/log/journal/<machine-id>/ and /run/log/journal. With
 * `Remote="on"` it drops SD_JOURNAL_LOCAL_ONLY and reads every machine folder under
 * /var/log/journal, so the benchmark's journal files are linked (or copied) into a folder named
 * by a fresh random machine id, which journalctl and agents reading this machine's own journal
 * (local only) never look at, and which is removed afterwards. Rate limiting is off, or imjournal
 * drops entries; the queue and batch settings are those of shared/notes/peers.md.
 */
export async function prepareRsyslog(topo: Topology, journals: BenchJournal[], workDir: string) {
  const admin = await topo.connect('primary');
  await admin.query('DROP DATABASE IF EXISTS Syslog');
  await admin.query('CREATE DATABASE Syslog');
  const schema = await readFile('/usr/share/dbconfig-common/data/rsyslog-mysql/install/mysql', 'utf8');
  await admin.changeUser({ database: 'Syslog' });
  for (const statement of schema.split(';').filter((s) => s.trim() !== '')) await admin.query(statement);
  await admin.end();

  const journalDir = join('/var/log/journal', randomBytes(16).toString('hex'));
  await mkdir(journalDir, { recursive: true });
  for (const j of journals) {
    const target = join(journalDir, `${j.host}.journal`);
    await link(j.file, target).catch(() => copyFile(j.file, target));
  }
  const dir = join(workDir, 'rsyslog');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const config = join(dir, 'rsyslog.conf');
  const quote = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  // The admin password is in this 0600 file only, removed with the work directory.
  await writeFile(
    config,
    [
      `global(workDirectory="${quote(dir)}")`,
      `module(load="imjournal" StateFile="${quote(join(dir, 'imjournal.state'))}" Remote="on"`,
      `       Ratelimit.Interval="0" Ratelimit.Burst="0" IgnorePreviousMessages="off")`,
      'module(load="ommysql")',
      `action(type="ommysql" server="${topo.primary.host}" serverport="${topo.primary.port}" db="Syslog"`,
      `       uid="${quote(topo.admin.user)}" pwd="${quote(topo.admin.password)}"`,
      '       queue.type="LinkedList" queue.size="100000" queue.dequeueBatchSize="1000")',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const total = journals.reduce((n, j) => n + j.entries, 0);
  const count = async () => {
    const c = await topo.connect('primary', 'Syslog');
    try {
      const [rows] = await c.query('SELECT COUNT(*) AS n FROM SystemEvents');
      return Number((rows as { n: number }[])[0]!.n);
    } finally {
      await c.end();
    }
  };
  let proc: Managed | undefined;
  return {
    total,
    count,
    /** Starts rsyslogd; resolves with its pid (to read its CPU time while it runs). */
    start: () => {
      proc = startProcess('rsyslogd', ['-n', '-f', config, '-i', join(dir, 'rsyslogd.pid')]);
      return proc.child.pid!;
    },
    /** Waits until SystemEvents holds every entry of the journals. */
    finished: async (progress: (stored: number) => void, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      let last = -1;
      for (;;) {
        if (proc!.child.exitCode !== null) throw new Error(`rsyslogd exited: ${proc!.output().slice(-1000)}`);
        const n = await count();
        if (n !== last) progress(n);
        last = n;
        if (n >= total) return n;
        if (Date.now() > deadline) throw new Error(`rsyslog stored ${n} of ${total} entries in time`);
        await sleep(250);
      }
    },
    stop: async () => {
      await proc?.stop('SIGTERM', 10_000);
      await rm(journalDir, { recursive: true, force: true });
    },
  };
}
