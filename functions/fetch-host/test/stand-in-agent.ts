import { createServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Entry } from '@infralogs/core';

/**
 * A minimal stand-in for the agent's `GET /logs` (same query, auth and NDJSON answer) whose
 * failures a test can script: answers with a status first, a connection cut mid-page, a bad line.
 * The real agent is exercised by the end-to-end test; these failures cannot be provoked there.
 */
export interface StandInAgent {
  url: string;
  /** Every request's `after` value (null when absent), in order. */
  requests: (string | null)[];
  entries: Entry[];
  faults: {
    /** Statuses to answer instead of entries, one per request, before serving normally. */
    statuses: number[];
    /** Cut the connection after this many lines of the next page (once). */
    cutAfterLines?: number;
    /** Replace the entry at this index (0-based, overall) by a line that is not an entry. */
    badLineAt?: number;
    /** The line sent at badLineAt (default: JSON that is no entry). */
    badLine?: string;
  };
  close(): Promise<void>;
}

/** With `tls`, the stand-in serves HTTPS with that certificate and key (PEM). */
export async function startStandInAgent(
  entries: Entry[],
  token: string,
  tls?: { cert: string; key: string },
): Promise<StandInAgent> {
  const agent: Omit<StandInAgent, 'url' | 'close'> = { requests: [], entries, faults: { statuses: [] } };
  const listener: RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.headers.authorization !== `Bearer ${token}`) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"error":{"code":"UNAUTHORIZED","message":"no"}}');
      return;
    }
    const after = url.searchParams.get('after');
    agent.requests.push(after);
    const status = agent.faults.statuses.shift();
    if (status !== undefined) {
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end('{"error":{"code":"JOURNAL_UNAVAILABLE","message":"x"}}');
      return;
    }
    const limit = Number(url.searchParams.get('limit'));
    const start = after === null ? 0 : agent.entries.findIndex((e) => e.cursor === after) + 1;
    const page = agent.entries.slice(start, start + limit);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const cut = agent.faults.cutAfterLines;
    const sent = cut === undefined ? page : page.slice(0, cut);
    sent.forEach((entry, i) => {
      res.write(
        start + i === agent.faults.badLineAt
          ? `${agent.faults.badLine ?? '{"cursor": "not an entry"}'}\n`
          : `${JSON.stringify(entry)}\n`,
      );
    });
    if (sent.length < page.length) {
      agent.faults.cutAfterLines = undefined;
      // Let the lines reach the client, then drop the connection without finishing the body.
      setTimeout(() => res.destroy(), 50);
      return;
    }
    res.end();
  };
  const server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(agent as StandInAgent, {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
