import { chmod, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, parseTokens } from '@infralogs/core';
import { waitFor } from '@infralogs/devkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenFile } from '../src/tokens';

const lines: string[] = [];
const log = createLogger({}, { write: (l) => lines.push(l) });
let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infralogs-tokens-'));
  path = join(dir, 'tokens');
  lines.length = 0;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('parseTokens', () => {
  it('takes one token per line, ignoring blanks, comments and surrounding space (CRLF too)', () => {
    expect(parseTokens('# agent tokens\r\n\r\n  tok-1  \ntok-2\n#tok-3\n')).toEqual(['tok-1', 'tok-2']);
  });
});

describe('TokenFile', () => {
  it('accepts any listed token as a Bearer header and nothing else', async () => {
    await writeFile(path, 'alpha-token\nbeta-token\n');
    const tokens = new TokenFile(path, log);
    await tokens.load();
    expect(await tokens.accepts('Bearer alpha-token')).toBe(true);
    expect(await tokens.accepts('bearer   beta-token')).toBe(true);
    for (const h of [
      undefined,
      '',
      'Bearer',
      'Bearer alpha',
      'Bearer alpha-token2',
      'Basic alpha-token',
      'alpha-token',
    ]) {
      expect(await tokens.accepts(h)).toBe(false);
    }
  });

  it('picks up rotation without a restart: new token appended, old one removed later', async () => {
    await writeFile(path, 'old-token\n');
    const tokens = new TokenFile(path, log);
    await tokens.load();
    await writeFile(path, 'old-token\nnew-token\n');
    expect(await tokens.accepts('Bearer new-token')).toBe(true);
    expect(await tokens.accepts('Bearer old-token')).toBe(true);
    // Same length, rewritten at once: still seen (the file is recent, so it is read again).
    await writeFile(path, 'new-token\nxxx-token\n');
    expect(await tokens.accepts('Bearer old-token')).toBe(false);
    expect(await tokens.accepts('Bearer xxx-token')).toBe(true);
    // Replaced by rename, as an atomic writer does.
    await writeFile(join(dir, 'next'), 'newer-token\n');
    await rename(join(dir, 'next'), path);
    expect(await tokens.accepts('Bearer newer-token')).toBe(true);
    expect(await tokens.accepts('Bearer new-token')).toBe(false);
  });

  const events = (name: string) => lines.filter((l) => JSON.parse(l).event === name).length;

  it('keeps the last good tokens while the file is briefly missing, and never logs a token', async () => {
    await writeFile(path, 'kept-token\n');
    const tokens = new TokenFile(path, log);
    await tokens.load();
    await rm(path);
    expect(await tokens.accepts('Bearer kept-token')).toBe(true);
    expect(await tokens.accepts('Bearer kept-token')).toBe(true);
    expect(events('tokens.unreadable')).toBe(1);
    await writeFile(path, '# all revoked\n');
    expect(await tokens.accepts('Bearer kept-token')).toBe(false);
    expect(events('tokens.readable')).toBe(1);
    expect(lines.join('\n')).not.toContain('kept-token');
  });

  it('refuses everyone once the file stays unreadable past the grace, until it is back', async () => {
    await writeFile(path, 'kept-token\nother-token\n');
    const tokens = new TokenFile(path, log, { unreadableGraceMs: 200 });
    await tokens.load();
    await rm(path);
    // The grace starts at the first failed read, so this request is always inside it.
    expect(await tokens.accepts('Bearer kept-token')).toBe(true);
    await waitFor(
      'the tokens to be revoked',
      async () => !(await tokens.accepts('Bearer kept-token')),
      10_000,
    );
    for (const t of ['kept-token', 'other-token']) {
      expect(await tokens.accepts(`Bearer ${t}`)).toBe(false);
      expect(await tokens.accepts(`Bearer ${t}`)).toBe(false);
    }
    // One line per state change, however many requests arrive meanwhile.
    expect(events('tokens.unreadable')).toBe(1);
    expect(events('tokens.revoked')).toBe(1);

    // Back with the same content: read again and accepted again.
    await writeFile(path, 'kept-token\nother-token\n');
    expect(await tokens.accepts('Bearer kept-token')).toBe(true);
    expect(events('tokens.readable')).toBe(1);
    // A later outage starts a new grace and logs again.
    await rm(path);
    expect(await tokens.accepts('Bearer other-token')).toBe(true);
    expect(events('tokens.unreadable')).toBe(2);
    expect(lines.join('\n')).not.toMatch(/kept-token|other-token/);
  });

  // Root reads any file whatever its mode.
  it.skipIf(process.getuid?.() === 0)('treats a file it may no longer read like a missing one', async () => {
    await writeFile(path, 'kept-token\n');
    const tokens = new TokenFile(path, log, { unreadableGraceMs: 0 });
    await tokens.load();
    await chmod(path, 0o000);
    expect(await tokens.accepts('Bearer kept-token')).toBe(false);
    expect(events('tokens.revoked')).toBe(1);
    await chmod(path, 0o600);
    expect(await tokens.accepts('Bearer kept-token')).toBe(true);
  });

  it('refuses to start when the file cannot be read', async () => {
    await expect(new TokenFile(join(dir, 'missing'), log).load()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});
