import { InfralogsError, parseCursor, parsePriorityRange } from '@infralogs/core';

/** A validated `/logs` query. */
export interface LogsQuery {
  /** Resume strictly after this cursor. */
  after: string | null;
  /** µs since the epoch, inclusive. */
  sinceUs: number | null;
  untilUs: number | null;
  /** Priority range, most severe first (0 emerg … 7 debug). */
  priority: { from: number; to: number } | null;
  unit: string | null;
  limit: number;
}

const PARAMS = new Set(['after', 'since', 'until', 'priority', 'unit', 'limit']);
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
/** Unit names (systemd.unit(5)): letters, digits, ":-_.\@", escapes like \x2d; no option look-alikes. */
const UNIT = /^[A-Za-z0-9:_.@\\][A-Za-z0-9:_.@\\-]{0,255}$/;

function bad(message: string, param: string): InfralogsError {
  return new InfralogsError('BAD_QUERY', message, { details: { param } });
}

/** An RFC 3339 time as µs since the epoch (fractions beyond µs are dropped). */
export function parseRfc3339(value: string, param: string): number {
  const m = RFC3339.exec(value);
  const n = (m ?? []).slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const [year, month, day, hour, minute, second] = n;
  const offsetMin = m && m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  const valid =
    m !== null &&
    year >= 1970 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= new Date(Date.UTC(year, month, 0)).getUTCDate() &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    Math.abs(offsetMin) < 24 * 60;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMin * 60_000;
  if (!valid || ms < 0) throw bad(`${param} must be an RFC 3339 time such as 2026-01-31T12:00:00Z`, param);
  return ms * 1000 + Number((m[7] ?? '').padEnd(6, '0').slice(0, 6));
}

/** `3`, `err` (that level and everything more severe) or `from..to` (e.g. `err..info`, `0..4`). */
export function parsePriority(value: string): { from: number; to: number } {
  const range = parsePriorityRange(value);
  if (!range) throw bad('priority must be 0-7, a name (emerg … debug) or a range from..to', 'priority');
  return range;
}

export function parseLogsQuery(
  params: URLSearchParams,
  limits: { limitDefault: number; limitMax: number },
): LogsQuery {
  for (const name of new Set(params.keys())) {
    if (!PARAMS.has(name)) throw bad(`unknown query parameter "${name.slice(0, 40)}"`, name.slice(0, 40));
    if (params.getAll(name).length > 1) throw bad(`query parameter "${name}" is given more than once`, name);
  }
  const get = (name: string) => {
    const v = params.get(name);
    return v === null || v === '' ? null : v;
  };

  const after = get('after');
  if (after !== null) parseCursor(after); // throws BAD_CURSOR
  const since = get('since');
  const until = get('until');
  const sinceUs = since === null ? null : parseRfc3339(since, 'since');
  const untilUs = until === null ? null : parseRfc3339(until, 'until');
  if (sinceUs !== null && untilUs !== null && sinceUs > untilUs)
    throw bad('since must not be after until', 'since');
  if (after !== null && sinceUs !== null) {
    // journalctl takes only one starting point; after already says where to resume.
    throw bad('after and since cannot be combined', 'since');
  }

  const priorityText = get('priority');
  const unit = get('unit');
  if (unit !== null && !UNIT.test(unit)) throw bad('unit must be a unit name such as ssh.service', 'unit');

  const limitText = get('limit');
  let limit = limits.limitDefault;
  if (limitText !== null) {
    limit = /^\d{1,9}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= limits.limitMax)) {
      throw bad(`limit must be an integer from 1 to ${limits.limitMax}`, 'limit');
    }
  }
  return {
    after,
    sinceUs,
    untilUs,
    priority: priorityText === null ? null : parsePriority(priorityText),
    unit,
    limit,
  };
}
