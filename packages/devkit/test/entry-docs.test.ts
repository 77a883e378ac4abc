import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ENTRY_DOC, documentedEntryFields, entryFieldsMarkdown } from '../src/entry-docs';

describe('docs/store.md', () => {
  it('shows the entry fields exactly as ENTRY_FIELDS has them (run `npm run docs` after changing the table)', async () => {
    const documented = documentedEntryFields(await readFile(ENTRY_DOC, 'utf8'));
    expect(documented).not.toBeNull();
    expect(documented).toBe(entryFieldsMarkdown());
  });
});
