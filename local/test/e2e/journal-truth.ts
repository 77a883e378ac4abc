import { spawn } from 'node:child_process';
import mysql from 'mysql2/promise';
import { ExportParser, entryFromFields, formatTs, PLAIN_FIELDS, type Entry } from '@infralogs/core';
import { readAll, type Topology } from '@infralogs/devkit';

/**
 * The two sides the end-to-end test compares: what journalctl itself reads from a journal
 * directory (parsed with the core export parser, not the agent's fast reader), and what is stored
 * for a host. Both become the same comparable rows, keyed by identity.
 */
/**
 * An entry with its identity as one key and its time as the column holds it (µs, UTC), and
 * MESSAGE's exact bytes: on the journal side as journalctl exported them (not through
 * entryFromFields), on the stored side `COALESCE(message_raw, message)` as bytes.
 */
export type ComparableRow = Omit<Entry, 'bootId' | 'seqnumId' | 'seqnum' | 'realtimeUs'> & {
  identity: string;
  ts: string;
  messageBytes: Buffer | null;
};

const byIdentity = (a: ComparableRow, b: ComparableRow) =>
  a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0;

export function comparable(
  { bootId, seqnumId, seqnum, realtimeUs, ...rest }: Entry,
  messageBytes: Buffer | null,
): ComparableRow {
  return { identity: `${bootId}/${seqnumId}/${seqnum}`, ts: formatTs(realtimeUs), ...rest, messageBytes };
}

/** Every entry of a journal directory, as `journalctl -D dir -o export --all` gives them. */
export async function journalRows(dir: string): Promise<ComparableRow[]> {
  const stdout = await journalctlExport(dir);
  const { entries, invalid } = readAll((handlers) => new ExportParser(handlers), stdout);
  if (invalid.length > 0) throw new Error(`journalctl output had ${invalid.length} unreadable lines`);
  return entries
    .map((fields) => comparable(entryFromFields(fields), fields.get('MESSAGE')?.[0] ?? null))
    .sort(byIdentity);
}

/** Every row stored for `host` on one server, admin-read. */
export async function storedRows(
  topology: Topology,
  which: 'primary' | 'replica',
  database: string,
  host: string,
) {
  const server = topology[which];
  const c = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user: topology.admin.user,
    password: topology.admin.password,
    database,
    dateStrings: true,
    supportBigNumbers: true,
  });
  try {
    const [rows] = await c.query(
      `SELECT LOWER(HEX(l.boot_id)) AS bootId, LOWER(HEX(l.seqnum_id)) AS seqnumId, l.seqnum, l.ts, l.message,
              l.message_raw AS messageRaw, ${PLAIN_FIELDS.map((f) => `l.\`${f.column}\` AS \`${f.key}\``).join(', ')}, l.cursor,
              COALESCE(l.message_raw, CAST(l.message AS BINARY)) AS messageBytes
         FROM logs l JOIN hosts h ON h.id = l.host_id WHERE h.name = ?`,
      [host],
    );
    return (rows as Record<string, unknown>[])
      .map((r): ComparableRow => {
        const plain = Object.fromEntries(
          PLAIN_FIELDS.map((f) => {
            const v = r[f.key];
            return [f.key, v === null ? null : f.kind === 'integer' ? Number(v) : String(v)];
          }),
        );
        return {
          identity: `${String(r.bootId)}/${String(r.seqnumId)}/${String(r.seqnum)}`,
          ts: String(r.ts),
          message: r.message as string | null,
          messageRaw: r.messageRaw === null ? null : (r.messageRaw as Buffer).toString('base64'),
          ...plain,
          cursor: String(r.cursor),
          messageBytes: r.messageBytes === null ? null : Buffer.from(r.messageBytes as Buffer),
        } as ComparableRow;
      })
      .sort(byIdentity);
  } finally {
    await c.end();
  }
}

/** journalctl's export output as bytes (binary fields must not go through a text decoder). */
function journalctlExport(dir: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('journalctl', ['-D', dir, '-o', 'export', '--all', '--no-pager'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`journalctl exited ${code}: ${err}`)),
    );
  });
}
