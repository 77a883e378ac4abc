/**
 * "Is what Vault has already what we want?" Vault echoes durations as seconds ("5m" → 300) and
 * adds fields of its own, so only the keys we set are compared, after normalising durations.
 */
const DURATION = /^(\d+)(s|m|h|d)?$/;
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function normalise(value: unknown): unknown {
  if (typeof value === 'string') {
    const m = DURATION.exec(value);
    return m ? Number(m[1]) * (UNIT[m[2] ?? 's'] ?? 1) : value;
  }
  if (Array.isArray(value)) return value.map(normalise);
  return value;
}

export function sameSettings(
  existing: Record<string, unknown> | undefined,
  desired: Record<string, unknown>,
): boolean {
  if (!existing) return false;
  return Object.entries(desired).every(
    ([key, value]) => JSON.stringify(normalise(existing[key])) === JSON.stringify(normalise(value)),
  );
}
