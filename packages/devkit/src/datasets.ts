import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where package.json and .venv live). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The shared real-data folder (`../shared/datasets` beside the clone, in CI too), or null when it
 * is not there. INFRALOGS_DATASETS overrides. Use this, never an absolute path: CI runs from
 * another folder.
 */
export function datasetsDir(): string | null {
  const candidates = [process.env.INFRALOGS_DATASETS, join(repoRoot, '../shared/datasets')];
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}

/** Path of one dataset file, or null when the datasets folder is missing. */
export function datasetPath(name: string): string | null {
  const dir = datasetsDir();
  return dir && existsSync(join(dir, name)) ? join(dir, name) : null;
}

/**
 * Path of a dataset a test cannot do without. A missing file throws, naming where it was looked
 * for: a test that skipped, or fell back to sample data, would hide that CI lost its real data.
 */
export function requiredDatasetPath(name: string): string {
  const path = datasetPath(name);
  if (path !== null) return path;
  const named = process.env.INFRALOGS_DATASETS;
  const dir = datasetsDir() ?? named ?? join(repoRoot, '../shared/datasets');
  const from =
    named && dir === named
      ? 'the folder INFRALOGS_DATASETS names'
      : 'the shared datasets beside the clone; INFRALOGS_DATASETS can name another folder';
  throw new Error(`required dataset missing: expected ${join(dir, name)} (${from})`);
}
