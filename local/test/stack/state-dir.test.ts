import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claimStateDir, startLocalStack } from '../../src/stack';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the state directory', () => {
  it('is never a folder the stack did not make: its files are left alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infralogs-state-'));
    dirs.push(dir);
    await writeFile(join(dir, 'precious.txt'), 'keep me');
    await expect(startLocalStack({ stateDir: dir, gatewayPort: 0 })).rejects.toThrow(
      /not made by the local stack/,
    );
    expect(existsSync(join(dir, 'precious.txt'))).toBe(true);
  });
});

describe('keeping state across starts', () => {
  it('resumes on a state directory a previous start left, and empties it with fresh', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infralogs-state-'));
    dirs.push(dir);
    expect(await claimStateDir(dir, false)).toBe(false);
    // What a start leaves behind: its ports and its data.
    await writeFile(join(dir, 'ports.json'), '{"primary":1}\n');
    await mkdir(join(dir, 'mariadb'));
    expect(await claimStateDir(dir, false)).toBe(true);
    expect(existsSync(join(dir, 'mariadb'))).toBe(true);
    // npm start -- --fresh
    expect(await claimStateDir(dir, true)).toBe(false);
    expect(existsSync(join(dir, 'mariadb'))).toBe(false);
    expect(existsSync(join(dir, 'ports.json'))).toBe(false);
  });
});
