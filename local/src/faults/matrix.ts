import { mkdir, readdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import got from 'got';
import { getCheckpoint, getRun, type Run } from '@infralogs/core';
import {
  datasetLines,
  hexId,
  makeJournalDir,
  portOpen,
  run,
  syslogToExport,
  waitFor,
} from '@infralogs/devkit';
import { startLocalStack, type LocalStack } from '../stack';
import { DATABASE_NAME } from '../stack/database';
import type { DemoHost } from '../stack/journals';
import {
  compareIdentities,
  journalIdentities,
  recordedGaps,
  storedIdentities,
  type Identity,
} from './identities';

/**
 * The fault matrix: one local stack (MariaDB primary + GTID replica, OpenBao, N agents serving
 * real journal files over TLS, the gateway running every function as its own process), and one
 * fault at a time injected while a collection of every host is in flight. Each round appends new
 * entries to every host's journal, starts a collection, waits until a host is mid-stream (its
 * checkpoint moved, its result still pending), injects the fault, checks what the run record says,
 * recovers, collects until a run succeeds, and then compares every host's identities
 * (boot_id/seqnum_id/seqnum) on the primary AND on the replica with journalctl's own reading of
 * the journal: nothing lost, nothing twice, and source gaps only where the journal lost entries.
 *
 * A round's findings are `problems` (an empty list is a pass) and `notes` (what happened), so the
 * same code serves the CI test (small) and `npm run faults` (the full matrix).
 */
export const FAULTS = [
  'agent-killed',
  'fetch-host-killed',
  'ingest-killed',
  'collect-killed',
  'primary-restarted',
  'replica-stopped',
  'writer-lease-revoked',
  'vault-stopped',
  'cron-twice',
  'journal-rotated-vacuumed',
  'primary-disk-full',
] as const;
export type FaultName = (typeof FAULTS)[number];

export interface MatrixOptions {
  /** Hosts (agents) collected at once. */
  hosts: number;
  /** Entries each host's journal gets over the whole matrix, split evenly over the rounds. */
  entries: number;
  faults: readonly FaultName[];
  /** How long OpenBao stays stopped in `vault-stopped`. */
  vaultOutageMs: number;
  /** fetch-host's BATCH_MAX_ENTRIES: small batches keep each host mid-stream long enough to hit. */
  batchEntries: number;
  stateDir: string;
  progress: (line: string) => void;
}

export interface FaultResult {
  fault: FaultName | 'baseline';
  /** What the fault run's record and the recovery said. */
  notes: string[];
  /** Every expectation that did not hold; empty = the fault passed. */
  problems: string[];
  /** Entries in the journals and rows stored, over every host, after recovery. */
  journal: number;
  primary: number;
  replica: number;
  lost: number;
  duplicated: number;
  /** Entries the journal itself lost (vacuumed before they were collected). */
  sourceLost: number;
  gaps: string[];
  ms: number;
}

interface Answer {
  status: number;
  body: Record<string, unknown> & { runId?: number; status?: string; hosts?: HostAnswer[] };
}
type HostAnswer = { host: string; inserted: number; error: { code: string; message: string } | null };

/** Everything a round needs: the stack and what the matrix keeps between rounds. */
class Matrix {
  /** Per host: identities that were in journal files vacuumed since, and were stored before. */
  readonly vacuumed = new Map<string, Identity[]>();
  /** Entries of this round that the journal lost before they were collected (a vacuum). */
  sourceLost = 0;
  private nextUs: number;
  private round = 0;
  private readonly lines = [...datasetLines('OpenSSH_2k'), ...datasetLines('Linux_2k')];

  constructor(
    readonly stack: LocalStack,
    readonly options: MatrixOptions,
    readonly token: string,
    readonly perRound: number,
    /** Undone after the stack has stopped (the primary's tmpfs). */
    readonly cleanups: (() => Promise<unknown>)[],
  ) {
    // Every round's entries come after the last round's, one millisecond apart, ending near now.
    this.nextUs = (Date.now() - (options.faults.length + 2) * perRound) * 1000;
  }

  get hosts() {
    return this.stack.hosts;
  }

  /** Appends `count` entries to every host's journal (its active file), as a new boot. */
  async append(count = this.perRound, only?: string) {
    this.round += 1;
    const startUs = this.nextUs;
    this.nextUs += count * 1000;
    for (const h of this.hosts) {
      if (only && h.name !== only) continue;
      const lines = Array.from(
        { length: count },
        (_, i) => this.lines[(i + this.round * 7) % this.lines.length]!,
      );
      const data = syslogToExport(lines, {
        hostname: h.name,
        bootIds: [hexId(`${h.name}/boot/${this.round}`)],
        seed: h.name,
        realtimeUs: (i) => startUs + i * 1000,
      });
      await makeJournalDir(data, h.journalDir!, { file: 'system.journal' });
    }
  }

  /** POST /function/collect through the gateway, as an operator (token) or as the cron-connector. */
  async collect(options: { cron?: boolean } = {}): Promise<Answer> {
    const response = await got.post(`${this.stack.gatewayUrl}/function/collect`, {
      ...(options.cron
        ? { headers: { 'x-connector': 'cron-connector' } }
        : { headers: { authorization: `Bearer ${this.token}` }, json: {} }),
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: 30 * 60_000 },
    });
    let body: Answer['body'];
    try {
      body = JSON.parse(response.body) as Answer['body'];
    } catch {
      body = { text: response.body.slice(0, 300) };
    }
    return { status: response.statusCode, body };
  }

  async lastRunId(): Promise<number> {
    const [rows] = await this.stack.pool.query('SELECT COALESCE(MAX(id), 0) AS id FROM runs');
    return Number((rows as { id: number }[])[0]?.id ?? 0);
  }

  /**
   * Resolves once `host` is mid-stream in a run after `afterRun`: its checkpoint moved and its
   * result is still pending. Polls the primary (cheap: one row each).
   */
  async midStream(host: string, afterRun: number, before: string | null) {
    await waitFor(
      `${host} to be mid-stream`,
      async () => {
        if ((await getCheckpoint(this.stack.pool, host)) === before) return false;
        const [rows] = await this.stack.pool.query(
          'SELECT h.status FROM run_hosts h WHERE h.run_id > ? AND h.host = ? ORDER BY h.run_id DESC LIMIT 1',
          [afterRun, host],
        );
        return (rows as { status: string }[])[0]?.status === 'pending';
      },
      120_000,
      20,
    );
  }

  /** Starts a collection and waits until the first host is mid-stream; returns the call. */
  async collectUntilMidStream(): Promise<{ call: Promise<Answer>; target: string; runId: number }> {
    const target = this.hosts[0]!.name;
    const before = await getCheckpoint(this.stack.pool, target);
    const last = await this.lastRunId();
    const call = this.collect();
    await this.midStream(target, last, before);
    return { call, target, runId: last + 1 };
  }

  functionPid(name: string): number {
    const fn = this.stack.functions().find((f) => f.name === name);
    if (!fn?.pid) throw new Error(`function ${name} is not running`);
    return fn.pid;
  }

  /** Waits until the gateway has started `name` again (a new pid) and it is running. */
  async functionBack(name: string, oldPid: number) {
    await waitFor(
      `${name} to be restarted`,
      async () => {
        const fn = this.stack.functions().find((f) => f.name === name);
        return fn !== undefined && fn.running && fn.pid !== oldPid && (await portOpen(fn.port));
      },
      120_000,
      200,
    );
  }

  /** Collects until a run succeeds (409 while a dead run's lock lasts); returns that answer. */
  async settle(notes: string[], problems: string[]): Promise<Answer | null> {
    let conflicts = 0;
    for (let attempt = 1; attempt <= 40; attempt++) {
      const answer = await this.collect();
      if (answer.status === 409) {
        conflicts += 1;
        await sleep(500);
        continue;
      }
      if (answer.status === 200 && answer.body.status === 'succeeded') {
        const inserted = (answer.body.hosts ?? []).reduce((n, h) => n + h.inserted, 0);
        notes.push(
          `recovery run ${answer.body.runId} succeeded after ${attempt} call(s)` +
            `${conflicts ? ` (${conflicts} answered 409 while the dead run's lock lasted)` : ''}, inserting ${inserted}`,
        );
        return answer;
      }
      notes.push(`recovery call ${attempt}: ${answer.status} ${summary(answer)}`);
      await sleep(1000);
    }
    problems.push('no collection succeeded after the fault');
    return null;
  }

  /** The identities on both servers against journalctl's, for every host. */
  async verify(result: FaultResult) {
    await this.stack.topology.waitForReplica(300_000);
    for (const h of this.hosts) {
      const journal = await journalIdentities(['-D', h.journalDir!]);
      const expected = [...new Set([...journal, ...(this.vacuumed.get(h.name) ?? [])])].sort();
      result.journal += expected.length;
      for (const which of ['primary', 'replica'] as const) {
        const stored = await storedIdentities(this.stack.topology, which, DATABASE_NAME, h.name);
        result[which] += stored.length;
        const { missing, duplicated, unexpected } = compareIdentities(expected, stored);
        if (which === 'primary') {
          result.lost += missing.length;
          result.duplicated += duplicated.length;
        }
        if (missing.length + duplicated.length + unexpected.length > 0) {
          result.problems.push(
            `${h.name} on the ${which}: ${missing.length} missing, ${duplicated.length} twice, ` +
              `${unexpected.length} not in the journal (e.g. ${[...missing, ...duplicated, ...unexpected][0]})`,
          );
        }
      }
      // Test journals never skip a seqnum within a seqnum_id (journal-remote numbers each file
      // from 1 with its own seqnum_id), so any gap recorded here is one the journal did not have.
      const gaps = await recordedGaps(this.stack.topology, DATABASE_NAME, h.name);
      result.gaps.push(...gaps.map((g) => `${h.name} ${g}`));
      if (gaps.length > 0)
        result.problems.push(`${h.name}: gaps recorded where the journal lost nothing: ${gaps.join(', ')}`);
    }
  }
}

const summary = (a: Answer) =>
  a.body.hosts
    ? `${String(a.body.status)}: ${a.body.hosts.map((h) => `${h.host} ${h.error ? h.error.code : 'ok'}`).join(', ')}`
    : JSON.stringify(a.body).slice(0, 300);

const hostLine = (r: Run | null) =>
  r
    ? `run ${r.id} ${r.status}${r.reason ? ` (${r.reason})` : ''}: ` +
      r.hosts
        .map(
          (h) =>
            `${h.host} ${h.status}${h.error ? ` ${h.error.code} "${h.error.message.slice(0, 160)}"` : ''}`,
        )
        .join(', ')
    : 'no run record';

type Scenario = (m: Matrix, notes: string[], problems: string[]) => Promise<void>;

const check = (problems: string[], ok: boolean, what: string) => {
  if (!ok) problems.push(what);
};

/** The fault run must have answered 200 `succeeded` with every host complete: the fault was ridden out. */
async function riddenOut(m: Matrix, answer: Answer, notes: string[], problems: string[], what: string) {
  const record = answer.body.runId ? await getRun(m.stack.pool, answer.body.runId) : null;
  notes.push(`fault run: ${answer.status} ${summary(answer)}; record: ${hostLine(record)}`);
  check(
    problems,
    answer.status === 200 && answer.body.status === 'succeeded',
    `${what}: the run did not ride it out`,
  );
  check(
    problems,
    record?.status === 'succeeded' && record.hosts.every((h) => h.status === 'succeeded' && h.error === null),
    `${what}: the run record does not say every host succeeded`,
  );
}

const SCENARIOS: Record<FaultName, Scenario> = {
  async 'agent-killed'(m, notes, problems) {
    const { call, target } = await m.collectUntilMidStream();
    await m.stack.restartAgent(target, 'SIGKILL', 1000);
    notes.push(`killed the agent of ${target} (SIGKILL) mid-stream; started again 1 s later`);
    await riddenOut(m, await call, notes, problems, 'agent killed');
  },

  async 'fetch-host-killed'(m, notes, problems) {
    const { call, target } = await m.collectUntilMidStream();
    const pid = m.functionPid('fetch-host');
    process.kill(pid, 'SIGKILL');
    notes.push(`killed fetch-host (pid ${pid}, SIGKILL) while ${target} was mid-stream`);
    const answer = await call;
    const record = answer.body.runId ? await getRun(m.stack.pool, answer.body.runId) : null;
    notes.push(`fault run: ${answer.status} ${summary(answer)}; record: ${hostLine(record)}`);
    // The hosts it was pulling fail with the coded error collect got; the run closes as such.
    const cut = record?.hosts.find((h) => h.host === target);
    check(problems, answer.status === 200, 'fetch-host killed: collect did not answer its summary');
    check(
      problems,
      record !== null && record.status !== 'running',
      'fetch-host killed: the run was left running',
    );
    check(
      problems,
      cut?.status === 'failed' && cut.error !== null,
      `fetch-host killed: ${target} is not recorded as failed`,
    );
    await m.functionBack('fetch-host', pid);
  },

  async 'ingest-killed'(m, notes, problems) {
    const { call, target } = await m.collectUntilMidStream();
    const pid = m.functionPid('ingest');
    process.kill(pid, 'SIGKILL');
    notes.push(
      `killed ingest (pid ${pid}, SIGKILL) while ${target} was mid-stream; fetch-host retries the batch`,
    );
    await riddenOut(m, await call, notes, problems, 'ingest killed');
    await m.functionBack('ingest', pid);
  },

  async 'collect-killed'(m, notes, problems) {
    const { call, target, runId } = await m.collectUntilMidStream();
    const pid = m.functionPid('collect');
    process.kill(pid, 'SIGKILL');
    notes.push(`killed collect (pid ${pid}, SIGKILL) during run ${runId} while ${target} was mid-stream`);
    const answer = await call;
    notes.push(`its caller got ${answer.status}`);
    await m.functionBack('collect', pid);
    const next = await m.settle(notes, problems);
    const dead = await getRun(m.stack.pool, runId);
    notes.push(`killed run's record: ${hostLine(dead)}`);
    check(
      problems,
      dead?.status === 'aborted' && /stopped renewing the run lock/.test(dead.reason ?? ''),
      'collect killed: the dead run is not recorded as aborted with its reason',
    );
    check(problems, next !== null, 'collect killed: no later run took over');
  },

  async 'primary-restarted'(m, notes, problems) {
    const { call, target } = await m.collectUntilMidStream();
    await m.stack.topology.stopServer('primary', 'SIGKILL');
    await sleep(3000);
    await m.stack.topology.startServer('primary');
    notes.push(`killed the primary (SIGKILL) while ${target} was mid-stream; started again after 3 s`);
    await riddenOut(m, await call, notes, problems, 'primary restarted');
  },

  async 'replica-stopped'(m, notes, problems) {
    const { call, target } = await m.collectUntilMidStream();
    await m.stack.topology.stopServer('replica', 'SIGTERM');
    notes.push(`stopped the replica while ${target} was mid-stream`);
    await riddenOut(m, await call, notes, problems, 'replica stopped');
    await m.stack.topology.startServer('replica');
    notes.push('started the replica again after the run');
  },

  async 'writer-lease-revoked'(m, notes, problems) {
    const { call, target } = await m.collectUntilMidStream();
    const { addr, rootToken, credentialsPaths } = m.stack.vault;
    const revoked = await fetch(`${addr}/v1/sys/leases/revoke-prefix/${credentialsPaths.writer}`, {
      method: 'PUT',
      headers: { 'x-vault-token': rootToken },
    });
    check(problems, revoked.ok, `lease revocation answered ${revoked.status}`);
    notes.push(`revoked every writer lease (${credentialsPaths.writer}) while ${target} was mid-stream`);
    await riddenOut(m, await call, notes, problems, 'writer lease revoked');
  },

  async 'vault-stopped'(m, notes, problems) {
    const { call, target } = await m.collectUntilMidStream();
    await m.stack.stopVault();
    const stopped = Date.now();
    notes.push(`stopped OpenBao for ${m.options.vaultOutageMs} ms while ${target} was mid-stream`);
    // A host pulled before the outage completes on the token it read; one started during it (more
    // hosts than COLLECT_CONCURRENCY) cannot read its agent's token from KV and says so.
    const inFlight = await call;
    const flight = inFlight.body.runId ? await getRun(m.stack.pool, inFlight.body.runId) : null;
    notes.push(`fault run: ${inFlight.status} ${summary(inFlight)}; record: ${hostLine(flight)}`);
    check(
      problems,
      flight?.hosts.find((h) => h.host === target)?.status === 'succeeded',
      `OpenBao stopped mid-run: ${target}, pulling when it stopped, did not complete`,
    );
    check(
      problems,
      flight !== null &&
        flight.status !== 'running' &&
        flight.hosts.every((h) => h.status === 'succeeded' || h.error?.code === 'VAULT_UNAVAILABLE'),
      'OpenBao stopped mid-run: a host failed for another reason than VAULT_UNAVAILABLE',
    );
    // A run started while OpenBao is away cannot read the agents' tokens: each host says so.
    await m.append(Math.max(1, Math.floor(m.perRound / 4)));
    const during = await m.collect();
    const record = during.body.runId ? await getRun(m.stack.pool, during.body.runId) : null;
    notes.push(`run during the outage: ${during.status} ${summary(during)}; record: ${hostLine(record)}`);
    check(
      problems,
      during.status !== 200 ||
        record?.hosts.every((h) => h.status === 'failed' && h.error?.code === 'VAULT_UNAVAILABLE') === true,
      'a run during the OpenBao outage does not record VAULT_UNAVAILABLE for its hosts',
    );
    await sleep(Math.max(0, m.options.vaultOutageMs - (Date.now() - stopped)));
    await m.stack.startVault();
    notes.push(`started OpenBao again after ${Date.now() - stopped} ms`);
  },

  async 'cron-twice'(m, notes, problems) {
    const before = await m.lastRunId();
    const answers = await Promise.all([m.collect({ cron: true }), m.collect({ cron: true })]);
    const after = await m.lastRunId();
    notes.push(`two cron calls at once: ${answers.map((a) => `${a.status} ${summary(a)}`).join(' | ')}`);
    const ran = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 409 || a.status === 429);
    check(
      problems,
      ran.length === 1 && refused.length === 1,
      'cron twice: not exactly one run and one refusal',
    );
    check(problems, after - before === 1, `cron twice: ${after - before} runs were recorded`);
    const conflict = refused[0];
    if (conflict?.status === 409) {
      const details = (conflict.body.error as { details?: { activeRunId?: number } } | undefined)?.details;
      check(
        problems,
        details?.activeRunId === ran[0]?.body.runId,
        'cron twice: the 409 does not name the active run',
      );
    }
  },

  async 'journal-rotated-vacuumed'(m, notes, problems) {
    const { call, target } = await m.collectUntilMidStream();
    const host = m.hosts.find((h) => h.name === target)!;
    const dir = host.journalDir!;
    // Rotation as journald does it: the active file is archived under its @-name and new entries
    // go to a new active file (journalctl --rotate needs a running journald).
    const active = join(dir, 'system.journal');
    const old = await journalIdentities(['--file', active]);
    const seqnumId = old[0]!.split('/')[1]!;
    const archived = join(
      dir,
      `system@${seqnumId}-0000000000000001-${(Date.now() * 1000).toString(16).padStart(16, '0')}.journal`,
    );
    await rename(active, archived);
    await m.append(m.perRound, target);
    const vacuum = await run('journalctl', ['-D', dir, '--vacuum-files=1']);
    const left = await readdir(dir);
    notes.push(
      `rotated ${target}'s journal mid-stream (${old.length} entries archived), wrote ${m.perRound} more, vacuumed: ` +
        `${vacuum.stderr.trim().split('\n').at(-1) ?? ''}; files left: ${left.join(', ')}`,
    );
    check(
      problems,
      !left.includes(archived.split('/').at(-1)!),
      'the vacuum did not remove the archived file',
    );
    const answer = await call;
    const record = answer.body.runId ? await getRun(m.stack.pool, answer.body.runId) : null;
    notes.push(`fault run: ${answer.status} ${summary(answer)}; record: ${hostLine(record)}`);
    check(problems, answer.status === 200, 'rotate/vacuum: collect did not answer its summary');
    // What the vacuum took that was stored before stays stored; the rest the journal lost.
    const settled = await m.settle(notes, problems);
    if (settled) {
      const stored = new Set(await storedIdentities(m.stack.topology, 'primary', DATABASE_NAME, target));
      const kept = old.filter((id) => stored.has(id));
      m.vacuumed.set(target, [...(m.vacuumed.get(target) ?? []), ...kept]);
      notes.push(
        `${kept.length} of the vacuumed entries had been stored, ${old.length - kept.length} were lost at the source`,
      );
      m.sourceLost += old.length - kept.length;
    }
  },

  async 'primary-disk-full'(m, notes, problems) {
    const { topology } = m.stack;
    const datadir = join(topology.primary.dataDir, DATABASE_NAME);
    const disk = join(m.options.stateDir, 'primary-disk');
    // The primary's database directory on a small filesystem of its own (the binlog, redo log and
    // system tablespace stay where they are): a full disk then fails the inserts that extend a
    // table's file, as a full volume does, instead of stopping the server.
    await topology.stopServer('primary', 'SIGTERM');
    await mkdir(disk, { recursive: true });
    // Room for what is stored already and, once the ballast is gone, for this round's entries
    // (4 KiB an entry is generous for a row with its indexes and rollups): a fixed 1 GiB was full
    // again after the ballast's removal at 10 hosts × 100,000, so recovery met a full disk too.
    const used = Number((await run('du', ['-sb', datadir])).stdout.split('\t')[0]);
    const size = Math.max(1 << 30, used + m.hosts.length * m.perRound * 4 * 4096 + (256 << 20));
    try {
      await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', disk]);
    } catch (err) {
      await topology.startServer('primary');
      notes.push(
        `SKIPPED: a tmpfs cannot be mounted here (needs root): ${(err as Error).message.slice(0, 200)}`,
      );
      return;
    }
    m.cleanups.push(() => run('umount', ['-l', disk]));
    await run('cp', ['-a', `${datadir}/.`, disk]);
    await rm(datadir, { recursive: true, force: true });
    await symlink(disk, datadir);
    await topology.startServer('primary');
    // Fill the disk with a ballast file, and give this round more entries than the free pages
    // inside the tables' files can hold, so the writes reach the full disk.
    const free = async () =>
      Number((await run('df', ['-B1', '--output=avail', disk])).stdout.trim().split('\n').at(-1));
    const ballast = join(disk, 'ballast');
    await run('fallocate', ['-l', String(await free()), ballast]);
    await m.append(m.perRound * 4);
    notes.push(`the primary's database directory is on a tmpfs filled to ${await free()} bytes free`);
    const before = await Promise.all(m.hosts.map((h) => getCheckpoint(m.stack.pool, h.name)));
    const answer = await m.collect();
    const record = answer.body.runId ? await getRun(m.stack.pool, answer.body.runId) : null;
    notes.push(`run on the full disk: ${answer.status} ${summary(answer)}; record: ${hostLine(record)}`);
    const full =
      record?.hosts.filter(
        (h) => h.status === 'failed' && /ER_RECORD_FILE_FULL/.test(h.error?.message ?? ''),
      ) ?? [];
    check(problems, full.length > 0, 'disk full: no host is recorded as failed with ER_RECORD_FILE_FULL');
    check(
      problems,
      record !== null && record.status !== 'running' && record.status !== 'succeeded',
      'disk full: the run record does not say it failed',
    );
    // Nothing accepted is lost: what committed before the disk filled is still there (verify), and
    // a checkpoint only moved with rows that committed.
    const after = await Promise.all(m.hosts.map((h) => getCheckpoint(m.stack.pool, h.name)));
    notes.push(
      `checkpoints moved on the full disk for ${after.filter((c, i) => c !== before[i]).length} of ${m.hosts.length} hosts`,
    );
    await rm(ballast);
    notes.push('removed the ballast: space is back');
  },
};

