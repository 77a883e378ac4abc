/**
 * Go durations as of-watchdog and the OpenFaaS gateway read them: "30m", "1m5s", "1.5h", "300ms";
 * a bare integer means seconds (of-watchdog's parseIntOrDurationValue).
 */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  while (part.lastIndex < value.length) {
    const m = part.exec(value);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return value.length > 0 ? total : undefined;
}
