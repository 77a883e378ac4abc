/** What one host contributed to a run, as answered and as recorded. */
export interface HostSummary {
  host: string;
  fetched: number;
  inserted: number;
  duplicates: number;
  /** The host's checkpoint after the run (null when it has none yet or it is unknown). */
  cursor: string | null;
  /** True when fetch-host stopped at its time budget: the next run pulls the rest. */
  more?: true;
  error: { code: string; message: string } | null;
}

export type RunStatus = 'succeeded' | 'partial' | 'failed';

export interface RunSummary {
  runId: number;
  status: RunStatus;
  hosts: HostSummary[];
}

/** The error code of a host the run did not start: its time budget was spent. */
export const SKIPPED = 'SKIPPED';

/**
 * succeeded: every host was pulled without error (also when there were none); failed: every host
 * was pulled and failed; partial otherwise — some failed, or some were SKIPPED (not a failure,
 * but the run did not cover them: the next one does).
 */
export function runStatus(hosts: HostSummary[]): RunStatus {
  const failed = hosts.filter((h) => h.error !== null && h.error.code !== SKIPPED).length;
  const skipped = hosts.filter((h) => h.error?.code === SKIPPED).length;
  if (failed === 0 && skipped === 0) return 'succeeded';
  return failed === hosts.length ? 'failed' : 'partial';
}

/** A summary for a host whose fetch-host call produced no usable answer. */
export function failedHost(host: string, error: { code: string; message: string }): HostSummary {
  return { host, fetched: 0, inserted: 0, duplicates: 0, cursor: null, error };
}

/** A host the run did not start because its time budget was spent. */
export function skippedHost(host: string): HostSummary {
  return failedHost(host, { code: SKIPPED, message: 'time budget spent; next run continues' });
}
