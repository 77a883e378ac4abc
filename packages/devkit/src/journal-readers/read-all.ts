import { execFileSync } from 'node:child_process';
import type { InvalidLine, JournalFields, JournalReader, LostField, ReaderHandlers } from '@infralogs/core';

/** journalctl's stdout as bytes (binary fields must not go through a string). */
export function journalctl(dir: string, ...args: string[]): Buffer {
  return execFileSync('journalctl', ['-D', dir, ...args], { maxBuffer: 512 * 1024 * 1024 });
}

/** Feeds `bytes` in chunks of the given sizes (cycled), then ends the reader. */
export function feed(reader: JournalReader, bytes: Buffer, sizes: number[]): void {
  let p = 0;
  for (let i = 0; p < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    reader.push(bytes.subarray(p, p + size));
    p += size;
  }
  reader.end();
}

/** Chunk sizes from a seeded generator, so a failing chunking can be replayed. */
export function randomSizes(seed: number, count: number, max: number): number[] {
  let x = seed;
  return Array.from({ length: count }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return 1 + (x % max);
  });
}

/** Reads a whole buffer with a reader; handy for tests and small inputs. */
export function readAll<R extends JournalReader>(
  make: (handlers: ReaderHandlers) => R,
  bytes: Buffer,
): { entries: JournalFields[]; invalid: InvalidLine[]; lost: LostField[] } {
  const entries: JournalFields[] = [];
  const invalid: InvalidLine[] = [];
  const lost: LostField[] = [];
  const reader = make({
    onEntry: (f) => entries.push(f),
    onInvalid: (p) => invalid.push(p),
    onLost: (l) => lost.push(l),
  });
  reader.push(bytes);
  reader.end();
  return { entries, invalid, lost };
}
