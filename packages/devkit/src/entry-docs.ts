import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENTRY_FIELDS } from '@infralogs/core';
import { repoRoot } from './datasets';

/**
 * The journal field → column table of docs/store.md, written from ENTRY_FIELDS so the docs never
 * drift from the code: `npm run docs` rewrites it, and a test fails while it is stale.
 */
export const ENTRY_DOC = join(repoRoot, 'docs/store.md');
const START = '<!-- entry-fields:start (written by `npm run docs` from ENTRY_FIELDS) -->';
const END = '<!-- entry-fields:end -->';

export function entryFieldsMarkdown(): string {
  const rows = ENTRY_FIELDS.map((f) => {
    const journal = f.journal === null ? '(MESSAGE bytes)' : `\`${f.journal}\``;
    const notes = [f.doc, 'optional' in f && f.optional ? 'optional on the wire (older agents: null)' : '']
      .filter(Boolean)
      .join('; ');
    return `| ${journal} | \`${f.key}\` | \`${f.column}\` ${f.sql} | ${notes} |`;
  });
  return [
    '| journald | entry (wire) | column | notes |',
    '| --- | --- | --- | --- |',
    ...rows,
    '| (batch’s host) | `host` | `host_id` INT UNSIGNED NOT NULL | the registered host, not `_HOSTNAME` |',
  ].join('\n');
}

/** The table as it stands in the doc between its markers, or null when the markers are missing. */
export function documentedEntryFields(doc: string): string | null {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) return null;
  return doc.slice(start + START.length, end).trim();
}

export async function updateEntryFieldsDoc(file = ENTRY_DOC): Promise<boolean> {
  const doc = await readFile(file, 'utf8');
  if (documentedEntryFields(doc) === null) throw new Error(`${file} has no ${START} … ${END} block`);
  const next = `${doc.slice(0, doc.indexOf(START) + START.length)}\n${entryFieldsMarkdown()}\n${doc.slice(doc.indexOf(END))}`;
  if (next === doc) return false;
  await writeFile(file, next);
  return true;
}

if (process.argv[1] && /[\\/]devkit[\\/]src[\\/]entry-docs\.[tj]s$/.test(process.argv[1])) {
  const changed = await updateEntryFieldsDoc();
  process.stdout.write(`${ENTRY_DOC}: ${changed ? 'entry field table rewritten' : 'up to date'}\n`);
}
