import { readFile, stat } from 'node:fs/promises';
import { digestMatches, InfralogsError, parseTokens, tokenDigest, type Logger } from '@infralogs/core';

/**
 * The bearer tokens the agent accepts, from a file: one token per line, blank lines and lines
 * starting with '#' ignored. Several tokens may be valid at once, so a token is rotated by
 * appending the new one and removing the old one later. The file is re-read when its size,
 * mtime or inode changes, without a restart. Tokens are held only as SHA-256 digests and compared
 * in constant time over those fixed-length digests, so neither content nor length leaks.
 *
 * A file that cannot be read (deleted, unreadable) keeps the last tokens for a short grace only,
 * so a writer replacing it non-atomically causes no refusals; after that every request is refused
 * until the file is readable again. Deleting the file therefore revokes every token.
 */
const RECENT_MS = 2000;
/** How long the last tokens stay valid once the file cannot be read. */
export const UNREADABLE_GRACE_MS = 30_000;

export interface TokenFileOptions {
  /** Default UNREADABLE_GRACE_MS. */
  unreadableGraceMs?: number;
}

export class TokenFile {
  private readonly path: string;
  private readonly log: Logger;
  private readonly graceMs: number;
  private digests: Buffer[] = [];
  private version = '';
  /** When reading the file first failed, while it keeps failing; null while it is readable. */
  private unreadableSince: number | null = null;
  private revoked = false;

  constructor(path: string, log: Logger, options: TokenFileOptions = {}) {
    this.path = path;
    this.log = log;
    this.graceMs = options.unreadableGraceMs ?? UNREADABLE_GRACE_MS;
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
    await this.check();
    const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
    return digestMatches(token, this.digests);
  }

  /** Re-reads the file if it changed, and tracks whether it is readable; logs only state changes. */
  private async check(): Promise<void> {
    try {
      await this.refresh();
    } catch (err) {
      const now = Date.now();
      if (this.unreadableSince === null) {
        this.unreadableSince = now;
        this.log.warn('tokens.unreadable', { path: this.path, graceMs: this.graceMs, error: err });
      }
      if (!this.revoked && now - this.unreadableSince >= this.graceMs) {
        this.revoked = true;
        this.digests = [];
        // Read the file again when it is back, even with the same inode, size and mtime.
        this.version = '';
        this.log.error('tokens.revoked', { path: this.path, unreadableMs: now - this.unreadableSince });
      }
      return;
    }
    if (this.unreadableSince !== null) {
      this.log.info('tokens.readable', { path: this.path, revoked: this.revoked });
      this.unreadableSince = null;
      this.revoked = false;
    }
  }

  private async refresh(): Promise<void> {
    const s = await stat(this.path);
    // ctime too: a chmod that makes the file unreadable changes only that.
    const version = `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    // A same-size rewrite within the file system's timestamp tick keeps the version, so a file
    // changed in the last moments is read again regardless (it is small).
    if (version === this.version && Date.now() - s.mtimeMs > RECENT_MS) return;
    const tokens = parseTokens(await readFile(this.path, 'utf8'));
    this.digests = tokens.map(tokenDigest);
    if (version !== this.version) this.log.info('tokens.loaded', { path: this.path, count: tokens.length });
    this.version = version;
  }
}
