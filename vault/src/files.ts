import { randomBytes } from 'node:crypto';
import { chmod, rename, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/**
 * Replaces a file in one step (temp file in the same directory + rename), so a reader such as the
 * agent sees the old or the new content, never a half-written file. Mode 0600 unless told: these
 * are secrets (a certificate, public, may be 0644).
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temp, content, { mode });
  await chmod(temp, mode);
  await rename(temp, path);
}
