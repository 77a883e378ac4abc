import { spawn } from 'node:child_process';
import type { Topology } from '@infralogs/devkit';

/**
 * The fault matrix compares entries by identity only — `boot_id/seqnum_id/seqnum`, the key that
 * makes a replay insert nothing twice — so it stays cheap at 100,000 entries per host:
 * journalctl's side is read from the cursors of its own export (`s=`, `i=` in hex, `b=`), the
 * stored side from the identity columns.
 */
export type Identity = string;

/** `seqnumId/seqnum` → identity: the cursor holds all three parts. */
export function identityOfCursor(cursor: string): Identity {
  const parts = Object.fromEntries(cursor.split(';').map((p) => [p.slice(0, 1), p.slice(2)]));
  const { s, i, b } = parts;
  if (!s || !i || !b) throw new Error(`not a journal cursor: ${cursor}`);
  return `${b}/${s}/${BigInt(`0x${i}`).toString()}`;
}

/** The identities of every entry journalctl reads with these arguments (`-D dir` or `--file f`). */
export function journalIdentities(args: string[]): Promise<Identity[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'journalctl',
      [...args, '--all', '-o', 'export', '--no-pager', '--output-fields=_BOOT_ID'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const out: Identity[] = [];
    let rest = '';
    let err = '';
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('__CURSOR=')) out.push(identityOfCursor(line.slice(9)));
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out.sort())
        : reject(new Error(`journalctl ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

/** The identities stored for `host` on one server (admin-read), sorted; duplicates would show twice. */
export async function storedIdentities(
  topology: Topology,
  which: 'primary' | 'replica',
  database: string,
  host: string,
): Promise<Identity[]> {
  const c = await topology.connect(which, database);
  try {
    const [rows] = await c.query(
      `SELECT CONCAT(LOWER(HEX(l.boot_id)), '/', LOWER(HEX(l.seqnum_id)), '/', l.seqnum) AS id
         FROM logs l JOIN hosts h ON h.id = l.host_id WHERE h.name = ?`,
      [host],
    );
    return (rows as { id: string }[]).map((r) => r.id).sort();
  } finally {
    await c.end();
  }
}

/** The source gaps recorded for `host` on the primary, as `seqnumId:after..before`. */
export async function recordedGaps(topology: Topology, database: string, host: string): Promise<string[]> {
  const c = await topology.connect('primary', database);
  try {
    const [rows] = await c.query(
      `SELECT CONCAT(LOWER(HEX(g.seqnum_id)), ':', g.after_seqnum, '..', g.before_seqnum) AS gap
         FROM gaps g JOIN hosts h ON h.id = g.host_id WHERE h.name = ? ORDER BY gap`,
      [host],
    );
    return (rows as { gap: string }[]).map((r) => r.gap);
  } finally {
    await c.end();
  }
}

/** What differs between the expected identities and the stored ones (both sorted). */
export function compareIdentities(expected: Identity[], stored: Identity[]) {
  const want = new Set(expected);
  const seen = new Set<Identity>();
  const duplicated: Identity[] = [];
  const unexpected: Identity[] = [];
  for (const id of stored) {
    if (seen.has(id)) duplicated.push(id);
    seen.add(id);
    if (!want.has(id)) unexpected.push(id);
  }
  const missing = expected.filter((id) => !seen.has(id));
  return { missing, duplicated, unexpected };
}
