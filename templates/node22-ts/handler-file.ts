import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Where a function folder keeps its handler. Infralogs functions use `src/handler.ts`; a folder
 * made by `faas-cli new --lang node22-ts` has `handler.ts` at its top, as node22 has handler.js.
 * The image build, the wrapper and the local gateway all find the handler through this one list.
 */
export const HANDLER_CANDIDATES = ['src/handler.ts', 'handler.ts'] as const;

/** The handler file for `path`: the file itself, or the first candidate inside a function folder. */
export function findHandlerFile(path: string): string {
  const full = resolve(path);
  if (existsSync(full) && statSync(full).isFile()) return full;
  for (const candidate of HANDLER_CANDIDATES) {
    const file = join(full, candidate);
    if (existsSync(file)) return file;
  }
  throw new Error(`no handler in ${full} (looked for ${HANDLER_CANDIDATES.join(', ')})`);
}
