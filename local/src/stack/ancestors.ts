import { readFileSync } from 'node:fs';

/**
 * `npm start` runs `sh -c "… && tsx local/src/main.ts"`: a SIGTERM sent to npm reaches the shell,
 * which dies without passing it on, and the stack would run on as an orphan. So the stack also
 * stops when the processes it was started by go away. Linux /proc only; elsewhere this is a no-op.
 */
interface Ancestor {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a reused pid from the original process. */
  startTime: string;
}

function stat(pid: number): { ppid: number; startTime: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null;
    return { ppid: Number(fields[1]), startTime: fields[19] ?? '' };
  } catch {
    return null;
  }
}

/** This process's ancestors, nearest first, up to `depth`, never init (pid 1). */
export function ancestors(depth: number, pid = process.pid): Ancestor[] {
  const chain: Ancestor[] = [];
  let current = stat(pid)?.ppid ?? 0;
  while (current > 1 && chain.length < depth) {
    const s = stat(current);
    if (!s) break;
    chain.push({ pid: current, startTime: s.startTime });
    current = s.ppid;
  }
  return chain;
}

/** Calls `onGone` once when any of the nearest `depth` ancestors has exited. */
export function watchAncestors(onGone: () => void, options: { depth?: number; everyMs?: number } = {}) {
  const watched = ancestors(options.depth ?? 3);
  const timer = setInterval(() => {
    if (watched.some((a) => stat(a.pid)?.startTime !== a.startTime)) {
      clearInterval(timer);
      onGone();
    }
  }, options.everyMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
