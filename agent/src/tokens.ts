import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { InfralogsError, type Logger } from '@infralogs/core';

/**
 * The bearer tokens the agent accepts, from a file: one token per line, blank lines and lines
 * starting with '#' ignored. Several tokens may be valid at once, so a token is rotated by
 * appending the new one and removing the old one later. The file is re-read when its size,
 * mtime or inode changes, without a restart. Tokens are held only as SHA-256 digests and compared
 * in constant time over those fixed-length digests, so neither content nor length leaks.
 */
const RECENT_MS = 2000;

export class TokenFile {
  private readonly path: string;
  private readonly log: Logger;
  private digests: Buffer[] = [];
  private version = '';

  constructor(path: string, log: Logger) {
    this.path = path;
    this.log = log;
  }

  /** First read, at start-up: a file that cannot be read is a configuration error. */
  async load(): Promise<void> {
    try {
      await this.refresh();
    } catch (cause) {
      throw new InfralogsError('CONFIG_INVALID', `AGENT_TOKENS_FILE: cannot read ${this.path}`, { cause });
    }
    if (this.digests.length === 0) this.log.warn('tokens.none', { path: this.path });
  }

  /** Whether an Authorization header carries one of the tokens. */
  async accepts(authorization: string | undefined): Promise<boolean> {
    try {
      await this.refresh();
    } catch (err) {
      // A writer replacing the file may leave it missing for a moment: keep the last good set.
      this.log.warn('tokens.unreadable', { path: this.path, error: err });
    }
    const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) return false;
    const presented = digest(token);
    let match = false;
    for (const d of this.digests) match = timingSafeEqual(presented, d) || match;
    return match;
  }

  private async refresh(): Promise<void> {
    const s = await stat(this.path);
    const version = `${s.ino}:${s.size}:${s.mtimeMs}`;
    // A same-size rewrite within the file system's timestamp tick keeps the version, so a file
    // changed in the last moments is read again regardless (it is small).
    if (version === this.version && Date.now() - s.mtimeMs > RECENT_MS) return;
    const tokens = parseTokens(await readFile(this.path, 'utf8'));
    this.digests = tokens.map(digest);
    if (version !== this.version) this.log.info('tokens.loaded', { path: this.path, count: tokens.length });
    this.version = version;
  }
}

export function parseTokens(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
