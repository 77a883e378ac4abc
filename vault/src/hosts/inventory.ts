import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { InfralogsError } from '@infralogs/core';
import { agentUrlProblem, hostNameProblem } from './validate';

/**
 * The declarative inventory `hosts sync FILE` reads (and the local stack with
 * INFRALOGS_INVENTORY):
 *
 *   hosts:
 *     - name: web-1                      # DNS-style, unique
 *       url: https://10.0.0.5:8687       # the agent; http:// only with insecure: true
 *       enabled: true                    # default true
 *       insecure: false                  # default false
 *       ca_file: ./ca/web-1.pem          # optional: this host's own CA bundle (or `ca:` inline PEM)
 *
 * Every problem is reported with the file's line, e.g. `hosts.yml:7: hosts[1].url: ...`.
 */
export interface InventoryHost {
  name: string;
  url: string;
  enabled: boolean;
  insecure: boolean;
  /** PEM, read from ca_file (relative to the inventory) or given inline. */
  ca: string | null;
  line: number;
}

const hostSchema = z
  .object({
    name: z.string().min(1),
    url: z.string().min(1),
    enabled: z.boolean().default(true),
    insecure: z.boolean().default(false),
    ca: z.string().min(1).optional(),
    ca_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((h) => !(h.ca && h.ca_file), { message: 'give ca or ca_file, not both', path: ['ca_file'] });

const inventorySchema = z.object({ hosts: z.array(hostSchema).default([]) }).strict();

export async function readInventory(file: string): Promise<InventoryHost[]> {
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new InfralogsError('BAD_REQUEST', `cannot read the inventory ${file}`, { cause });
  });
  return parseInventory(text, file);
}

export async function parseInventory(text: string, file: string): Promise<InventoryHost[]> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const fail = (offset: number | undefined, message: string): never => {
    const line = offset === undefined ? 1 : lines.linePos(offset).line;
    throw new InfralogsError('BAD_REQUEST', `${file}:${line}: ${message}`);
  };
  if (doc.errors.length > 0) fail(doc.errors[0]!.pos[0], doc.errors[0]!.message.split('\n')[0]!);
  const lineOf = (path: (string | number)[]): number | undefined => {
    // The deepest node that exists on the path: a missing key is reported at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return node.range[0];
    }
    return undefined;
  };
  const parsed = inventorySchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    fail(lineOf(path), `${describePath(path)}: ${issue.message}`);
  }
  const hosts: InventoryHost[] = [];
  const seen = new Map<string, number>();
  for (const [i, h] of parsed.data!.hosts.entries()) {
    const at = lineOf(['hosts', i]);
    const line = at === undefined ? 1 : lines.linePos(at).line;
    const problem = hostNameProblem(h.name) ?? agentUrlProblem(h.url, h.insecure);
    if (problem)
      fail(lineOf(['hosts', i, hostNameProblem(h.name) ? 'name' : 'url']), `hosts[${i}]: ${problem}`);
    if (seen.has(h.name))
      fail(at, `hosts[${i}]: "${h.name}" is listed twice (first on line ${seen.get(h.name)})`);
    seen.set(h.name, line);
    let ca = h.ca ?? null;
    if (h.ca_file) {
      const path = resolve(dirname(file), h.ca_file);
      ca = await readFile(path, 'utf8').catch(() =>
        fail(lineOf(['hosts', i, 'ca_file']), `hosts[${i}].ca_file: cannot read ${path}`),
      );
    }
    if (ca !== null && !ca.includes('-----BEGIN CERTIFICATE-----')) {
      fail(
        lineOf(['hosts', i, h.ca_file ? 'ca_file' : 'ca']),
        `hosts[${i}]: the CA is not a PEM certificate`,
      );
    }
    hosts.push({
      name: h.name,
      url: h.url,
      enabled: h.enabled,
      insecure: h.insecure,
      ca: ca?.trim() ?? null,
      line,
    });
  }
  return hosts;
}

const describePath = (path: (string | number)[]) =>
  path.length === 0
    ? 'the file'
    : path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