/** Runs the matrix: the baseline, then each fault in turn. Stops the stack at the end. */
export async function runFaultMatrix(options: MatrixOptions): Promise<FaultResult[]> {
  const { progress } = options;
  const perRound = Math.max(1, Math.floor(options.entries / (options.faults.length + 1)));
  const demoHosts: DemoHost[] = Array.from({ length: options.hosts }, (_, i) => ({
    host: `host-${String(i + 1).padStart(2, '0')}`,
    datasets: i % 2 === 0 ? ['OpenSSH_2k'] : ['Linux_2k'],
    entries: perRound,
  }));
  progress(
    `fault matrix: ${options.hosts} hosts × ${perRound} entries per round, ${options.faults.length} faults`,
  );
  const stack = await startLocalStack({
    stateDir: options.stateDir,
    fresh: true,
    gatewayPort: 0,
    useMachineJournal: false,
    collectOnStart: false,
    demoHosts,
    progress: (line) => progress(`  stack: ${line}`),
    functionEnv: {
      // A short run lock, so a killed collect blocks the next call for seconds only.
      collect: { RUN_LOCK_MS: '5000', COLLECT_CONCURRENCY: String(Math.min(5, options.hosts)) },
      'fetch-host': {
        BATCH_MAX_ENTRIES: String(options.batchEntries),
        AGENT_PAGE_LIMIT: String(Math.max(100, Math.floor(perRound / 3))),
        // Rides out the primary's restart (seconds) without waiting a minute on the full disk.
        INGEST_RETRY_WINDOW_MS: '30000',
      },
    },
  });
  const results: FaultResult[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const token = (await readFile(stack.collectTokenFile, 'utf8')).trim();
    const m = new Matrix(stack, options, token, perRound, cleanups);
    const rounds: (FaultName | 'baseline')[] = ['baseline', ...options.faults];
    for (const fault of rounds) {
      const started = Date.now();
      m.sourceLost = 0;
      const result: FaultResult = {
        fault,
        notes: [],
        problems: [],
        journal: 0,
        primary: 0,
        replica: 0,
        lost: 0,
        duplicated: 0,
        sourceLost: 0,
        gaps: [],
        ms: 0,
      };
      progress(`${fault}: appending ${perRound} entries to each of ${options.hosts} journals…`);
      if (fault !== 'baseline') await m.append();
      try {
        if (fault === 'baseline') {
          const answer = await m.collect();
          result.notes.push(`baseline run: ${answer.status} ${summary(answer)}`);
          check(result.problems, answer.body.status === 'succeeded', 'the baseline run did not succeed');
        } else {
          await SCENARIOS[fault](m, result.notes, result.problems);
          if (fault !== 'collect-killed' && fault !== 'journal-rotated-vacuumed') {
            await m.settle(result.notes, result.problems);
          }
        }
        await m.verify(result);
      } catch (err) {
        result.problems.push(`the round broke: ${(err as Error)?.stack ?? String(err)}`);
      }
      result.sourceLost = m.sourceLost;
      result.ms = Date.now() - started;
      results.push(result);
      progress(
        `${fault}: ${result.problems.length === 0 ? 'ok' : 'FAILED'} in ${(result.ms / 1000).toFixed(1)} s — ` +
          `journal ${result.journal}, primary ${result.primary}, replica ${result.replica}, lost ${result.lost}, ` +
          `twice ${result.duplicated}, gaps ${result.gaps.length}`,
      );
      for (const note of result.notes) progress(`    ${note}`);
      for (const problem of result.problems) progress(`    PROBLEM: ${problem}`);
    }
    return results;
  } finally {
    await stack.stop();
    for (const undo of cleanups.splice(0)) await undo().catch(() => undefined);
  }
}
