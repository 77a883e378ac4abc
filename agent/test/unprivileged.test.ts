import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  makeJournalDir,
  startProcess,
  syslogToExport,
  waitFor,
  type Managed,
} from '@infralogs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from '../build';

/**
 * The single-file agent bundle (what the systemd unit and the image run) as an unprivileged uid,
 * against journal files that are 0640 root:systemd-journal as journald leaves them: with the
 * group it serves them; without it, a clear 503 and it keeps running. Tests run as root here, so
 * the child drops privileges with setpriv (util-linux), as systemd's User=/DynamicUser= would.
 */
const UID = 10001;
const TOKEN = 'unprivileged-agent-token-0123';
const isRoot = process.getuid?.() === 0;
const journalGid = (() => {
  try {
    return Number(execFileSync('getent', ['group', 'systemd-journal']).toString().split(':')[2]);
  } catch {
    return NaN;
  }
})();

let work: string;
let bundle: string;
let journalDir: string;
let tokensFile: string;
const agents: Managed[] = [];

beforeAll(async () => {
  if (!isRoot || Number.isNaN(journalGid)) return;
  work = await mkdtemp(join(tmpdir(), 'infralogs-agent-uid-'));
  await chmod(work, 0o755);
  bundle = await buildAgent(join(work, 'agent.mjs'));
  journalDir = await makeJournalDir(
    syslogToExport(['sshd[10]: one', 'sshd[11]: two', 'sshd[12]: three'], { hostname: 'vm-uid', boots: 1 }),
    join(work, 'journal'),
  );
  // As journald leaves them: the directory and files belong to root:systemd-journal, files 0640.
  await chown(journalDir, 0, journalGid);
  await chmod(journalDir, 0o2750);
  for (const f of await readdir(journalDir)) {
    await chown(join(journalDir, f), 0, journalGid);
    await chmod(join(journalDir, f), 0o640);
  }
  tokensFile = join(work, 'tokens');
  await writeFile(tokensFile, `${TOKEN}\n`);
  await chown(tokensFile, UID, UID);
  await chmod(tokensFile, 0o400);
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop('SIGTERM', 5000)));
  if (work) await rm(work, { recursive: true, force: true });
});

/** The bundle as uid 10001, with the journal's group or with no supplementary group at all. */
async function startUnprivileged(withJournalGroup: boolean) {
  const port = await freePort('127.0.0.1');
  const groups = withJournalGroup ? [`--groups=${journalGid}`] : ['--clear-groups'];
  const proc = startProcess(
    'setpriv',
    [`--reuid=${UID}`, `--regid=${UID}`, ...groups, process.execPath, bundle],
    {
      env: {
        PATH: process.env.PATH,
        AGENT_HOST: '127.0.0.1',
        AGENT_PORT: String(port),
        AGENT_TOKENS_FILE: tokensFile,
        JOURNAL_DIR: journalDir,
      },
    },
  );
  agents.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the unprivileged agent', async () => {
    if (proc.child.exitCode !== null) throw new Error(`agent exited: ${proc.output().slice(-1000)}`);
    return (await fetch(`${url}/healthz`)).ok;
  });
  const status = await readFile(`/proc/${proc.child.pid}/status`, 'utf8');
  return { proc, url, uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) };
}

const logs = (url: string) => fetch(`${url}/logs`, { headers: { authorization: `Bearer ${TOKEN}` } });

describe.skipIf(!isRoot || Number.isNaN(journalGid))('the agent as an unprivileged uid', () => {
  it('serves journal files 0640 root:systemd-journal with the systemd-journal group', async () => {
    const { url, uid } = await startUnprivileged(true);
    expect(uid).toBe(UID);
    const res = await logs(url);
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split('\n');
    const messages = lines.map((l) => (JSON.parse(l) as { message: string }).message);
    expect(messages).toEqual(['sshd[10]: one', 'sshd[11]: two', 'sshd[12]: three']);
  });

  it('answers a clear 503 without the group, and keeps running', async () => {
    const { proc, url, uid } = await startUnprivileged(false);
    expect(uid).toBe(UID);
    const res = await logs(url);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('JOURNAL_UNAVAILABLE');
    expect(body.error.message).toMatch(/not readable by the agent \(uid 10001\).*systemd-journal/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(proc.child.exitCode).toBeNull();
  });
});
