import { readFile, stat } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { InfralogsError, type Logger } from '@infralogs/core';

/**
 * The agent's TLS material, from files: a certificate (chain) and its key, and optionally a CA
 * bundle that client certificates must chain to (mTLS). Like the tokens file, the files are
 * re-read when they change (inode, size, mtime or ctime), so a certificate is rotated by replacing
 * the files, without a restart: new connections get the new certificate, open ones keep theirs.
 * A pair that does not load (key not matching the certificate, a half-written file) is logged and
 * the last good pair is kept, so a rotation can never take the agent off the network.
 */
export interface TlsFilesConfig {
  certFile: string;
  keyFile: string;
  /** Client certificates are required and verified against this bundle when set. */
  clientCaFile: string | null;
}

/** How often the files are looked at. Handshakes never wait on the file system. */
export const TLS_CHECK_MS = 1000;

export class TlsFiles {
  private version = '';

  constructor(
    readonly config: TlsFilesConfig,
    private readonly log: Logger,
  ) {}

  private paths(): string[] {
    const { certFile, keyFile, clientCaFile } = this.config;
    return clientCaFile === null ? [certFile, keyFile] : [certFile, keyFile, clientCaFile];
  }

  private async currentVersion(): Promise<string> {
    const stats = await Promise.all(this.paths().map((p) => stat(p)));
    return stats.map((s) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`).join('|');
  }

  /** First read, at start-up: files that cannot be read or do not form a pair are CONFIG_INVALID. */
  async load(): Promise<SecureContextOptions> {
    try {
      this.version = await this.currentVersion();
      const options = await this.read();
      createSecureContext(options);
      return options;
    } catch (cause) {
      throw new InfralogsError(
        'CONFIG_INVALID',
        `AGENT_TLS_CERT_FILE/AGENT_TLS_KEY_FILE: cannot load ${this.paths().join(', ')}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  /** The new options when a file changed and the new set loads; null when nothing (usable) changed. */
  async changed(): Promise<SecureContextOptions | null> {
    let version: string;
    try {
      version = await this.currentVersion();
    } catch (err) {
      this.log.warn('tls.unreadable', { files: this.paths(), error: err });
      return null;
    }
    if (version === this.version) return null;
    try {
      const options = await this.read();
      createSecureContext(options);
      this.version = version;
      this.log.info('tls.reloaded', { certFile: this.config.certFile });
      return options;
    } catch (err) {
      // Not recorded as seen: the next look tries again (the writer may not be done yet).
      this.log.warn('tls.reload_failed', { certFile: this.config.certFile, error: err });
      return null;
    }
  }

  private async read(): Promise<SecureContextOptions> {
    const [cert, key, ca] = await Promise.all(this.paths().map((p) => readFile(p)));
    return ca === undefined ? { cert, key } : { cert, key, ca };
  }
}
