import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalStack } from '../../src/stack';

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
